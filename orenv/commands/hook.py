"""`orenv hook SHELL`: print the shell hook to evaluate from an rc file."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from .. import shells
from ..errors import OrenvError

__all__ = ["binary_path", "print_hook", "register"]


def binary_path() -> str:
    """Absolute path of the orenv program the hook should call."""
    argv0 = sys.argv[0] if sys.argv else ""
    if os.path.basename(argv0).startswith("orenv") and os.path.exists(argv0):
        return os.path.abspath(argv0)
    import shutil

    found = shutil.which("orenv")
    if found:
        return os.path.abspath(found)
    raise OrenvError("cannot find the orenv program on PATH; install it with ./install.sh")


def print_hook(shell_name: str) -> int:
    sys.stdout.write(shells.get(shell_name).hook(binary_path()))
    return 0


def run(args: argparse.Namespace) -> int:
    return print_hook(args.shell)


def register(sub: Any) -> None:
    p = sub.add_parser("hook", help="print the shell hook (eval it in your rc file)",
                       description='Print the hook. zsh: eval "$(orenv hook zsh)"; '
                       'bash: eval "$(orenv hook bash)"; fish: orenv hook fish | source')
    p.add_argument("shell", choices=sorted(shells.SHELLS), help="zsh, bash or fish")
    p.set_defaults(func=run)
