"""Command-line entry point: parse, dispatch, and turn errors into one line.

Each subcommand lives in ``orenv.commands.<name>`` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a
function taking the parsed namespace and returning an exit code. This module
is the only place that catches ``OrenvError``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from . import __version__
from .errors import ExitCode, OrenvError

__all__ = ["COMMANDS", "main"]

# Module names under orenv.commands, in the order --help lists them.
COMMANDS: tuple[str, ...] = (
    "hook",
    "export",
    "allow",
    "deny",
    "init",
    "edit",
    "status",
    "exec_",
    "token",
    "key",
    "prompt",
    "daemon",
    "helper",
    "doctor",
    "models",
    "usage",
    "completion",
)


_SECRETISH = re.compile(r"sk-[A-Za-z0-9_-]{8,}|[A-Za-z0-9_+/=-]{32,}")


class _Parser(argparse.ArgumentParser):
    """argparse that never echoes something key-like back in an error."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        clean = _SECRETISH.sub("[redacted]", message)
        self.exit(int(ExitCode.USAGE), f"orenv: {clean}\n")


# Commands that never touch a key (no core-dump hardening needed: they stay cheap).
_NO_KEY_COMMANDS = frozenset({"hook", "prompt", "allow", "deny", "completion", None})

# Subcommands registered by a module of another name.
_MODULE_OF = {"set": "edit", "unset": "edit", "exec": "exec_"}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with *only*, just that subcommand's module is imported.

    The hook runs ``orenv export`` on every cd, so the common path must not
    import every command (tomlkit, HTTP, keyring) just to build --help.
    """
    parser = _Parser(
        prog="orenv",
        description="Per-directory OpenRouter setup for Claude Code; keys stay in the keyring.",
    )
    parser.add_argument("--version", action="version", version=f"orenv {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    names = COMMANDS
    if only is not None:
        module_name = _MODULE_OF.get(only, only)
        if module_name in COMMANDS:
            names = (module_name,)
    for name in names:
        try:
            module = importlib.import_module(f".commands.{name}", __package__)
        except ModuleNotFoundError as exc:
            if exc.name == f"{__package__}.commands.{name}":
                continue  # a command not built in this version
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from_command_line = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["export"] and from_command_line:
        # Run by a hook on cd: a Ctrl-C there must not leave half an answer (the
        # hook then completes within its second, or repairs at the next prompt).
        import signal

        with contextlib.suppress(ValueError):  # not the main thread (tests)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
    if len(argv) == 2 and argv[0] == "hook" and argv[1] in ("zsh", "bash", "fish"):
        # Every new shell runs this: skip argparse and the parser build.
        from .commands.hook import print_hook

        return _guarded(lambda: print_hook(argv[1]))
    first = argv[0] if argv and not argv[0].startswith("-") else None
    if first not in _NO_KEY_COMMANDS:
        # It may read, carry or print a key: never in a core dump.
        from ._harden import no_core_dumps

        no_core_dumps()
    parser = build_parser(first)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return ExitCode.USAGE
    return _guarded(lambda: args.func(args))


def _guarded(call: Callable[[], int]) -> int:
    """Run a command; every error becomes one stderr line and an exit code."""
    try:
        return int(call())
    except OrenvError as exc:
        print(f"orenv: {exc.message}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        print("orenv: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Output closed early (e.g. piped to head): not an error worth a line.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return ExitCode.OK
    except Exception as exc:
        if os.environ.get("ORENV_DEBUG"):
            raise
        print(
            f"orenv: internal error ({type(exc).__name__}); rerun with ORENV_DEBUG=1 for details",
            file=sys.stderr,
        )
        return ExitCode.ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
