"""`orenv exec [--dir D] -- CMD ...`: run one command with the full policy environment.

Nothing is exported to the shell; the key exists only in CMD's environment.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from ..activation import resolve_for_exec
from ..errors import OrenvError, UsageError
from ._common import cwd, process_dirs

__all__ = ["register"]


def run(args: argparse.Namespace) -> int:
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise UsageError("nothing to run: orenv exec -- COMMAND [ARGS...]")
    _, env = resolve_for_exec(cwd(args.dir), os.environ, claude_dirs=process_dirs())
    full = dict(os.environ)
    full.update(env)
    try:
        os.execvpe(command[0], command, full)  # noqa: S606 - replacing ourselves is the point
    except OSError as exc:
        raise OrenvError(f"cannot run {command[0]!r}: {exc.strerror}") from None
    return 0  # not reached


def register(sub: Any) -> None:
    p = sub.add_parser("exec", help="run a command with the policy's environment (key included)")
    p.add_argument("--dir", help="use the policy of this directory (default: current)")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    p.set_defaults(func=run)
