"""The socket proxy's rule: the exporter's reads pass, everything else is refused."""

from __future__ import annotations

import pytest

from exporter.socket_proxy import _address, refusal

CID = "5ea0553a17b586b50871558369700bd3d9f47e380c7f94ea2baf08b95eedf899"


@pytest.mark.parametrize(
    "target",
    [
        "/_ping",
        "/version",
        "/v1.41/version",
        "/v1.41/containers/json?all=1&filters=%7B%22label%22%3A+%5B%22a%3Db%22%5D%7D",
        f"/v1.41/containers/{CID}/json",
        "/v1.41/containers/kafkaval-broker-1/json",
        f"/v1.41/containers/{CID}/stats?stream=0&one-shot=1",
        f"/containers/{CID}/stats?stream=False",
    ],
)
def test_the_exporters_reads_pass(target: str) -> None:
    assert refusal("GET", target) is None
    assert refusal("HEAD", target) is None


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
        ("GET", f"/v1.41/containers/{CID}/stats", "streaming stats are refused"),
        ("GET", f"/v1.41/containers/{CID}/stats?stream=1", "streaming stats are refused"),
    ],
)
def test_everything_else_is_refused_with_its_reason(method: str, target: str, why: str) -> None:
    reason = refusal(method, target)
    assert reason is not None and why in reason and "\n" not in reason


def test_listen_address_is_checked() -> None:
    assert _address("0.0.0.0:2375") == ("0.0.0.0", 2375)
    for bad in ("2375", "host:", "host:99999", "host:port"):
        with pytest.raises(Exception, match="HOST:PORT"):
            _address(bad)
