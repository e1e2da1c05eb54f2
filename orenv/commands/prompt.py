"""`orenv prompt`: the active profile for prompts that cannot read $ORENV_PROFILE."""

from __future__ import annotations

import argparse
import os
from typing import Any

from ._common import say

__all__ = ["register"]


def run(args: argparse.Namespace) -> int:
    profile = os.environ.get("ORENV_PROFILE", "")
    if profile:
        say(args.format.replace("{profile}", profile))
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("prompt", help="print the active profile for a prompt segment")
    p.add_argument("--format", default="{profile}", help="template, e.g. 'or:{profile} '")
    p.set_defaults(func=run)
