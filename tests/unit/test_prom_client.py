"""PromClient: step choice under the point limit, answers parsed, errors as one line."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from kafkaval.prom_client import MAX_POINTS, PromClient, PrometheusError, choose_step


class FakeResponse:
    def __init__(self, status: int, body: Any) -> None:
        self.status_code = status
        self._body = body
        self.ok = status < 400

    def json(self) -> Any:
        if isinstance(self._body, Exception):
            raise self._body
        return self._body


class FakeSession:
    """Stands in for requests.Session: records calls, returns a canned answer."""

    def __init__(self, answer: FakeResponse | Exception) -> None:
        self.answer = answer
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def get(self, url: str, params: dict[str, Any] | None = None, timeout: float = 0) -> Any:
        self.calls.append((url, params or {}))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.mark.parametrize("seconds", [1, 60, 3600, 86400, 30 * 86400])
def test_step_keeps_points_under_limits(seconds: int) -> None:
    step = choose_step(0, seconds, min_step=2.0)
    assert step >= 2.0
    assert seconds / step + 1 <= 1000 <= MAX_POINTS


def test_step_never_exceeds_prometheus_limit_even_if_asked() -> None:
    step = choose_step(0, 86400, min_step=0.001, max_points=50_000)
    assert 86400 / step + 1 <= MAX_POINTS


def test_step_rejects_inverted_window() -> None:
    with pytest.raises(ValueError):
        choose_step(10, 5)


def test_instant_query_parses_vector_and_sends_time() -> None:
    body = {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [{"metric": {"name": "b"}, "value": [1, "2.5"]}],
        },
    }
    session = FakeSession(FakeResponse(200, body))
    result = PromClient("http://127.0.0.1:1/", session=session).query("up", at=1700000000.5)
    assert result[0].labels == {"name": "b"} and result[0].value == 2.5
    url, params = session.calls[0]
    assert url == "http://127.0.0.1:1/api/v1/query"
    assert params == {"query": "up", "time": "1700000000.500"}


def test_range_query_chooses_step() -> None:
    body = {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [{"metric": {}, "values": [[0, "1"], [2, "3"]]}],
        },
    }
    session = FakeSession(FakeResponse(200, body))
    series = PromClient("http://x", session=session).query_range("up", 0, 7200, min_step=2)
    assert series[0].points == [(0.0, 1.0), (2.0, 3.0)]
    params = session.calls[0][1]
    assert float(params["step"]) == choose_step(0, 7200, 2)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (requests.ConnectionError("refused"), "unreachable (ConnectionError)"),
        (requests.Timeout("slow"), "unreachable (Timeout)"),
        (FakeResponse(404, ValueError("not json")), "HTTP 404 without JSON"),
        (
            FakeResponse(400, {"status": "error", "error": "parse error: unexpected }"}),
            "rejected 'up}': parse error",
        ),
    ],
)
def test_errors_become_one_line(answer: Any, expected: str) -> None:
    client = PromClient("http://127.0.0.1:9", session=FakeSession(answer))
    with pytest.raises(PrometheusError) as err:
        client.query("up}")
    assert expected in str(err.value)
    assert "\n" not in str(err.value)
    assert err.value.exit_code == 1
