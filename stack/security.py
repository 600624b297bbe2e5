"""The local stack's optional SASL_SSL listener (``kafkaval stack up --security sasl_ssl``).

Clients reach each broker on its usual port over SASL_SSL with SCRAM-SHA-512,
the way a staging or production cluster is secured. What that takes is made
once under ``<state_dir>/security/``:

- a throwaway CA (``ca.pem``; its key ``ca.key`` signs nothing else) and a
  broker certificate for 127.0.0.1/localhost signed by it, with its
  unencrypted key in one PEM keystore file (``broker-keystore.pem``), so no
  keystore password exists to leak;
- the SCRAM user ``kafkaval`` with a random password (``client.password``,
  mode 0600), written into the cluster metadata when the storage is formatted
  (``kafka-storage format --add-scram``), so the brokers hold only its salted hash
  (the format tool takes it only as an argument: it is on that short-lived
  process's command line, never in a file or log);
- ``client.toml``: the client settings, the password as an ``@file:`` reference.

Brokers talk to each other on a PLAINTEXT listener on 127.0.0.1 (``INTERNAL``,
controller port + 50) and the KRaft controller listener stays PLAINTEXT too:
secured is what clients reach, and no broker config file holds a password.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import subprocess
from pathlib import Path

from kafkaval.config import STACK_SECURITY_MODES
from kafkaval.errors import KafkavalError
from kafkaval.files import write_atomic
from stack.jars import require_tool

NONE, SASL_SSL = STACK_SECURITY_MODES
MECHANISM = "SCRAM-SHA-512"
USER = "kafkaval"
INTERNAL_PORT_OFFSET = 50
# Certificates of a local test stack: long enough for any stack that is kept.
CERT_DAYS = 825


@dataclasses.dataclass(frozen=True)
class Material:
    """The files of a secured stack, all under ``<state_dir>/security``."""

    folder: Path

    @property
    def ca(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca.key"

    @property
    def keystore(self) -> Path:
        return self.folder / "broker-keystore.pem"

    @property
    def password_file(self) -> Path:
        return self.folder / "client.password"

    @property
    def client_toml(self) -> Path:
        return self.folder / "client.toml"

    def password(self) -> str:
        """The SCRAM password of the stack's client user.

        Raises:
            KafkavalError: the stack was never started with ``--security sasl_ssl``.
        """
        try:
            return self.password_file.read_text().strip()
        except FileNotFoundError:
            raise KafkavalError(
                f"no SASL_SSL material in {self.folder}: start the stack with "
                "`kafkaval stack up --security sasl_ssl` (same state_dir)"
            ) from None


def material_of(state_dir: Path) -> Material:
    return Material(state_dir / "security")


def client_props(material: Material) -> dict[str, str]:
    """librdkafka properties of a client of the secured stack (password included)."""
    return {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": MECHANISM,
        "sasl.username": USER,
        "sasl.password": material.password(),
        "ssl.ca.location": str(material.ca),
    }


def ensure_material(material: Material) -> None:
    """Make the CA, broker certificate and password once (kept across restarts).

    Raises:
        KafkavalError: openssl is missing or failed (its output is named).
    """
    folder = material.folder
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    if not material.password_file.exists():
        # URL-safe characters only: the password goes into --add-scram's
        # [name=...,password=...] syntax unquoted. No trailing newline: Kafka
        # Connect's DirectoryConfigProvider reads the file whole.
        write_atomic(material.password_file, secrets.token_urlsafe(24))
        os.chmod(material.password_file, 0o600)
    if not (material.ca.exists() and material.keystore.exists()):
        _make_certificates(material)


def write_client_toml(material: Material, top: dict[str, str | int]) -> None:
    """``client.toml``: ``top`` (bootstrap servers, ...) and the client properties,
    the password as an ``@file:`` reference, so the file itself holds no secret."""
    props = {k: v for k, v in client_props(material).items() if k != "sasl.password"}
    props["sasl.password"] = f"@file:{material.password_file}"
    # JSON strings are valid TOML basic strings (quotes and backslashes escaped).
    lines = ["# kafkaval settings for this SASL_SSL stack: kafkaval ... --config FILE"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in top.items()]
    lines += ["", "[kafka]"] + [f"{json.dumps(k)} = {json.dumps(v)}" for k, v in props.items()]
    write_atomic(material.client_toml, "\n".join(lines) + "\n")


def _make_certificates(material: Material) -> None:
    openssl = require_tool("openssl", "install OpenSSL (Debian: apt-get install openssl)")
    folder = material.folder
    broker_key = folder / "broker.key"
    csr = folder / "broker.csr"
    cert = folder / "broker.pem"
    ext = folder / "broker.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    days = str(CERT_DAYS)
    steps = [
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(material.ca_key),
         "-out", str(material.ca), "-days", days, "-subj", "/CN=kafkaval local test CA"],
        [openssl, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
         "-out", str(broker_key)],
        [openssl, "req", "-new", "-key", str(broker_key), "-out", str(csr),
         "-subj", "/CN=127.0.0.1"],
        [openssl, "x509", "-req", "-in", str(csr), "-CA", str(material.ca),
         "-CAkey", str(material.ca_key), "-CAcreateserial", "-out", str(cert), "-days", days,
         "-extfile", str(ext)],
    ]  # fmt: skip
    for argv in steps:
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise KafkavalError(
                f"openssl {argv[1]} failed (exit {done.returncode}) making the stack's "
                f"certificates in {folder}: {last[:200]}"
            )
    # Kafka's PEM keystore: the private key (unencrypted PKCS#8) and the chain in one file.
    write_atomic(material.keystore, broker_key.read_text() + cert.read_text())
    for path in (material.ca_key, broker_key, material.keystore):
        os.chmod(path, 0o600)
    for path in (csr, ext):
        path.unlink(missing_ok=True)


def internal_port(controller_port: int) -> int:
    """The broker's inter-broker PLAINTEXT port on 127.0.0.1."""
    return controller_port + INTERNAL_PORT_OFFSET


