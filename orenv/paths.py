"""Every location orenv reads or writes, resolved from the XDG variables.

Tests point HOME and the XDG variables at a temporary directory; nothing here
caches, so a changed environment takes effect at once.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = [
    "POLICY_NAME",
    "cache_dir",
    "config_dir",
    "config_file",
    "data_dir",
    "ensure_private_dir",
    "ensure_runtime_dir",
    "private_dir_state",
    "runtime_candidates",
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


def runtime_candidates() -> list[Path]:
    """Where the runtime directory (socket, stamps) may be, in order of preference.

    ``$XDG_RUNTIME_DIR/orenv``; ``${TMPDIR:-/tmp}/orenv-UID``; and, when another
    user squatted that name first in a shared /tmp (or it is otherwise unsafe),
    ``$XDG_STATE_HOME/orenv/run`` in the user's own home. The hooks pick the
    same one with builtins (``shell/hook.*``: ``__orenv_rtdir``).
    """
    out = []
    xdg = os.environ.get("XDG_RUNTIME_DIR", "")
    if xdg and os.path.isabs(xdg):
        out.append(Path(xdg) / "orenv")
    tmp = os.environ.get("TMPDIR", "")
    out.append(Path(tmp if tmp and os.path.isabs(tmp) else "/tmp") / f"orenv-{os.getuid()}")  # noqa: S108
    out.append(state_dir() / "run")
    return out


def _base_ok(base: Path) -> bool:
    """A directory another user cannot rename our entries in: ours, or sticky (/tmp)."""
    try:
        st = os.stat(base)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and (st.st_uid == os.getuid() or bool(
        st.st_mode & stat.S_ISVTX))


def private_dir_state(path: Path) -> str:
    """``ok`` (ours, a real directory, 0700, in a safe parent), ``absent`` or ``bad``."""
    if not _base_ok(path.parent):
        return "bad"
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return "absent"
    except OSError:
        return "bad"
    if (not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid()
            or st.st_mode & 0o077):
        return "bad"
    return "ok"


def _creatable(path: Path) -> bool:
    """Whether *path* can be made here: its nearest existing ancestor is writable."""
    p = path.parent
    while not os.path.lexists(p):
        if p.parent == p:
            return False
        p = p.parent
    return os.access(p, os.W_OK | os.X_OK)


def _runtime_choice() -> tuple[Path, str]:
    cands = runtime_candidates()
    for i, cand in enumerate(cands):
        last = i == len(cands) - 1
        # The last one lives in the user's own home: its parents may be made.
        state = private_dir_state(cand) if not last or cand.parent.is_dir() else "absent"
        if state == "ok" or (state == "absent" and _creatable(cand)):
            return cand, state
    return cands[-1], "bad"


def runtime_dir() -> Path:
    """Per-user runtime directory (socket, stamps): the user's own, never shared.

    The first candidate that is private already, or that can be made here; a
    candidate another user created first (a shared /tmp) is passed over.
    """
    return _runtime_choice()[0]


def ensure_runtime_dir() -> Path:
    """``runtime_dir()``, created 0700 if needed; raises when none is private."""
    from .errors import OrenvError

    for _ in range(3):  # someone may create a candidate between the check and the mkdir
        cand, state = _runtime_choice()
        if state == "ok":
            return cand
        if state == "bad":
            break
        cand.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            os.mkdir(cand, 0o700)
        except FileExistsError:
            continue
        except OSError:
            break
        if private_dir_state(cand) == "ok":
            return cand
    raise OrenvError(
        f"no private runtime directory: {', '.join(map(str, runtime_candidates()))} are "
        "all taken by another user or not writable; set XDG_RUNTIME_DIR to a directory "
        "only you can write")


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
