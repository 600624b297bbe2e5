"""``make bench-compare`` compares the two producers at equal client-side queue bounds."""

from __future__ import annotations

from loadgen.compare import BUFFER_BYTES, LOADGEN_PROPS, MAX_QUEUED_MESSAGES, PERF_TEST_PROPS
from loadgen.payloads import min_record_size


def test_both_queues_are_bounded_by_the_same_bytes() -> None:
    assert int(PERF_TEST_PROPS["buffer.memory"]) == BUFFER_BYTES
    assert int(LOADGEN_PROPS["queue.buffering.max.kbytes"]) * 1024 == BUFFER_BYTES
    # librdkafka's message cap never binds first, not even at the smallest record.
    assert int(LOADGEN_PROPS["queue.buffering.max.messages"]) == MAX_QUEUED_MESSAGES
    assert BUFFER_BYTES // min_record_size("raw") < MAX_QUEUED_MESSAGES
    # Everything else the two producers get is the same.
    shared = {k: v for k, v in LOADGEN_PROPS.items() if not k.startswith("queue.buffering")}
    assert shared == {k: v for k, v in PERF_TEST_PROPS.items() if k != "buffer.memory"}
