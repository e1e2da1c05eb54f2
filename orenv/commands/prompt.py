"""`orenv prompt`: the active profile for prompts that cannot read $ORENV_PROFILE."""

from __future__ import annotations

import argparse
import os
import string
from typing import Any

from ..errors import UsageError
from ._common import say

__all__ = ["PLACEHOLDERS", "register", "render"]

# Placeholder -> (marker variable it reads, what it is). All are non-secret markers.
PLACEHOLDERS = {
    "profile": ("ORENV_PROFILE", "the profile name, e.g. client-a (or 'client-a (blocked)')"),
    "state": ("ORENV_STATE", "active, blocked or error"),
    "mode": ("ORENV_MODE", "export, exec or helper"),
}


def _fields(template: str) -> list[str]:
    """The placeholder names in *template*; a mistake is one line naming it and the fix."""
    valid = ", ".join("{" + name + "}" for name in PLACEHOLDERS)
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        raise UsageError(f"--format {template!r} has an unmatched brace; write {{{{ or }}}} "
                         f"for a literal one (placeholders: {valid})") from None
    names = []
    for _, name, _spec, conversion in parsed:
        if name is None:
            continue
        if name not in PLACEHOLDERS or conversion:
            shown = "{" + name + (f"!{conversion}" if conversion else "") + "}"
            raise UsageError(f"unknown placeholder {shown} in --format; use {valid}")
        names.append(name)
    return names


def render(template: str, env: dict[str, str]) -> str | None:
    """*template* filled from the marker variables, or None outside a project."""
    _fields(template)
    if not env.get("ORENV_PROFILE"):
        return None
    values = {name: env.get(var, "") for name, (var, _) in PLACEHOLDERS.items()}
    try:
        return template.format_map(values)
    except (ValueError, KeyError, IndexError):  # a bad format spec, e.g. {profile:d}
        raise UsageError(f"--format {template!r} cannot be filled in: a placeholder's spec "
                         "is not for text; e.g. {profile:.12} or {profile:>10}") from None


def run(args: argparse.Namespace) -> int:
    text = render(args.format, dict(os.environ))
    if text is not None:
        say(text)
    return 0


def register(sub: Any) -> None:
    shown = "; ".join(f"{{{name}}} {what}" for name, (_, what) in PLACEHOLDERS.items())
    p = sub.add_parser("prompt", help="print the active profile for a prompt segment",
                       description="Prints nothing outside a project. --format placeholders: "
                       f"{shown}. Write {{{{ or }}}} for a literal brace.")
    p.add_argument("--format", default="{profile}",
                   help="template, e.g. 'or:{profile} ' (placeholders: "
                   + ", ".join("{" + n + "}" for n in PLACEHOLDERS) + ")")
    p.set_defaults(func=run)
