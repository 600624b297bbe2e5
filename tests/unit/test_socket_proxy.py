"""The socket proxy's rule: the exporter's reads pass (rebuilt, cut down), the rest is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from exporter.socket_proxy import Refused, _address, checked_request

CID = "5ea0553a17b586b50871558369700bd3d9f47e380c7f94ea2baf08b95eedf899"
FILTERS = "%7B%22label%22%3A+%5B%22a%3Db%22%5D%7D"


@pytest.mark.parametrize(
    ("target", "forwarded"),
    [
        ("/_ping", "/_ping"),
        ("/v1.41/version", "/v1.41/version"),
        # docker-py's list, as the exporter asks it
        (
            f"/v1.41/containers/json?limit=-1&all=1&size=0&trunc_cmd=0&filters={FILTERS}",
            f"/v1.41/containers/json?limit=-1&all=1&size=0&trunc_cmd=0&filters={FILTERS}",
        ),
        (f"/v1.41/containers/{CID}/json", f"/v1.41/containers/{CID}/json"),
        ("/v1.41/containers/kafkaval-broker-1/json", "/v1.41/containers/kafkaval-broker-1/json"),
        # docker-py's stats(stream=False, one_shot=True), and without one-shot
        (
            f"/v1.41/containers/{CID}/stats?stream=False&one-shot=True",
            f"/v1.41/containers/{CID}/stats?stream=0&one-shot=1",
        ),
        (f"/containers/{CID}/stats?stream=0", f"/containers/{CID}/stats?stream=0"),
    ],
)
def test_the_exporters_reads_pass_as_checked(target: str, forwarded: str) -> None:
    for method in ("GET", "HEAD"):
        assert checked_request(method, target)[0] == forwarded


@pytest.mark.parametrize(
    ("method", "target", "why"),
    [
        ("POST", "/v1.41/containers/create", "POST is refused"),
        ("POST", f"/v1.41/containers/{CID}/kill", "POST is refused"),
        ("DELETE", f"/v1.41/containers/{CID}", "DELETE is refused"),
        ("GET", f"/v1.41/containers/{CID}/logs", "logs is refused"),
        ("GET", f"/v1.41/containers/{CID}/archive?path=/etc", "archive is refused"),
        ("GET", "/v1.41/images/json", "images/json is refused"),
        ("GET", "/v1.41/secrets", "secrets is refused"),
        ("GET", "/v1.41/containers/../secrets", "is refused"),
        ("GET", "/v1.41/containers/../json", "is refused"),
        ("GET", "/v1.41/containers/json\n", "printable ASCII"),
        ("GET", "http://docker/v1.41/version", "absolute path"),
        ("GET", f"/v1.41/containers/{CID}/stats", "streaming stats are refused"),
        ("GET", f"/v1.41/containers/{CID}/stats?stream=1", "streaming stats are refused"),
        # The engine reads the first of repeated keys, Python the last: refused.
        ("GET", f"/v1.41/containers/{CID}/stats?stream=1&stream=0", "repeated stream"),
        # Go keeps "#..." in the query (it would read stream as "0#", true).
        ("GET", f"/v1.41/containers/{CID}/stats?stream=0#", "without a fragment"),
        ("GET", f"/v1.41/containers/{CID}/json?size=1&x=1", "query key x"),
    ],
)
def test_everything_else_is_refused_with_its_reason(method: str, target: str, why: str) -> None:
    with pytest.raises(Refused, match=why) as e:
        checked_request(method, target)
    assert "\n" not in str(e.value)


def test_answers_are_cut_to_what_the_exporter_reads() -> None:
    _, cut = checked_request("GET", f"/v1.41/containers/{CID}/json")
    assert cut is not None
    info = {
        "Id": CID, "Name": "/db", "RestartCount": 2, "State": {"Running": True},
        "Config": {"Image": "postgres", "Env": ["POSTGRES_PASSWORD=secret"], "Cmd": ["x"]},
        "HostConfig": {"Memory": 1024, "Binds": ["/:/host"]}, "Mounts": [{"Source": "/"}],
    }  # fmt: skip
    view = cut(info)
    assert "secret" not in repr(view) and "Mounts" not in view and "Binds" not in repr(view)
    assert view["Config"] == {"Image": "postgres"} and view["HostConfig"] == {"Memory": 1024}
    assert (view["Name"], view["RestartCount"], view["State"]) == ("/db", 2, {"Running": True})
    _, cut = checked_request("GET", "/v1.41/containers/json?all=1")
    assert cut is not None
    listed = cut([{"Id": CID, "Names": ["/db"], "Labels": {}, "Command": "run --password=x"}])
    assert listed == [{"Id": CID, "Names": ["/db"], "Labels": {}}]
    assert checked_request("GET", f"/containers/{CID}/stats?stream=0")[1] is None


def test_listen_address_is_checked() -> None:
    assert _address("0.0.0.0:2375") == ("0.0.0.0", 2375)
    for bad in ("2375", "host:", "host:99999", "host:port"):
        with pytest.raises(Exception, match="HOST:PORT"):
            _address(bad)


@pytest.fixture
def proxy_without_engine(tmp_path: Path) -> Iterator[int]:
    """The proxy on a free port, its engine socket a path where nothing listens."""
    import threading

    from exporter.socket_proxy import serve

    server = serve(("127.0.0.1", 0), str(tmp_path / "no-engine.sock"))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _exchange(port: int, raw: bytes) -> bytes:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(raw)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_a_refused_request_with_a_body_ends_the_connection(proxy_without_engine: int) -> None:
    # The body is itself a request: it must not be answered as the next one.
    inner = b"GET /v1.41/_ping HTTP/1.1\r\nHost: x\r\n\r\n"
    raw = (
        b"POST /v1.41/containers/create HTTP/1.1\r\nHost: x\r\n"
        + f"Content-Length: {len(inner)}\r\n\r\n".encode()
        + inner
    )
    answer = _exchange(proxy_without_engine, raw)
    assert answer.count(b"HTTP/1.1 ") == 1 and answer.startswith(b"HTTP/1.1 403")
    assert b"Connection: close" in answer and b"with a body is refused" in answer


def test_an_engine_that_does_not_answer_is_a_502_naming_it(proxy_without_engine: int) -> None:
    answer = _exchange(
        proxy_without_engine, b"GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 502") and b"the engine did not answer" in answer
