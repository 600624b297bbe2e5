"""Which properties are secrets, and that redaction reaches records, reprs and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kafkaval import cli
from kafkaval.config import load_settings
from kafkaval.errors import KafkavalError
from kafkaval.records import merge_scenario, save_run_record
from kafkaval.redact import REDACTED, is_secret, redact_props, redact_text, redact_tree

SECRET = "pa,ss=w0rd-42"


@pytest.mark.parametrize(
    "name",
    [
        "sasl.password",
        "SASL.PASSWORD",
        "ssl.key.password",
        "ssl.keystore.password",
        "ssl.key.pem",
        "ssl.keystore.location",
        "ssl.keystore.certificate.chain",
        "ssl_key",
        "sasl.jaas.config",
        "sasl.oauthbearer.config",
        "sasl.oauthbearer.client.id",
        "sasl.oauthbearer.client.secret",
        "sasl.oauthbearer.token.endpoint.url",
        "sasl.kerberos.keytab",
        "database.password",
        "pg_password",
        "api.token",
    ],
)
def test_secret_names(name: str) -> None:
    assert is_secret(name)


@pytest.mark.parametrize(
    "name",
    [
        "bootstrap.servers",
        "security.protocol",
        "sasl.mechanism",
        "sasl.username",
        "ssl.ca.location",
        "ssl.certificate.location",
        "acks",
        "key_space",
        "passed",
        "enable.ssl.certificate.verification",
    ],
)
def test_not_secret_names(name: str) -> None:
    assert not is_secret(name)


def test_redact_props_and_tree() -> None:
    props = {"sasl.username": "perf", "sasl.password": SECRET, "acks": "all"}
    assert redact_props(props) == {
        "sasl.username": "perf",
        "sasl.password": REDACTED,
        "acks": "all",
    }
    tree = {
        "a": [{"parameters": {"producer_props": props}}],
        "connector": {"database.password": "x"},
    }
    out = redact_tree(tree)
    assert SECRET not in json.dumps(out)
    assert out["a"][0]["parameters"]["producer_props"]["sasl.username"] == "perf"
    assert out["connector"]["database.password"] == REDACTED
    assert props["sasl.password"] == SECRET  # the input is not changed


def test_redact_text_replaces_every_occurrence_but_not_tiny_values() -> None:
    text = f"auth with {SECRET} failed; retry {SECRET}"
    assert redact_text(text, [SECRET]) == f"auth with {REDACTED} failed; retry {REDACTED}"
    assert redact_text("a cat sat", ["a"]) == "a cat sat"


def test_run_records_never_hold_a_secret(tmp_path: Path) -> None:
    record = {
        "run_id": "r1",
        "kind": "performance",
        "profiles": {"p": {"parameters": {"producer_props": {"sasl.password": SECRET}}}},
    }
    path = save_run_record(tmp_path, record)
    for f in (path, tmp_path / "latest-performance.json"):
        assert SECRET not in f.read_text()
        assert json.loads(f.read_text())["profiles"]["p"]["parameters"]["producer_props"] == {
            "sasl.password": REDACTED
        }
    entry = {
        "started_at": "2026-01-01T00:00:00.000Z",
        "ended_at": "2026-01-01T00:01:00.000Z",
        "passed": True,
        "connector": {"database.password": SECRET},
    }
    merged = merge_scenario(tmp_path, "connector-restart", entry)
    assert SECRET not in merged.read_text()


def test_settings_repr_redacts(tmp_path: Path) -> None:
    s = load_settings(
        environ={"KAFKAVAL_KAFKA__SASL_PASSWORD": SECRET}, config_path=_empty(tmp_path)
    )
    assert SECRET not in repr(s)
    assert "sasl.password" in repr(s)
    assert s.secret_values() == [SECRET]


def test_cli_error_lines_never_show_the_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KAFKAVAL_KAFKA__SASL_PASSWORD", SECRET)

    def boom(settings: object) -> list[object]:
        raise KafkavalError(f"broker said: bad credentials {SECRET}")

    monkeypatch.setattr("stack.local.status", boom)
    assert cli.main(["stack", "status", "--state-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert SECRET not in err
    assert f"bad credentials {REDACTED}" in err


def test_chaos_consumer_gets_secrets_by_environment_only(tmp_path: Path) -> None:
    from chaos.consumer_processes import consumer_process
    from chaos.verifiable_consumer import SECRET_PROPS_ENV

    settings = load_settings(
        environ={
            "KAFKAVAL_KAFKA__SASL_PASSWORD": SECRET,
            "KAFKAVAL_KAFKA__SASL_USERNAME": "perf",
            "KAFKAVAL_STATE_DIR": str(tmp_path / "state"),
        },
        config_path=_empty(tmp_path),
    )
    proc = consumer_process(settings, "consumer-k-g", "g", "t", tmp_path / "out", 60.0)
    assert SECRET not in " ".join(proc.argv)
    assert "sasl.username=perf" in proc.argv
    assert json.loads(proc.secret_env[SECRET_PROPS_ENV]) == {"sasl.password": SECRET}
    proc.save()
    assert SECRET not in proc.pid_file.read_text()


def _empty(tmp_path: Path) -> Path:
    cfg = tmp_path / "empty.toml"
    cfg.write_text("")
    return cfg