def listener_properties(
    port: int, controller_port: int, material: Material
) -> dict[str, str | int]:
    """server.properties entries replacing the PLAINTEXT client listener by SASL_SSL."""
    internal = internal_port(controller_port)
    return {
        "listeners": f"SASL_SSL://127.0.0.1:{port},INTERNAL://127.0.0.1:{internal},"
        f"CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"SASL_SSL://127.0.0.1:{port},INTERNAL://127.0.0.1:{internal}",
        "inter.broker.listener.name": "INTERNAL",
        "listener.security.protocol.map": "SASL_SSL:SASL_SSL,INTERNAL:PLAINTEXT,"
        "CONTROLLER:PLAINTEXT",
        "sasl.enabled.mechanisms": MECHANISM,
        # The server side of SCRAM needs a login module; credentials live in
        # the cluster metadata (--add-scram), not here.
        f"listener.name.sasl_ssl.{MECHANISM.lower()}.sasl.jaas.config": (
            "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        ),
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(material.keystore),
        "ssl.client.auth": "none",
    }


def java_client_properties(material: Material) -> dict[str, str]:
    """Java client properties (Kafka Connect's worker) for the secured stack.

    The password is not in them: ``sasl.jaas.config`` names the password file
    through Kafka's ``DirectoryConfigProvider`` (``config.providers=...``, set
    once by the caller from ``JAVA_CONFIG_PROVIDERS``), so the worker's
    properties file holds no secret.
    """
    password = f"${{{JAVA_PROVIDER}:{material.folder}:{material.password_file.name}}}"
    return {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": MECHANISM,
        "sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{USER}" password="{password}";',
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(material.ca),
    }


JAVA_PROVIDER = "dir"
JAVA_CONFIG_PROVIDERS = {
    "config.providers": JAVA_PROVIDER,
    f"config.providers.{JAVA_PROVIDER}.class": (
        "org.apache.kafka.common.config.provider.DirectoryConfigProvider"
    ),
}


def format_arguments(material: Material) -> list[str]:
    """Extra ``kafka-storage format`` arguments: the client user's SCRAM credential."""
    return ["--add-scram", f"{MECHANISM}=[name={USER},password={material.password()}]"]
