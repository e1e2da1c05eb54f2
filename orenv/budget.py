"""A key's spend and limit: fetched from OpenRouter, cached for status and prompts.

``fetch`` is the only network call here (``GET /key``). Its answer is cached
under ``$XDG_CACHE_HOME/orenv/budget.json``, keyed by key *name*, holding only
non-secret numbers, so ``orenv status`` and prompts can show the remaining
budget without ever touching the network.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from . import _namestore, paths

__all__ = [
    "Usage",
    "cache_file",
    "cached",
    "describe_age",
    "fetch",
    "forget",
    "format_usd",
    "low_budget_warning",
    "status_entry",
    "status_lines",
    "store",
    "summary",
]

_NUMBERS = ("limit", "limit_remaining", "usage", "usage_daily", "usage_weekly", "usage_monthly")


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class Usage:
    """What OpenRouter reports about one key (USD; ``limit`` None = no cap)."""

    limit: float | None = None
    limit_reset: str | None = None
    limit_remaining: float | None = None
    usage: float | None = None
    usage_daily: float | None = None
    usage_weekly: float | None = None
    usage_monthly: float | None = None
    is_free_tier: bool | None = None
    fetched_at: float = 0.0

    @classmethod
    def from_api(cls, data: Mapping[str, Any], fetched_at: float | None = None) -> Usage:
        """From ``GET /key``'s ``data`` (or ``POST /keys``'s): numbers only, nothing secret."""
        numbers = {k: _num(data.get(k)) for k in _NUMBERS}
        reset = data.get("limit_reset")
        free = data.get("is_free_tier")
        return cls(
            limit_reset=reset if isinstance(reset, str) and reset.isalpha() else None,
            is_free_tier=free if isinstance(free, bool) else None,
            fetched_at=time.time() if fetched_at is None else fetched_at,
            **numbers,
        )

    @property
    def remaining(self) -> float | None:
        """USD left under the limit, or None when the key has no limit."""
        if self.limit is None:
            return None
        if self.limit_remaining is not None:
            return max(0.0, self.limit_remaining)
        return max(0.0, self.limit - (self.usage or 0.0))

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["remaining"] = self.remaining
        return out


def format_usd(value: float | None) -> str:
    """USD with cents, and up to four decimals when they matter ($4.999, not $5.00)."""
    if value is None:
        return "-"
    text = f"{value:,.4f}"
    while text.endswith("0") and len(text.split(".")[1]) > 2:
        text = text[:-1]
    return f"${text}"


def describe_age(fetched_at: float, now: float | None = None) -> str:
    seconds = max(0, int((time.time() if now is None else now) - fetched_at))
    if seconds < 90:
        return "just now"
    if seconds < 90 * 60:
        return f"{seconds // 60} min ago"
    if seconds < 36 * 3600:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def summary(u: Usage) -> list[tuple[str, str]]:
    """Label/value rows for text output."""
    rows = [
        ("usage", f"today {format_usd(u.usage_daily)}, this week {format_usd(u.usage_weekly)}, "
                  f"this month {format_usd(u.usage_monthly)}, total {format_usd(u.usage)}"),
    ]
    if u.limit is None:
        rows.append(("limit", "none (the key can spend the account's credits)"))
    else:
        reset = f", resets {u.limit_reset}" if u.limit_reset else ", never resets"
        rows.append(("limit", f"{format_usd(u.limit)}{reset}"))
        rows.append(("remaining", format_usd(u.remaining)))
    return rows


def low_budget_warning(u: Usage, warn_below: float | None) -> str | None:
    """A one-line warning when the remaining budget is under *warn_below* USD."""
    remaining = u.remaining
    if warn_below is None or remaining is None or remaining >= warn_below:
        return None
    return (f"remaining budget {format_usd(remaining)} is below [budget] warn_below_usd "
            f"{format_usd(warn_below)}; raise the key's limit or top up")


# ---------------------------------------------------------------- network


def fetch(base_url: str, key_value: str, *, timeout: float | None = None) -> Usage:
    """``GET /key`` with *key_value*; the key goes only into the request header."""
    from .openrouter import DEFAULT_TIMEOUT, OpenRouterClient

    client = OpenRouterClient(base_url, key_value,
                              timeout=DEFAULT_TIMEOUT if timeout is None else timeout)
    return Usage.from_api(client.key_info())


# ---------------------------------------------------------------- cache


def cache_file() -> Path:
    return paths.cache_dir() / "budget.json"


def _read() -> dict[str, dict[str, Any]]:
    return _namestore.read(cache_file())


def _write(data: dict[str, dict[str, Any]]) -> None:
    _namestore.write(cache_file(), data)


def store(name: str, usage: Usage, base_url: str | None = None) -> None:
    """Remember *usage* of key *name* (numbers and the base URL only)."""
    data = _read()
    entry = {f.name: getattr(usage, f.name) for f in fields(Usage)}
    if base_url:
        entry["base_url"] = base_url
    data[name] = entry
    _write(data)


def cached(name: str) -> Usage | None:
    """The last known usage of key *name*, or None. Never touches the network."""
    entry = _read().get(name)
    if entry is None:
        return None
    known = {f.name for f in fields(Usage)}
    try:
        values = {k: v for k, v in entry.items() if k in known}
        fetched = _num(values.pop("fetched_at", 0.0)) or 0.0
        numbers = {k: _num(values.get(k)) for k in _NUMBERS}
        reset = values.get("limit_reset")
        free = values.get("is_free_tier")
        return Usage(limit_reset=reset if isinstance(reset, str) else None,
                     is_free_tier=free if isinstance(free, bool) else None,
                     fetched_at=fetched, **numbers)
    except (TypeError, ValueError):
        return None


def forget(name: str) -> None:
    data = _read()
    if data.pop(name, None) is not None:
        _write(data)


# ---------------------------------------------------------------- status


def status_entry(key: str | None, warn_below: float | None) -> dict[str, Any] | None:
    """The cached budget of *key* for `orenv status` (None when never fetched)."""
    if not key:
        return None
    u = cached(key)
    if u is None:
        return {"key": key, "known": False, "warn_below_usd": warn_below, "warning": None}
    return {"key": key, "known": True, **u.to_json(), "warn_below_usd": warn_below,
            "warning": low_budget_warning(u, warn_below)}


def status_lines(entry: Mapping[str, Any] | None) -> list[str]:
    """Text lines for `orenv status` from ``status_entry``."""
    if not entry:
        return []
    if not entry.get("known"):
        return ["budget:    unknown (run `orenv usage` to fetch it)"]
    age = describe_age(float(entry.get("fetched_at") or 0.0))
    if entry.get("limit") is None:
        line = f"budget:    no limit; spent {format_usd(entry.get('usage'))} ({age})"
    else:
        reset = f" {entry['limit_reset']}" if entry.get("limit_reset") else ""
        line = (f"budget:    {format_usd(entry.get('remaining'))} left of "
                f"{format_usd(entry.get('limit'))}{reset} (as of {age}; `orenv usage` "
                "refreshes)")
    lines = [line]
    if entry.get("warning"):
        lines.append(f"warning:   {entry['warning']}")
    return lines
