"""CDC-shaped payloads: envelope shape, exact size, header offsets."""

from __future__ import annotations

import json

import pytest

from kafkaval.errors import UsageError
from loadgen.payloads import TABLES, build_pool, make_value, min_record_size, read_header


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("size", [1024, 5120])
def test_envelope_shape_and_exact_size(table: str, size: int) -> None:
    pool = build_pool(table, size, entries=60)
    ops = set()
    for entry in pool:
        value = make_value(7, 123, 1_700_000_000_000_000, entry.tail)
        assert len(value) == size
        doc = json.loads(value)
        assert set(doc) == {"kafkaval", "before", "after", "source", "op", "ts_ms"}
        src = doc["source"]
        assert {"db", "schema", "table", "lsn", "ts_ms"} <= set(src)
        assert src["table"] == table and src["schema"] == "public"
        ops.add(doc["op"])
        row = doc["after"] or doc["before"]
        assert entry.key == str(row["id"]).encode()  # the key is the primary key
        if doc["op"] == "c":
            assert doc["before"] is None
        if doc["op"] == "d":
            assert doc["after"] is None
    assert ops == {"c", "u", "d"}


def test_header_round_trip_at_fixed_offsets() -> None:
    tail = build_pool("videos", 2048, entries=1)[0].tail
    value = make_value(12, 987654321, 1_733_000_000_123_456, tail)
    assert read_header(value) == (12, 987654321, 1_733_000_000_123_456)
    assert json.loads(value)["kafkaval"]["seq"] == "000987654321"
    assert read_header(b"something else") is None


def test_raw_payload_fits_small_sizes() -> None:
    size = min_record_size("raw")
    value = make_value(0, 1, 2, build_pool("users", size, kind="raw", entries=1)[0].tail)
    assert len(value) == size and json.loads(value)["kafkaval"]


def test_too_small_record_size_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="too small"):
        build_pool("videos", 100)
    with pytest.raises(UsageError, match="unknown payload kind"):
        build_pool("videos", 5120, kind="avro")


@pytest.mark.parametrize("kind", ["cdc", "raw"])
def test_a_size_distribution_gives_each_size_by_its_weight(kind: str) -> None:
    pool = build_pool("videos", 0, kind, entries=1000, sizes=((1024, 3.0), (4096, 1.0)))
    sizes = [len(make_value(1, n, 0, e.tail)) for n, e in enumerate(pool)]
    assert set(sizes) == {1024, 4096}
    assert 0.2 < sizes.count(4096) / len(sizes) < 0.3
    # One fixed size keeps the keys of before (its own random generator draws the sizes).
    fixed = build_pool("videos", 1024, kind, entries=50)
    assert [e.key for e in fixed] == [e.key for e in pool[:50]]
    with pytest.raises(UsageError, match="too small"):
        build_pool("videos", 0, kind, entries=1, sizes=((10, 1.0), (4096, 1.0)))
