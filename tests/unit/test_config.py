"""Configuration layering: defaults < file < environment < flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from kafkaval.config import Settings, load_settings, parse_props
from kafkaval.errors import UsageError


def test_defaults_without_file_or_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./kafkaval.toml here
    s = load_settings(environ={})
    assert s == Settings()
    assert s.client_config() == {"bootstrap.servers": "127.0.0.1:19092"}


def test_layers_in_order(tmp_path: Path) -> None:
    cfg = tmp_path / "k.toml"
    cfg.write_text(
        'bootstrap_servers = "file:9092"\nprometheus_url = "http://file:9090"\nbrokers = 3\n'
        '[kafka]\n"security.protocol" = "SASL_SSL"\n"sasl.mechanism" = "PLAIN"\n'
        '[producer]\nlinger_ms_is_not_checked = 5\n"enable.idempotence" = true\n'
    )
    env = {
        "KAFKAVAL_PROMETHEUS_URL": "http://env:9090",
        "KAFKAVAL_KAFKA": "sasl.username=alice,sasl.password=s3cret",
        "KAFKAVAL_METRICS_PORT": "20000",
    }
    s = load_settings(cfg, environ=env, overrides={"bootstrap_servers": "flag:9092"})
    assert s.bootstrap_servers == "flag:9092"  # flag beats file
    assert s.prometheus_url == "http://env:9090"  # env beats file
    assert s.brokers == 3  # file beats default
    assert s.metrics_port == 20000  # env string coerced to int
    # Dict layers merge: SASL settings from file and credentials from env both survive.
    assert s.client_config("producer") == {
        "bootstrap.servers": "flag:9092",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "PLAIN",
        "sasl.username": "alice",
        "sasl.password": "s3cret",
        "linger_ms_is_not_checked": "5",
        "enable.idempotence": "true",
    }
    assert "enable.idempotence" not in s.client_config("consumer")


def test_config_file_from_environment(tmp_path: Path) -> None:
    cfg = tmp_path / "k.toml"
    cfg.write_text('topic_prefix = "perf."\n')
    assert load_settings(environ={"KAFKAVAL_CONFIG": str(cfg)}).topic_prefix == "perf."


def test_flag_kafka_props_merge_over_file(tmp_path: Path) -> None:
    cfg = tmp_path / "k.toml"
    cfg.write_text('[kafka]\n"client.id" = "a"\n"acks" = "1"\n')
    s = load_settings(cfg, environ={}, overrides={"kafka": {"acks": "all"}})
    assert s.kafka == {"client.id": "a", "acks": "all"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("brokerz = 3\n", "unknown setting 'brokerz'"),
        ('brokers = "three"\n', "bad value 'three' for brokers"),
        ("brokers = 2\n", "brokers must be 1 or 3"),
        ("prometheus_port = 70000\n", "prometheus_port 70000 is not a usable TCP port"),
        ("scrape_interval = 0\n", "scrape_interval must be > 0"),
        ("brokers = [\n", "is not valid TOML"),
    ],
)
def test_bad_file_values_are_usage_errors(tmp_path: Path, text: str, message: str) -> None:
    cfg = tmp_path / "k.toml"
    cfg.write_text(text)
    with pytest.raises(UsageError, match=message.replace("[", r"\[")):
        load_settings(cfg, environ={})


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not found"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_bad_env_value() -> None:
    with pytest.raises(UsageError, match="KAFKAVAL_BROKER_PORT"):
        load_settings(environ={"KAFKAVAL_BROKER_PORT": "abc"})


@pytest.mark.parametrize("item", ["novalue", "=x", ""])
def test_bad_kafka_prop(item: str) -> None:
    with pytest.raises(UsageError, match="write key=value"):
        parse_props([item])
