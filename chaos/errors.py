"""The exception of the chaos package: one line naming cause and fix."""

from __future__ import annotations

from kafkaval.errors import KafkavalError, UsageError


class ChaosError(KafkavalError):
    """A fault could not be applied or undone, or a target misbehaved; exit code 1."""


class TargetNotAllowed(UsageError):
    """A target outside the stack and ``settings.chaos_targets``; exit code 2."""
