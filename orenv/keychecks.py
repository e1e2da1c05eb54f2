"""The outcome of the last online check of each key, by name (for `orenv key list`).

Whenever orenv itself asks OpenRouter with a key (``doctor --online``,
``usage``, ``key provision``, ``key provisioned --online``, ``key revoke``),
the answer is noted in ``$XDG_CACHE_HOME/orenv/keychecks.json``: per key *name*
only when, whether OpenRouter accepted the key, the HTTP status and which
command asked. Never the key, nor anything computed from it. `orenv key list`
reads this file and never goes online itself.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import _namestore, paths

__all__ = ["Check", "cache_file", "checking", "forget", "last", "record"]

# Answers that say something about the key itself; anything else (a 5xx, a
# timeout, no network) says nothing and leaves the last check as it was.
_VERDICTS = {401: "refused (401)", 402: "out of credits (402)", 403: "refused (403)"}


@dataclass(frozen=True)
class Check:
    """One online check: *ok* when OpenRouter accepted the key."""

    checked_at: float
    ok: bool
    status: int
    via: str

    def to_json(self) -> dict[str, Any]:
        return {"checked_at": self.checked_at, "ok": self.ok, "status": self.status,
                "via": self.via}

    def verdict(self) -> str:
        return "valid" if self.ok else _VERDICTS.get(self.status, f"refused ({self.status})")


def cache_file() -> Path:
    return paths.cache_dir() / "keychecks.json"


def record(name: str, *, ok: bool, status: int, via: str) -> None:
    """Note that OpenRouter just accepted (or refused) key *name*; a cache, so best effort."""
    with contextlib.suppress(OSError):
        data = _namestore.read(cache_file())
        data[name] = Check(time.time(), ok, status, via).to_json()
        _namestore.write(cache_file(), data)


def last(name: str) -> Check | None:
    """The last check of key *name*, or None. Reads the cache only."""
    entry = _namestore.read(cache_file()).get(name)
    if entry is None:
        return None
    at, ok, status, via = (entry.get(k) for k in ("checked_at", "ok", "status", "via"))
    if (not isinstance(at, int | float) or not isinstance(ok, bool)
            or not isinstance(status, int) or isinstance(status, bool)):
        return None
    return Check(float(at), ok, status, via if isinstance(via, str) else "")


def forget(name: str) -> None:
    """After the key under *name* was replaced or removed: its old verdict no longer holds."""
    with contextlib.suppress(OSError):
        data = _namestore.read(cache_file())
        if data.pop(name, None) is not None:
            _namestore.write(cache_file(), data)


@contextlib.contextmanager
def checking(name: str, via: str, *, accepted: tuple[int, ...] = ()) -> Iterator[None]:
    """Note the outcome of the OpenRouter request made with key *name* in the block.

    *accepted*: error statuses that still mean the key was accepted (a 404 for
    a key hash that is gone says the management key itself is fine).
    """
    from .errors import OpenRouterError

    try:
        yield
    except OpenRouterError as exc:
        if exc.status in accepted:
            record(name, ok=True, status=exc.status, via=via)
        elif exc.status in _VERDICTS:
            record(name, ok=False, status=exc.status, via=via)
        raise
    record(name, ok=True, status=200, via=via)
