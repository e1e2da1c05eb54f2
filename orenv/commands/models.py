"""`orenv models [--tools] [--search TEXT] [--json] [--refresh]`: OpenRouter's catalogue.

Served from the cache under ``$XDG_CACHE_HOME/orenv/`` while it is fresh.
With a policy here, its base URL and key are used; otherwise the public
endpoint at the default base URL, without a key.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import OrenvError
from ._common import cwd, print_json, say

__all__ = ["register"]


def _endpoint(directory: str) -> tuple[str, str | None]:
    """Base URL and key: the current policy's (if it applies here), else the public default."""
    from ..activation import trusted_policy
    from ..policy import DEFAULT_BASE_URL
    from ..secrets import get_key

    try:
        policy = trusted_policy(directory)
    except OrenvError:
        policy = None  # invalid or untrusted: its host is not to be trusted either
    if policy is None or not policy.enabled or policy.key is None:
        return DEFAULT_BASE_URL, None
    try:
        key: str | None = get_key(policy.key)
    except OrenvError:
        key = None  # the list is public: ask the policy's host without a key
    return policy.base_url, key


def _price(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if value >= 0.01 or value == 0 else f"{value:.4f}"


def run(args: argparse.Namespace) -> int:
    from ..models import load_models

    base_url, key = _endpoint(cwd(args.dir))
    models = load_models(base_url, key, refresh=args.refresh, tools_only=args.tools)
    if args.search:
        needle = args.search.lower()
        models = [m for m in models if needle in m.id.lower() or needle in m.name.lower()]
    if args.json:
        print_json([{
            "id": m.id, "name": m.name, "context_length": m.context_length,
            "prompt_usd_per_mtok": m.prompt_price_per_mtok,
            "completion_usd_per_mtok": m.completion_price_per_mtok,
            "tools": m.supports_tools,
        } for m in models])
        return 0
    if not models:
        say("no models match")
        return 0
    width = max(len(m.id) for m in models)
    say(f"{'MODEL':<{width}}  {'CONTEXT':>9}  {'$/Mtok in':>9}  {'$/Mtok out':>10}  TOOLS")
    for m in models:
        ctx = f"{m.context_length:,}" if m.context_length else "-"
        say(f"{m.id:<{width}}  {ctx:>9}  {_price(m.prompt_price_per_mtok):>9}  "
              f"{_price(m.completion_price_per_mtok):>10}  {'yes' if m.supports_tools else 'no'}")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("models", help="list OpenRouter models (cached), with prices and context")
    p.add_argument("--tools", action="store_true", help="only models that support tool use")
    p.add_argument("--search", metavar="TEXT", help="only ids or names containing TEXT")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--refresh", action="store_true",
                   help="ask OpenRouter even if the cache is fresh")
    p.add_argument("--dir", help="use this directory's policy (default: current)")
    p.set_defaults(func=run)
