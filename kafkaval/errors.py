"""The exception base of the project.

Every error a user can cause or meet (bad input, a missing tool, a broker that
does not answer) is a `KafkavalError` with a message that names the cause and
the fix in one line. The CLI prints that line and exits with `exit_code`;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class KafkavalError(Exception):
    """A failure to report in one line; exit code 1 (runtime failure)."""

    exit_code = 1


class UsageError(KafkavalError):
    """Bad input from the user (flags, config file, environment); exit code 2."""

    exit_code = 2


class CheckFailed(KafkavalError):
    """A suite ran and at least one threshold or bound failed; exit code 1."""

    exit_code = 1
