"""Helpers shared by several commands."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from .._text import safe
from ..errors import OrenvError
from ..paths import POLICY_NAME
from ..policy import find_nearest

__all__ = ["ask", "confirm", "cwd", "interactive", "print_json", "process_dirs", "say", "table",
           "target_policy"]


def interactive() -> bool:
    """Is stdin a terminal (a person who can answer a question)?"""
    return sys.stdin is not None and sys.stdin.isatty()


def ask(question: str) -> str | None:
    """One line typed at the terminal, stripped (None at end of input)."""
    sys.stderr.write(question)
    sys.stderr.flush()
    try:
        line = sys.stdin.readline()
    except (EOFError, OSError):
        return None
    return line.strip() if line else None


def confirm(question: str) -> bool:
    """Ask on the terminal; anything but yes (or end of input) is no."""
    return (ask(question) or "").lower() in ("y", "yes")


def cwd(directory: str | None = None) -> str:
    """The directory a command acts on: --dir, else the shell's $PWD (keeps symlinks)."""
    if directory:
        return os.path.abspath(directory)
    try:
        real = os.getcwd()
    except FileNotFoundError:
        real = ""
    pwd = os.environ.get("PWD", "")
    if pwd and os.path.isabs(pwd) and real:
        try:
            if os.path.samefile(pwd, real):
                return pwd
        except OSError:
            pass
    if real:
        return real
    if pwd:
        return pwd
    raise OrenvError("the current directory no longer exists; cd somewhere else")


def process_dirs() -> tuple[str, ...]:
    """This process's own working directory (where a program it runs starts), if any."""
    try:
        return (os.getcwd(),)
    except OSError:
        return ()


def target_policy(path: str | None) -> str:
    """A policy file from a PATH argument (file or directory) or the nearest one."""
    if path:
        full = os.path.abspath(path)
        if os.path.isdir(full):
            full = os.path.join(full, POLICY_NAME)
        if not os.path.lexists(full):
            raise OrenvError(f"no policy at {full}; create one with `orenv init`")
        return full
    found = find_nearest(cwd())
    if not found:
        raise OrenvError(f"no {POLICY_NAME} here or above; create one with `orenv init`")
    return found


def say(*parts: object, sep: str = " ", file: TextIO | None = None) -> None:
    """``print`` for people: nothing a repository (or OpenRouter) controls drives the terminal.

    Escape sequences, bidi overrides and bytes that are not UTF-8 (in a path)
    are shown escaped; see ``orenv._text.safe``.
    """
    text = sep.join(str(p) for p in parts)
    stream = sys.stdout if file is None else file
    stream.write(safe(text) + "\n")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows under *headers* in columns that line up (two spaces apart, no tabs).

    Widths count what the terminal will show (``safe`` escapes included); the
    last column is not padded, so no line ends in spaces.
    """
    shown = [[safe(cell) for cell in row] for row in [headers, *rows]]
    widths = [max(len(row[i]) for row in shown) for i in range(len(headers) - 1)]
    return ["  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)),
                       row[-1]]).rstrip() for row in shown]


def print_json(data: Any) -> None:
    # ASCII only: a control character or a byte that is not UTF-8 arrives escaped.
    json.dump(data, sys.stdout, indent=2, sort_keys=False, ensure_ascii=True)
    sys.stdout.write("\n")


def sync_helpers() -> None:
    """After a policy is (re-)allowed: the helper-mode settings files orenv wrote follow it."""
    from .helper import sync_all

    for line in sync_all():
        say(line, file=sys.stderr if line.startswith("orenv: warning") else None)
