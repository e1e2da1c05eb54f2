"""`orenv key add NAME [--lifetime 8h]`: hold a key in the orenv daemon's memory only.

For machines with no Secret Service (SSH, containers, WSL, CI), like
``ssh-add``: the key is read from a hidden prompt or stdin, goes to the daemon
over its private socket, and is never written anywhere. It is gone at the end
of its lifetime, at ``orenv key rm NAME``, ``orenv daemon stop``, logout and
reboot. ``orenv key list`` shows the store and the expiry.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .. import keychecks, memstore, secrets
from ..errors import UsageError
from ._common import confirm, interactive, say

__all__ = ["register"]


def run_add(args: argparse.Namespace) -> int:
    from .daemon import ensure_running
    from .key import read_secret

    name = secrets.validate_name(args.name)
    lifetime = memstore.parse_lifetime(args.lifetime) if args.lifetime else None
    meta = secrets._read_index().get(name)
    if meta is not None and secrets.store_of(meta) == "keyring":
        raise UsageError(f"key {name!r} is stored in the keyring; a name lives in one store: "
                         f"use another name, or `orenv key rm {name}` first")
    held = memstore.lookup(name)
    if held is not None and not args.force:
        old = secrets.mask(held)
        del held
        if not interactive():
            raise UsageError(f"key {name!r} is already held in memory; nothing was changed: "
                             "use --force to replace it")
        if not confirm(f"key {name!r} is already held in memory ({old}); replace it? [y/N] "):
            raise UsageError(f"kept key {name!r}; nothing was changed")
    value = read_secret(f"OpenRouter key for {name!r} (input hidden; held in memory only): ")
    if not secrets.looks_like_key(value) and not args.force:
        raise UsageError("that is not an OpenRouter key (sk-or-v1- followed by 64 hex "
                         "characters); use --force to hold it anyway")
    ensure_running()
    answer = secrets.add_memory_key(name, value, lifetime=lifetime,
                                    lifetime_text=args.lifetime or "",
                                    management=args.management)
    keychecks.forget(name)
    expires = answer.get("expires")
    until = memstore.describe_expiry(float(expires) if isinstance(expires, int | float)
                                     else None)
    kind = "management key" if args.management else "key"
    say(f"added {kind} {name!r} ({secrets.mask(value)}) to the orenv daemon's memory, {until}; "
        f"never written anywhere (`orenv key rm {name}` drops it)")
    if not answer.get("locked"):
        say("orenv: note: the OS did not let the daemon lock the key in RAM (mlock: see "
            "`ulimit -l`); it may be swapped out, though never to a core dump",
            file=sys.stderr)
    return 0


def register(ks: Any) -> None:
    a = ks.add_parser(
        "add", help="hold a key in the orenv daemon's memory only (no keyring needed)",
        description="For SSH sessions, containers, WSL and CI machines with no Secret "
        "Service: the key (hidden prompt, or stdin when piped; never argv) goes to the orenv "
        "daemon over its private socket and is never written anywhere. It is gone at the end "
        "of --lifetime, at `orenv key rm NAME`, `orenv daemon stop`, logout or reboot; "
        "`orenv key list` shows when.")
    a.add_argument("name", help="key name, e.g. work")
    a.add_argument("--lifetime", metavar="TIME",
                   help="drop the key after TIME: seconds or 30m, 8h, 1h30m, 2d (as "
                   "ssh-add -t); default: until the daemon ends")
    a.add_argument("--force", action="store_true", help="replace a key held under NAME "
                   "without asking, or hold a value that is not an OpenRouter key")
    a.add_argument("--management", action="store_true",
                   help="this is an OpenRouter management key (for `orenv key provision`)")
    a.set_defaults(func=run_add)
