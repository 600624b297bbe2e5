"""Keeping secrets out of everything kafkaval writes or prints.

One rule decides which client property is a secret (``is_secret``): its name
says so (password, secret, token, jaas, credentials, private key material,
any ``sasl.oauthbearer.*``). Every place that records or prints client
settings goes through ``redact_props`` (or ``redact_tree`` for a whole run
record), and error text that may quote a value goes through ``redact_text``
with the secret values of the settings in force.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "[redacted]"

# Substrings of a property name that mark its value as a secret.
_MARKERS = ("password", "secret", "token", "jaas", "credential", "private")
# Key material: the value is (or unlocks) a private key.
_KEY_MATERIAL = ("ssl.key.", "ssl_key", "ssl.keystore.", "ssl.key.pem", "sasl.kerberos.keytab")
_PREFIXES = ("sasl.oauthbearer.",)

# A secret shorter than this is not searched for in free text: replacing every
# "a" in a message would hide the message, not the secret (a password that
# short is no protection anyway).
_MIN_TEXT_SECRET = 4


def is_secret(name: str) -> bool:
    """True when a property called ``name`` holds a secret (case-insensitive)."""
    n = name.strip().lower()
    return (
        any(m in n for m in _MARKERS)
        or any(m in n for m in _KEY_MATERIAL)
        or n.startswith(_PREFIXES)
    )


def redact_props(props: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``props`` with every secret property's value replaced by ``[redacted]``."""
    return {k: (REDACTED if is_secret(str(k)) else v) for k, v in props.items()}


def redact_tree(value: Any) -> Any:
    """``value`` (JSON-like: dicts, lists, scalars) with secret-named keys redacted at any depth."""
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if is_secret(str(k)) and v not in (None, "") else redact_tree(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_tree(v) for v in value]
    return value


def secret_values(*prop_maps: Mapping[str, str]) -> list[str]:
    """The values of the secret properties in ``prop_maps`` (for ``redact_text``)."""
    return [str(v) for m in prop_maps for k, v in m.items() if is_secret(k) and v]


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each of ``secrets`` replaced by ``[redacted]``."""
    for secret in sorted({s for s in secrets if len(s) >= _MIN_TEXT_SECRET}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text
