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


SECRET = "p@ss,w=rd;x"  # a comma and an "=" that must survive every layer


def test_nested_env_keys_take_the_value_whole(tmp_path: Path) -> None:
    env = {
        "KAFKAVAL_KAFKA": "sasl.username=old,sasl.password=old",
        "KAFKAVAL_KAFKA__SASL_PASSWORD": SECRET,
        "KAFKAVAL_KAFKA__SSL_CIPHER_SUITES": "A,B",
        "KAFKAVAL_PRODUCER__LINGER_MS": "5",
        "KAFKAVAL_CONSUMER__": "ignored: no property name",
    }
    s = load_settings(environ=env, config_path=_empty(tmp_path))
    assert s.kafka == {"sasl.username": "old", "sasl.password": SECRET, "ssl.cipher.suites": "A,B"}
    assert s.producer == {"linger.ms": "5"}
    assert s.consumer == {}


def test_comma_list_keeps_escaped_commas_and_equals(tmp_path: Path) -> None:
    env = {"KAFKAVAL_KAFKA": r"ssl.cipher.suites=A\,B,sasl.password=a=b"}
    s = load_settings(environ=env, config_path=_empty(tmp_path))
    assert s.kafka == {"ssl.cipher.suites": "A,B", "sasl.password": "a=b"}


def test_toml_dotted_keys_and_flags_keep_commas(tmp_path: Path) -> None:
    cfg = tmp_path / "k.toml"
    # Unquoted dotted keys are nested tables in TOML; they mean the property.
    cfg.write_text(
        f'[kafka]\nsecurity.protocol = "SASL_SSL"\n"sasl.password" = "{SECRET}"\n'
        "[consumer]\nfetch.wait.max.ms = 50\n"
    )
    s = load_settings(
        cfg, environ={}, overrides={"kafka": parse_props([f"sasl.username={SECRET}"])}
    )
    assert s.kafka == {
        "security.protocol": "SASL_SSL",
        "sasl.password": SECRET,
        "sasl.username": SECRET,
    }
    assert s.consumer == {"fetch.wait.max.ms": "50"}


def test_secret_from_file_and_env_references(tmp_path: Path) -> None:
    secret_file = tmp_path / "pw"
    secret_file.write_text(SECRET + "\n")
    cfg = tmp_path / "k.toml"
    cfg.write_text(f'[kafka]\n"sasl.password" = "@file:{secret_file}"\n')
    env = {"KAFKAVAL_PRODUCER__SASL_PASSWORD": "@env:PERF_PW", "PERF_PW": "other" + SECRET}
    s = load_settings(cfg, environ=env)
    assert s.kafka["sasl.password"] == SECRET
    assert s.producer["sasl.password"] == "other" + SECRET
    flag = load_settings(
        environ={"PW": SECRET}, config_path=_empty(tmp_path), overrides={"kafka": {"x": "@env:PW"}}
    )
    assert flag.kafka == {"x": SECRET}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KAFKAVAL_KAFKA__SASL_PASSWORD": "@file:/nonexistent/pw"}, "names file /nonexistent/pw"),
        ({"KAFKAVAL_KAFKA__SASL_PASSWORD": "@env:NOPE"}, "environment variable NOPE"),
        ({"KAFKAVAL_KAFKA": SECRET}, "bad Kafka property number 1"),
    ],
)
def test_bad_secret_sources_name_the_cause_not_the_value(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    with pytest.raises(UsageError, match=message) as info:
        load_settings(environ=env, config_path=_empty(tmp_path))
    assert SECRET not in str(info.value)


def test_bad_property_table_value_is_not_printed(tmp_path: Path) -> None:
    cfg = tmp_path / "k.toml"
    cfg.write_text(f'kafka = "sasl.password={SECRET}"\nproducer = ["{SECRET}"]\n')
    with pytest.raises(UsageError, match="bad value a list for producer") as info:
        load_settings(cfg, environ={})
    assert SECRET not in str(info.value)


def _empty(tmp_path: Path) -> Path:
    cfg = tmp_path / "empty.toml"
    cfg.write_text("")
    return cfg


def test_the_documented_secured_cluster_example_loads(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
    example = doc.split("# kafkaval.toml\n", 1)[1].split("```", 1)[0]
    cfg = tmp_path / "kafkaval.toml"
    cfg.write_text(example)
    s = load_settings(cfg, environ={"KAFKA_PERF_PASSWORD": SECRET})
    assert s.client_config()["sasl.password"] == SECRET
    assert s.client_config()["security.protocol"] == "SASL_SSL"
    assert s.topic_prefix == "perftest."
