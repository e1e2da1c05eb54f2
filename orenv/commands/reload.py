"""`orenv reload`: recompute every shell at its next prompt, with no cache in the way.

The way out whenever something looks stale (a key changed in the keyring by
another program, a file event the daemon missed). It asks the daemon to drop
what it keeps in memory (keys read from the keyring, computed answers, the
parsed config), then touches the global stamp that every shell's hook
watches, so each shell in a project asks again at its next prompt (the daemon
then reads everything afresh; without the daemon, ``orenv export`` always
does). Like ``direnv reload``; nothing is printed by the shells unless the
answer changed.
"""

from __future__ import annotations

import argparse
from typing import Any

from .. import paths
from .._fsutil import touch_stamp
from ..daemon import protocol
from ..daemon.client import request
from ._common import say

__all__ = ["register", "reload"]


def reload() -> bool:
    """Flush the daemon's caches (True if one was running), then signal the shells."""
    try:
        answer = request(str(protocol.socket_path(paths.runtime_dir())),
                         {"op": "invalidate", "why": "reload"}, timeout=2.0)
        flushed = bool(answer.get("ok"))
    except (OSError, ValueError):
        flushed = False  # no daemon: nothing cached to drop
    # After the flush: a shell that asks at its next prompt gets a fresh answer.
    touch_stamp()
    return flushed


def run(args: argparse.Namespace) -> int:
    flushed = reload()
    what = ("the daemon dropped its cached keys and answers"
            if flushed else "no daemon was running")
    say(f"reload: every shell in a project recomputes at its next prompt ({what})")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("reload", help="recompute every shell at its next prompt; the daemon "
                       "drops its cached keys and answers")
    p.set_defaults(func=run)
