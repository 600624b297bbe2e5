"""The SASL_SSL option of the local stack, and the one-line connection failures."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from kafkaval.config import load_settings
from kafkaval.errors import KafkavalError, UsageError
from kafkaval.kafka_client import _connection_failure
from stack import kafka, local, security


def _settings(tmp_path: Path, **kw: Any) -> Any:
    base = load_settings(environ={}, config_path=_empty(tmp_path))
    return dataclasses.replace(base, state_dir=str(tmp_path / "state"), **kw)


def _empty(tmp_path: Path) -> Path:
    cfg = tmp_path / "empty.toml"
    cfg.write_text("")
    return cfg


def test_unknown_security_mode_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="stack_security must be one of none, sasl_ssl"):
        load_settings(environ={"KAFKAVAL_STACK_SECURITY": "tls"}, config_path=_empty(tmp_path))


def test_material_is_made_once_and_chains_to_the_ca(tmp_path: Path) -> None:
    material = security.material_of(tmp_path)
    security.ensure_material(material)
    password = material.password()
    assert len(password) >= 24 and material.password_file.stat().st_mode & 0o077 == 0
    keystore = material.keystore.read_text()
    assert "PRIVATE KEY" in keystore and "BEGIN CERTIFICATE" in keystore
    assert "ENCRYPTED" not in keystore  # Kafka's PEM keystore without a key password
    cert = tmp_path / "security" / "broker.pem"
    verify = subprocess.run(
        ["openssl", "verify", "-CAfile", str(material.ca), str(cert)], capture_output=True
    )
    assert verify.returncode == 0, verify.stderr
    text = subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-noout", "-text"], capture_output=True, text=True
    ).stdout
    assert "IP Address:127.0.0.1" in text
    before = material.ca.read_text()
    security.ensure_material(material)  # kept across restarts: clients keep trusting it
    assert material.password() == password and material.ca.read_text() == before


def test_client_toml_holds_no_secret_and_loads(tmp_path: Path) -> None:
    material = security.material_of(tmp_path)
    security.ensure_material(material)
    security.write_client_toml(material, {"bootstrap_servers": "127.0.0.1:1"})
    assert material.password() not in material.client_toml.read_text()
    raw = tomllib.loads(material.client_toml.read_text())
    assert raw["kafka"]["sasl.password"] == f"@file:{material.password_file}"
    settings = load_settings(material.client_toml, environ={})
    assert settings.client_config() == {
        "bootstrap.servers": "127.0.0.1:1",
        **security.client_props(material),
    }


def test_secured_server_properties(tmp_path: Path) -> None:
    s = _settings(tmp_path, brokers=3, stack_security="sasl_ssl")
    brokers = kafka.brokers_of(s)
    material = security.material_of(tmp_path)
    props = dict(
        line.split("=", 1)
        for line in kafka.server_properties(brokers[1], brokers, material).splitlines()
    )
    b = brokers[1]
    internal = b.controller_port + security.INTERNAL_PORT_OFFSET
    assert props["listeners"] == (
        f"SASL_SSL://127.0.0.1:{b.port},INTERNAL://127.0.0.1:{internal},"
        f"CONTROLLER://127.0.0.1:{b.controller_port}"
    )
    assert props["advertised.listeners"].startswith(f"SASL_SSL://127.0.0.1:{b.port},")
    assert props["inter.broker.listener.name"] == "INTERNAL"
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["ssl.keystore.location"] == str(material.keystore)
    assert not any("password" in k for k in props)  # no broker file holds a password
    plain = kafka.server_properties(b, brokers)
    assert "SASL" not in plain and "PLAINTEXT://127.0.0.1" in plain


def test_local_settings_of_a_secured_stack(tmp_path: Path) -> None:
    s = _settings(tmp_path, stack_security="sasl_ssl", kafka={"client.id": "x"})
    with pytest.raises(KafkavalError, match="stack up --security sasl_ssl"):
        local.local_settings(s)
    material = security.material_of(s.path("state_dir"))
    security.ensure_material(material)
    cfg = local.local_settings(s).client_config()
    assert cfg["security.protocol"] == "SASL_SSL" and cfg["client.id"] == "x"
    assert cfg["sasl.password"] == material.password()


def test_a_stack_made_plain_is_not_started_secured(tmp_path: Path) -> None:
    s = _settings(tmp_path, stack_security="sasl_ssl")
    data = kafka.brokers_of(s)[0].data_dir
    data.mkdir(parents=True)
    (data / "meta.properties").write_text("")
    (s.path("state_dir") / "stack.json").write_text(json.dumps({"brokers": 1}))
    with pytest.raises(KafkavalError, match="made with security none, not sasl_ssl"):
        local.up(s)


class _Err:
    def __init__(self, code: int, text: str) -> None:
        self._code, self._text = code, text

    def code(self) -> int:
        return self._code

    def str(self) -> str:
        return self._text


def test_connection_failures_are_one_line_naming_the_cause() -> None:
    from confluent_kafka import KafkaError

    cfg = {"bootstrap.servers": "h:1", "security.protocol": "SASL_SSL", "sasl.password": "pw"}
    auth = _Err(
        KafkaError._AUTHENTICATION,
        "sasl_ssl://h:1/bootstrap: SASL authentication error: invalid credentials",
    )
    msg = _connection_failure(cfg, [auth], [])
    assert msg.startswith("Kafka at h:1 refused the client's SASL authentication")
    assert "(SASL authentication error: invalid credentials)" in msg and "\n" not in msg
    tls = _Err(KafkaError._SSL, "sasl_ssl://h:1/bootstrap: SSL handshake failed: verify failed")
    assert "set ssl.ca.location" in _connection_failure(cfg, [tls], [])
    hung_up = ["FAIL [rdkafka#producer-1] [thrd:h:1/bootstrap]: h:1/bootstrap: Disconnected: "
               "connection closed by peer: receive 0 after POLLIN"]  # fmt: skip
    plain = _connection_failure({"bootstrap.servers": "h:1"}, [], hung_up)
    assert "probably a TLS listener" in plain
    ssl_only = _connection_failure({**cfg, "security.protocol": "ssl"}, [], hung_up)
    assert "probably expects SASL" in ssl_only
    nothing = _connection_failure({"bootstrap.servers": "h:1"}, [], [])
    assert "is not reachable with security.protocol=PLAINTEXT (no answer)" in nothing


def test_connect_worker_of_the_secured_stack_names_the_password_file(tmp_path: Path) -> None:
    from cdc.config import CdcConfig
    from cdc.connect import worker_properties

    s = _settings(tmp_path, stack_security="sasl_ssl")
    material = security.material_of(s.path("state_dir"))
    security.ensure_material(material)
    text = worker_properties(local.local_settings(s), CdcConfig(), tmp_path)
    props = dict(line.split("=", 1) for line in text.splitlines())
    assert material.password() not in text
    for prefix in ("", "producer.", "consumer.", "admin."):
        assert props[prefix + "security.protocol"] == "SASL_SSL"
        assert (
            f'password="${{dir:{material.folder}:client.password}}"'
            in props[prefix + "sasl.jaas.config"]
        )
        assert props[prefix + "ssl.truststore.location"] == str(material.ca)
    assert props["config.providers"] == "dir"
    # Kafka's DirectoryConfigProvider reads the file whole: no trailing newline.
    assert material.password_file.read_text() == material.password()


def test_connect_worker_refuses_another_secured_kafka(tmp_path: Path) -> None:
    from cdc.config import CdcConfig
    from cdc.connect import worker_properties
    from cdc.errors import CdcError

    s = _settings(tmp_path, kafka={"security.protocol": "SASL_SSL"})
    with pytest.raises(CdcError, match="attach with connect_url"):
        worker_properties(s, CdcConfig(), tmp_path)
    assert "security.protocol" not in worker_properties(_settings(tmp_path), CdcConfig(), tmp_path)


def test_check_clients_tries_each_role_with_its_own_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kafkaval import kafka_client

    seen: list[dict[str, Any]] = []

    def fake(config: dict[str, Any], timeout: float) -> int:
        seen.append(dict(config))
        if config.get("sasl.password") == "stale":
            raise KafkavalError("Kafka at h:1 refused the client's SASL authentication")
        return 1

    monkeypatch.setattr(kafka_client, "check_connection", fake)
    s = _settings(tmp_path, kafka={"sasl.password": "ok"})
    assert kafka_client.check_clients(s) == 1 and len(seen) == 1  # no role of its own
    s = _settings(tmp_path, kafka={"sasl.password": "ok"}, consumer={"sasl.password": "stale"})
    with pytest.raises(KafkavalError, match=r"^with the \[consumer\] settings: Kafka at h:1"):
        kafka_client.check_clients(s)
