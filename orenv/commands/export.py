"""`orenv export SHELL`: shell code for the current directory (the hook runs it).

Only shell code reaches stdout; problems become one message line the hook
prints once. The hook has already restored the environment orenv had
replaced, so the environment seen here is the user's own.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import paths, shells, snapshot
from .._fsutil import touch_at
from .._text import safe
from ..activation import Activation, compute
from ..config import load_config
from ..errors import OrenvError
from ._common import cwd

__all__ = ["register", "render", "session_ref"]

_SESSION_RE = re.compile(r"^[0-9]{1,10}\Z")


def session_ref(session: str | None, ref_ns: int) -> str:
    """Write the session's reference file with mtime *ref_ns* (see ``snapshot``).

    The hook reloads when a watched file is strictly newer than this file.
    """
    if not session or not _SESSION_RE.match(session):
        return ""
    try:
        runtime = paths.ensure_runtime_dir()
        sdir = paths.ensure_private_dir(runtime / "sessions")
        stamp = runtime / "stamp"
        if not stamp.exists():
            stamp.touch()
        ref = sdir / session
        is_new = not ref.exists()
        touch_at(ref, ref_ns)
        if is_new:
            _prune(sdir)
        return str(ref)
    except (OSError, OrenvError):
        return ""  # no private place for it: the hook then asks again at each prompt


def _prune(sdir: Path) -> None:
    """Drop reference files of shells that are gone (cheap, on new sessions only)."""
    for entry in sdir.iterdir():
        if not _SESSION_RE.match(entry.name):
            continue
        try:
            os.kill(int(entry.name), 0)
        except ProcessLookupError:
            with contextlib.suppress(OSError):
                entry.unlink()
        except (PermissionError, ValueError, OverflowError):
            pass


def render(shell: shells.Shell, act: Activation, ref: str, quiet: bool) -> str:
    """The hook's shell code for *act*; *ref* is the session's reference file."""
    out = shell.export(dict(act.env))
    out += shell.watch(ref, act.watch, act.absent)
    if act.message:
        out += shell.message(safe(f"orenv: {act.message}"))
    elif act.state == "active" and act.policy is not None:
        p = act.policy
        what = f"key {p.key} -> {p.host}" if p.mode == "export" else f"{p.mode} mode -> {p.host}"
        # Where the key is not in the shell, say how Claude Code gets it.
        if p.mode == "exec":
            what += "; start Claude Code with `orenv exec -- claude`"
        elif p.mode == "helper":
            what += (f"; works from the project root only: start Claude Code in "
                     f"{os.path.dirname(p.path)}, after `orenv helper on` there")
        # One line, once per change; warnings (options left out) even when quiet.
        parts = [] if quiet else [f"loaded {p.name} ({what})"]
        parts += [f"warning: {w}" for w in p.warnings]
        if parts:
            out += shell.message(safe("orenv: " + "; ".join(parts)))
    return out


def run(args: argparse.Namespace) -> int:
    shell = shells.get(args.shell)
    try:
        quiet = load_config().quiet or bool(os.environ.get("ORENV_QUIET"))
    except OrenvError:
        quiet = False
    read_at = snapshot.read_time()
    act = compute(cwd(args.dir), os.environ, read_key=_key_reader(args.deadline))
    ref_ns, _ = snapshot.reference(read_at, act.watch)
    sys.stdout.write(render(shell, act, session_ref(args.session, ref_ns), quiet))
    return 0


def _key_reader(deadline: float | None) -> Callable[[str], str]:
    """Read keys within the hook's remaining time (a prompt waits at most 1 s).

    An explicit ORENV_KEYRING_TIMEOUT (a slow keyring, or a loaded test machine)
    wins over the hook's deadline.
    """
    timeout = None
    if deadline is not None and "ORENV_KEYRING_TIMEOUT" not in os.environ:
        timeout = max(0.05, min(deadline, 0.8))

    def read(name: str) -> str:
        from ..secrets import get_key

        return get_key(name, timeout)

    return read


def register(sub: Any) -> None:
    # Run by the hooks, not by people: left out of `orenv --help`, still runnable.
    p = sub.add_parser("export", help=argparse.SUPPRESS,
                       description="Print shell code for this directory (used by the hook).")
    # argparse before 3.14 lists a suppressed sub-command as "==SUPPRESS==".
    sub._choices_actions[:] = [a for a in sub._choices_actions if a.dest != "export"]
    p.add_argument("shell", help="zsh, bash, fish or nu")
    p.add_argument("--session", help="the calling shell's pid (for the idle-prompt check)")
    p.add_argument("--dir", help="directory to compute for (default: current)")
    p.add_argument("--deadline", type=float, help="seconds the keyring may take "
                   "(the hook passes what is left of its 1 s)")
    p.set_defaults(func=run)
