"""Every location orenv reads or writes, resolved from the XDG variables.

Tests point HOME and the XDG variables at a temporary directory; nothing here
caches, so a changed environment takes effect at once.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "POLICY_NAME",
    "cache_dir",
    "config_dir",
    "config_file",
    "data_dir",
    "ensure_private_dir",
    "runtime_dir",
    "session_dir",
    "stamp_file",
    "state_dir",
    "trust_dir",
]

POLICY_NAME = ".orenv.toml"


def _home() -> Path:
    return Path(os.environ.get("HOME") or os.path.expanduser("~"))


def _xdg(var: str, default: str) -> Path:
    value = os.environ.get(var, "")
    # The XDG spec says relative values are invalid and must be ignored.
    if value and os.path.isabs(value):
        return Path(value) / "orenv"
    return _home() / default / "orenv"


def config_dir() -> Path:
    return _xdg("XDG_CONFIG_HOME", ".config")


def config_file() -> Path:
    return config_dir() / "config.toml"


def data_dir() -> Path:
    return _xdg("XDG_DATA_HOME", ".local/share")


def trust_dir() -> Path:
    return data_dir() / "trust"


def state_dir() -> Path:
    return _xdg("XDG_STATE_HOME", ".local/state")


def cache_dir() -> Path:
    return _xdg("XDG_CACHE_HOME", ".cache")


def runtime_dir() -> Path:
    """Per-user runtime directory (socket, stamps); 0700, never shared."""
    base = os.environ.get("XDG_RUNTIME_DIR", "")
    if base and os.path.isabs(base):
        return Path(base) / "orenv"
    # Fallback: a per-uid directory, created 0700 and owner-checked by ensure_private_dir.
    tmp = os.environ.get("TMPDIR", "/tmp")  # noqa: S108
    return Path(tmp) / f"orenv-{os.getuid()}"


def stamp_file() -> Path:
    """Touched whenever trust, keys or policies change through orenv itself."""
    return runtime_dir() / "stamp"


def session_dir() -> Path:
    return runtime_dir() / "sessions"


def ensure_private_dir(path: Path) -> Path:
    """Create *path* (and parents) as 0700 and refuse one owned by someone else."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = path.stat()
    if st.st_uid != os.getuid():
        from .errors import OrenvError

        raise OrenvError(f"{path} belongs to another user; remove it or set XDG_RUNTIME_DIR")
    if st.st_mode & 0o077:
        path.chmod(0o700)
    return path
