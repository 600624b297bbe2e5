"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from kafkaval.errors import KafkavalError


def write_atomic(path: str | os.PathLike[str], data: str | bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and ``os.replace``.

    The temporary file sits in the same directory (same filesystem), is fsynced,
    and is removed if anything fails before the rename.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def ensure_writable_dir(
    path: str | os.PathLike[str], setting: str = "results_dir", keep: bool = True
) -> Path:
    """Create ``path`` if needed and prove a file can be written in it.

    Runs call this before any load, so a folder they cannot write is found
    before the run, not after it (when its record would be lost).

    Args:
        path: the folder.
        setting: the configuration field that names it, for the error's fix.
        keep: leave the folders it had to create; a preflight passes False so
            a run refused by a later check leaves nothing behind.

    Raises:
        KafkavalError: the folder cannot be created or written.
    """
    path = Path(path)
    created = [p for p in (path, *path.parents) if not p.exists()]
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test.", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise KafkavalError(
            f"folder {path} is not writable ({e.strerror}): fix its permissions or set {setting}"
        ) from None
    finally:
        if not keep:
            for folder in created:  # deepest first
                try:
                    folder.rmdir()
                except OSError:
                    break
    return path
