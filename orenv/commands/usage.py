"""`orenv usage [NAME] [--json]`: a key's spend and remaining limit (GET /key).

Without NAME: the key and base URL of this directory's policy. Each answer is
cached (numbers only) for `orenv status`, which never goes online itself.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .. import budget, keychecks, provision, secrets
from ..activation import trusted_policy
from ..errors import OrenvError
from ..paths import POLICY_NAME
from ._common import cwd, print_json, say

__all__ = ["register"]


def _target(args: argparse.Namespace, directory: str) -> tuple[str, str, float | None]:
    """(key name, base URL, warn_below_usd) for the request."""
    if args.name is None:
        policy = trusted_policy(directory)
        if policy is None:
            raise OrenvError(f"no {POLICY_NAME} here or above; name a key: `orenv usage NAME`")
        if not policy.enabled or policy.key is None:
            raise OrenvError(f"orenv is off here ({policy.path}); name a key: "
                             "`orenv usage NAME`")
        return policy.key, args.base_url or policy.base_url, policy.warn_below_usd
    name = secrets.validate_name(args.name)
    warn: float | None = None
    policy_url: str | None = None
    try:
        policy = trusted_policy(directory)
    except OrenvError:
        policy = None
    if policy is not None and policy.enabled and policy.key == name:
        warn, policy_url = policy.warn_below_usd, policy.base_url
    rec = provision.record(name)
    url = (args.base_url or (rec.base_url if rec else None) or policy_url
           or provision.target_base_url(None, directory))
    return name, url, warn


def run(args: argparse.Namespace) -> int:
    directory = cwd(args.dir)
    name, url, warn = _target(args, directory)
    provision.check_host(url)
    value = secrets.get_key(name, provision.KEYRING_TIMEOUT)
    with keychecks.checking(name, "usage"):
        usage = budget.fetch(url, value)
    del value
    budget.store(name, usage, url)
    warning = budget.low_budget_warning(usage, warn)
    if args.json:
        print_json({"key": name, "base_url": url, **usage.to_json(),
                    "warn_below_usd": warn, "warning": warning})
        return 0
    say(f"key:       {name} -> {url}")
    for label, value in budget.summary(usage):
        say(f"{label + ':':<10} {value}")
    if warning:
        say(f"orenv: warning: {warning}", file=sys.stderr)
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("usage", help="a key's spend and remaining limit (asks OpenRouter)",
                       description="Shows usage today / this week / this month, the limit and "
                       "what remains. Without NAME: the key of this directory's policy.")
    p.add_argument("name", nargs="?", help="key name (default: this directory's policy key)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--base-url", help="API base URL (default: the policy's, or where the key "
                   "was provisioned); its host must be in allowed_hosts")
    p.add_argument("--dir", help="use the policy of this directory (default: current)")
    p.set_defaults(func=run)
