"""Atomic file output: a failed or interrupted write leaves the previous file intact.

Data goes to a temporary file in the target's directory, is flushed to disk, and then renamed
over the target (atomic on POSIX and Windows); on any failure the temporary file is removed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from archspec.errors import OutputError


def write_atomic(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        reason = "a file is in the way" if _file_in_way(path.parent) else _reason(exc)
        raise OutputError(
            str(path.parent), f"cannot write here ({reason})", "choose another --out directory"
        ) from None
    try:
        with open(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(
            str(path), f"cannot write ({_reason(exc)})", "check the disk and the permissions"
        ) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def _file_in_way(directory: Path) -> bool:
    """True when the directory, or one of its parents, exists as something else (a file)."""
    return any(p.exists() and not p.is_dir() for p in (directory, *directory.parents))
