"""`orenv set KEY VALUE` / `orenv unset KEY`: edit the nearest policy, keeping comments.

The edited text is validated before it is written (nothing half-applied). A
file that was trusted before the edit is trusted again, since the user made
the change; an untrusted file stays untrusted, so `set` cannot launder an
edit someone else made.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import Table

from .. import trust
from .._fsutil import atomic_write, touch_stamp
from ..errors import PolicyError, UsageError
from ..policy import parse
from ._common import say, sync_helpers, target_policy

__all__ = ["register"]

_STRING_TABLES = ("models", "env", "openrouter", "attribution")


def _value(dotted: list[str], raw: str) -> Any:
    """Strings stay strings in string tables; elsewhere TOML literals are understood."""
    if dotted[0] in _STRING_TABLES or dotted[-1] == "name":
        return raw
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _split(key: str) -> list[str]:
    parts = key.split(".")
    if not all(parts) or len(parts) > 3:
        raise UsageError(f"invalid key {key!r}; use e.g. openrouter.key, models.opus, env.NAME")
    return parts


def _edit(path: str, key: str, raw: str | None) -> None:
    original = Path(path).read_bytes()
    was_trusted = trust.check(path, original)
    try:
        doc = tomlkit.parse(original.decode("utf-8"))
    except Exception:
        parse(path, original)  # raises the exact error with its line
        raise PolicyError(path, "cannot edit: invalid TOML; fix the file by hand first"
                          ) from None
    parts = _split(key)
    container: Any = doc
    for part in parts[:-1]:
        if part not in container:
            if raw is None:
                raise UsageError(f"{key} is not set in {path}")
            container[part] = tomlkit.table()
        container = container[part]
        if not isinstance(container, Table | dict):
            raise UsageError(f"{part} is not a table in {path}")
    last = parts[-1]
    if raw is None:
        if last not in container:
            raise UsageError(f"{key} is not set in {path}")
        del container[last]
    else:
        container[last] = _value(parts, raw)
    content = tomlkit.dumps(doc).encode("utf-8")
    parse(path, content)  # refuse an edit that would make the policy invalid
    atomic_write(Path(path), content, mode=Path(path).stat().st_mode & 0o777)
    if was_trusted:
        trust.allow(path, content)
    touch_stamp()
    verb = "set" if raw is not None else "unset"
    note = "" if was_trusted else " (still not allowed: review it, then `orenv allow`)"
    say(f"{verb} {key} in {path}{note}")
    if was_trusted:
        sync_helpers()
    if raw is not None and parts[0] == "models":
        # The moment of the mistake: check the model against the cached catalogue.
        from ..models import model_warnings

        for w in model_warnings({parts[1]: raw}):
            say(f"orenv: warning: {w}", file=sys.stderr)


def run_set(args: argparse.Namespace) -> int:
    _edit(target_policy(args.file), args.key, args.value)
    return 0


def run_unset(args: argparse.Namespace) -> int:
    _edit(target_policy(args.file), args.key, None)
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("set", help="set a policy value, keeping comments (re-allows)",
                       description="Example: orenv set models.opus anthropic/claude-opus-4.5")
    p.add_argument("key", help="dotted key: openrouter.key, models.sonnet, env.NAME, ...")
    p.add_argument("value", help="the value (not a secret: keys go in `orenv key set`)")
    p.add_argument("--file", help="policy file or directory (default: nearest)")
    p.set_defaults(func=run_set)
    u = sub.add_parser("unset", help="remove a policy value, keeping comments (re-allows)")
    u.add_argument("key", help="dotted key, e.g. models.haiku")
    u.add_argument("--file", help="policy file or directory (default: nearest)")
    u.set_defaults(func=run_unset)
