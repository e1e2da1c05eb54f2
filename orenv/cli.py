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
from typing import Any, NoReturn

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
    "reload",
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
        clean = _SECRETISH.sub("[redacted]", _with_suggestion(self, message))
        self.exit(int(ExitCode.USAGE), f"orenv: {clean}\n")

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        # Remembered so that an "unrecognized arguments" error, which argparse
        # raises from the top parser, can suggest the subcommand's own options.
        self._argv = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)


_CHOICE = re.compile(r"invalid choice: '([^']*)' \(choose from (.*)\)\Z", re.S)
_UNRECOGNIZED = re.compile(r"unrecognized arguments: (\S+)")


def _with_suggestion(parser: argparse.ArgumentParser, message: str) -> str:
    """argparse's *message* with a "did you mean" for a mistyped command or option."""
    from ._text import did_you_mean

    m = _CHOICE.search(message)
    if m:
        choices = [c.strip().strip("'") for c in m.group(2).split(",")]
        shown = [c for c in choices if c != "export"]  # run by hooks, not by people
        return (f"{message[:m.start()]}unknown choice '{m.group(1)}'"
                f"{did_you_mean(m.group(1), shown)}; choose from {', '.join(shown)}")
    m = _UNRECOGNIZED.search(message)
    if m and m.group(1).startswith("-"):
        word = m.group(1).split("=", 1)[0]
        options = _options_along(parser, getattr(parser, "_argv", []))
        return message + did_you_mean(word, options)
    return message


def _options_along(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """The option strings of the (sub)command *argv* names, e.g. `key set`."""
    options: list[str] = []
    words = iter(argv)
    while True:
        subs = None
        for action in parser._actions:
            options.extend(action.option_strings)
            if isinstance(action, argparse._SubParsersAction):
                subs = action
        if subs is None:
            return options
        for word in words:
            if word in subs.choices:
                parser = subs.choices[word]
                break
        else:
            return options


# Commands that never touch a key (no core-dump hardening needed: they stay cheap).
# `edit` runs the user's editor, which should not inherit a core limit of 0.
_NO_KEY_COMMANDS = frozenset({"hook", "prompt", "allow", "deny", "edit", "reload", "completion",
                              None})

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
        epilog="`orenv help COMMAND` (or `orenv COMMAND --help`) shows a command's options.",
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
    if len(argv) == 2 and argv[0] == "hook" and argv[1] in ("zsh", "bash", "fish", "nu"):
        # Every new shell runs this: skip argparse and the parser build.
        from .commands.hook import print_hook

        return _guarded(lambda: print_hook(argv[1]))
    if argv[:1] == ["help"]:
        # `orenv help [COMMAND [ACTION]]` is `orenv [COMMAND [ACTION]] --help`.
        argv[:] = [*argv[1:], "--help"]
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
