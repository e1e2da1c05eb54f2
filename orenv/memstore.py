"""Keys held in the orenv daemon's memory (``orenv key add``), seen from a client.

For machines with no Secret Service (SSH, containers, WSL, CI): like
``ssh-add``, the key goes to the per-user daemon over its private Unix socket
(the runtime directory and socket must be the user's own, and the daemon's uid
is checked with ``SO_PEERCRED``: ``daemon.client``) and stays in the daemon's
memory only (``daemon.memkeys``). It is gone at the end of its lifetime, at
``orenv key rm``, ``orenv daemon stop``, when the daemon ends (its last shell
and the login session that added the key are gone: logout) and at reboot.

The key index records a memory key's name, store and expiry (never its
value), so a policy naming a key that is gone gets a line that says how to
add it again.
"""

from __future__ import annotations

import re
import time
from typing import Any

from .errors import (
    DaemonUnavailableError,
    KeyringUnavailableError,
    OrenvError,
    SecretNotFoundError,
    UsageError,
)

__all__ = [
    "STORE",
    "add",
    "describe_expiry",
    "gone_message",
    "listing",
    "lookup",
    "parse_lifetime",
    "remove",
]

STORE = "memory"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_LIFETIME_RE = re.compile(r"(\d+)([smhdw]?)", re.IGNORECASE)


def parse_lifetime(text: str) -> float:
    """Seconds from ssh-add's time format: ``600``, ``10m``, ``8h``, ``1h30m``, ``2d``, ``1w``."""
    s = text.strip().lower()
    pos, total = 0, 0
    for m in _LIFETIME_RE.finditer(s):
        if m.start() != pos:
            break
        total += int(m.group(1)) * _UNITS[m.group(2) or "s"]
        pos = m.end()
    if not s or pos != len(s) or total <= 0:
        raise UsageError(f"invalid lifetime {text!r}: use seconds or a time like 30m, 8h, "
                         "1h30m, 2d (as ssh-add -t)")
    return float(total)


def describe_expiry(expires: float | None, now: float | None = None) -> str:
    """``until 18:03 (in 7h59m)``, ``until the daemon ends`` or ``expired at 14:02``."""
    if expires is None:
        return "until the daemon ends (logout, reboot)"
    now = time.time() if now is None else now
    fmt = "%H:%M" if abs(expires - now) < 86400 else "%Y-%m-%d %H:%M"
    at = time.strftime(fmt, time.localtime(expires))
    if expires <= now:
        return f"expired at {at}"
    left = int(expires - now)
    span = (f"{left // 86400}d{left % 86400 // 3600}h" if left >= 86400
            else f"{left // 3600}h{left % 3600 // 60:02d}m" if left >= 3600
            else f"{left // 60}m{left % 60:02d}s" if left >= 60 else f"{left}s")
    return f"until {at} (in {span})"


def gone_message(name: str, meta: dict[str, Any], now: float | None = None) -> str:
    """Why memory key *name* (index entry *meta*) cannot be had now, and how to add it again."""
    expires = meta.get("expires")
    again = f"`orenv key add {name}`"
    if meta.get("lifetime"):
        again = f"`orenv key add {name} --lifetime {meta['lifetime']}`"
    now = time.time() if now is None else now
    if isinstance(expires, int | float) and not isinstance(expires, bool) and expires <= now:
        return (f"key {name!r} was held in memory by the orenv daemon and "
                f"{describe_expiry(float(expires), now)}; add it again with {again}")
    return (f"key {name!r} is no longer in memory (the orenv daemon stopped or the machine "
            f"restarted; memory keys are never written anywhere); add it again with {again}")


def _sock() -> str:
    from . import paths
    from .daemon import protocol

    return str(protocol.socket_path(paths.runtime_dir()))


def _ask(obj: dict[str, Any], timeout: float) -> dict[str, Any]:
    from .daemon.client import request

    try:
        answer = request(_sock(), obj, timeout=timeout)
    except TimeoutError:
        # Running but slow (or stopped): the keys may well be there still.
        raise KeyringUnavailableError(
            "the orenv daemon, which holds the keys of `orenv key add`, did not answer in "
            "time; `orenv reload` asks again") from None
    except (OSError, ValueError) as exc:
        raise DaemonUnavailableError(
            "the orenv daemon is not running (memory keys live only in it)") from exc
    if not answer.get("ok"):
        error = str(answer.get("error") or "the daemon refused the request")
        if answer.get("code") == "not-found":
            raise SecretNotFoundError(error)
        raise OrenvError(error)
    return answer


def lookup(name: str, timeout: float = 1.0, *, strict: bool = True) -> str | None:
    """The key *name* from the daemon's memory; None when it is not there or no daemon runs.

    A daemon that runs but does not answer in time raises ``KeyringUnavailableError``
    when *strict* (the index says the key is in memory: it is not "gone"); otherwise
    that counts as not held, and the keyring is asked next.
    """
    try:
        answer = _ask({"op": "key-get", "name": name}, timeout)
    except (DaemonUnavailableError, SecretNotFoundError):
        return None
    except KeyringUnavailableError:
        if strict:
            raise
        return None
    value = answer.get("value")
    return value if isinstance(value, str) and value else None


def add(name: str, value: str, *, lifetime: float | None, management: bool = False,
        timeout: float = 3.0) -> dict[str, Any]:
    """Hand *value* to the daemon (over its private socket only); its answer (no value)."""
    return _ask({"op": "key-add", "name": name, "value": value, "lifetime": lifetime,
                 "management": management}, timeout)


def remove(name: str, timeout: float = 2.0) -> bool:
    """Drop *name* from the daemon's memory (wiped there); False when it held no such key."""
    try:
        _ask({"op": "key-rm", "name": name}, timeout)
    except (DaemonUnavailableError, SecretNotFoundError):
        return False
    return True


def listing(timeout: float = 1.0) -> dict[str, dict[str, Any]] | None:
    """name -> {masked, added, expires, locked}; None when no daemon answers."""
    try:
        answer = _ask({"op": "key-list"}, timeout)
    except OrenvError:
        return None
    keys = answer.get("keys")
    if not isinstance(keys, list):
        return {}
    return {str(k["name"]): k for k in keys if isinstance(k, dict) and "name" in k}
