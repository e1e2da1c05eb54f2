"""Small file helpers: atomic private writes and the change stamp."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path

from . import paths

__all__ = ["atomic_write", "touch_at", "touch_stamp"]


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write *data* to *path* via a temporary file and rename (never half-written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def touch_at(path: Path, ns: int, mode: int = 0o666) -> None:
    """Set *path*'s times to *ns* (one call when it exists); create it with *mode* if not."""
    try:
        os.utime(path, ns=(ns, ns))
    except FileNotFoundError:
        path.touch(mode=mode)
        os.utime(path, ns=(ns, ns))


def touch_stamp() -> None:
    """Tell every shell's hook, at its next prompt, that something changed.

    The hooks compare this file's mtime with their own reference using a shell
    builtin, so an idle prompt costs no process.
    """
    from .errors import OrenvError

    with contextlib.suppress(OSError, OrenvError):
        stamp = paths.ensure_runtime_dir() / "stamp"
        touch_at(stamp, time.time_ns())
