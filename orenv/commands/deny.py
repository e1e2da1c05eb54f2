"""`orenv deny [PATH]`: revoke trust in a policy file."""

from __future__ import annotations

import argparse
from typing import Any

from .. import trust
from .._fsutil import touch_stamp
from ._common import say, target_policy

__all__ = ["register"]


def run(args: argparse.Namespace) -> int:
    path = target_policy(args.path)
    trust.deny(path)
    touch_stamp()
    say(f"denied {path}")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("deny", help="revoke trust in a policy file")
    p.add_argument("path", nargs="?", help="policy file or its directory (default: nearest)")
    p.set_defaults(func=run)
