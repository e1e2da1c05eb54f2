"""`orenv hook SHELL`: print the shell hook to evaluate from an rc file."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from .. import shells
from ..errors import OrenvError, UsageError

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


def write_hook(shell_name: str | None) -> int:
    """``--write``: the hook file(s) an rc line sources (see ``orenv.hookfile``).

    With a shell, also print its hook (what ``orenv hook SHELL`` prints), so
    that ``eval "$(orenv hook zsh --write)"`` loads the hook and refreshes the
    file in one process; a note (the file was not used, cannot be written)
    goes to stderr.
    """
    from .. import hookfile

    binary = binary_path()
    if shell_name is None:
        notes = hookfile.write_all(binary)
    else:
        note = hookfile.write(shell_name, binary)
        notes = [] if note is None else [note]
        if shell_name == "nu":
            # nushell's rc block saves this to its autoload directory and checks
            # it at the next start with builtins: the file text, inputs line included.
            sys.stdout.write(hookfile.file_text(shells.get("nu"), binary,
                                                str(hookfile.hook_path("nu"))))
        else:
            sys.stdout.write(shells.get(shell_name).hook(binary))
    for note in notes:
        print(note, file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    if args.write:
        return write_hook(args.shell)
    if args.shell is None:
        raise UsageError("which shell? `orenv hook zsh|bash|fish|nu` "
                         "(or `orenv hook --write` to write the hook files of all four)")
    return print_hook(args.shell)


def register(sub: Any) -> None:
    p = sub.add_parser("hook", help="print the shell hook (eval it in your rc file)",
                       description='Print the hook. zsh: eval "$(orenv hook zsh)"; '
                       'bash: eval "$(orenv hook bash)"; fish: orenv hook fish | source; '
                       'nu: orenv hook nu | save -f ($nu.user-autoload-dirs | first | '
                       'path join orenv.nu). With --write, the hook files an rc line '
                       'sources instead (what install.sh sets up): no process at a shell start')
    p.add_argument("shell", nargs="?", choices=sorted(shells.SHELLS),
                   help="zsh, bash, fish or nu")
    p.add_argument("--write", action="store_true",
                   help="write the hook to $XDG_DATA_HOME/orenv/hook.SHELL (all four shells "
                   "without SHELL) for your rc file to source: a shell start then runs no "
                   "process, and the file renews itself when orenv changes; with SHELL, "
                   "also print the hook")
    p.set_defaults(func=run)
