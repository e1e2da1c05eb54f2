"""`orenv token [--dir D]`: print the policy's key, for Claude Code's apiKeyHelper."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ..activation import resolve_for_exec
from ._common import cwd, process_dirs

__all__ = ["register"]


def run(args: argparse.Namespace) -> int:
    _, env = resolve_for_exec(cwd(args.dir), os.environ, claude_dirs=process_dirs())
    sys.stdout.write(env["ANTHROPIC_AUTH_TOKEN"] + "\n")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("token", help="print the key for this directory (for apiKeyHelper)")
    p.add_argument("--dir", help="use the policy of this directory (default: current)")
    p.set_defaults(func=run)
