"""`orenv key provision NAME --limit USD` / `orenv key revoke NAME`.

Registered under `orenv key` by ``orenv.commands.key``. The new key goes
straight from OpenRouter's reply into the keyring; only its masked form is
ever shown.
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

from .. import provision, secrets
from ..budget import format_usd
from ..errors import UsageError
from ..openrouter import LIMIT_RESETS
from ._common import cwd, print_json, say, table

__all__ = ["add_init_arguments", "init_budget", "init_key_name", "init_provision", "register",
           "usd"]


def usd(text: str) -> float:
    """argparse type for an amount in USD (zero or more)."""
    try:
        value = float(text.strip().lstrip("$"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an amount in USD: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError("the amount must be zero or more USD")
    return value


def describe_limit(limit: float | None, reset: str | None) -> str:
    if limit is None:
        return "no limit"
    return f"limit {format_usd(limit)}" + (f" {reset}" if reset else "")


def run_provision(args: argparse.Namespace) -> int:
    rec = provision.provision(
        args.name, limit=args.limit, reset=args.reset, management=args.management_key,
        base_url=args.base_url, directory=cwd(), expires_at=args.expires_at,
        include_byok_in_limit=args.include_byok_in_limit,
    )
    masked = secrets.mask(secrets.get_key(rec.name, provision.KEYRING_TIMEOUT))
    if args.json:
        print_json({"name": rec.name, "masked": masked, **rec.to_json()})
    else:
        limit = describe_limit(rec.limit, rec.limit_reset)
        say(f"provisioned key {rec.name!r} ({masked}, {limit}) via management key "
              f"{rec.management_key!r}; stored in the keyring")
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    done = provision.revoke(args.name, management=args.management_key,
                            base_url=args.base_url)
    if done.earlier:
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(done.revoked_at))
        say(f"key {args.name!r} was already revoked on {when}: it is gone upstream and from "
            "the keyring; nothing left to do")
        return 0
    gone = f"key {args.name!r} was already gone upstream (deleted on OpenRouter's side)"
    if done.deleted_upstream and done.removed_from_keyring:
        say(f"revoked key {args.name!r} upstream and removed it from the keyring")
    elif done.deleted_upstream:
        say(f"revoked key {args.name!r} upstream (it was no longer in the keyring)")
    elif done.removed_from_keyring:
        say(f"{gone}; removed it from the keyring and dropped orenv's record of it")
    else:
        say(f"{gone} and not in the keyring; dropped orenv's record of it")
    from .key import warn_if_used

    warn_if_used(args.name)
    return 0


def _state(up: dict[str, Any] | None) -> str:
    if up is None:
        return "gone upstream"
    if up.get("disabled"):
        return "disabled upstream"
    usage = up.get("usage")
    if isinstance(usage, int | float):
        return f"active, used {format_usd(float(usage))}"
    return "active"


def run_provisioned(args: argparse.Namespace) -> int:
    recs = provision.records()
    ups: dict[str, dict[str, Any]] | None = None
    if args.online and recs:
        # Every page of GET /keys (OpenRouter answers 100 at a time).
        bases = {r.base_url for r in recs.values()}
        ups = {}
        for base in sorted(bases):
            ups.update(provision.upstream(args.management_key, base))
    if args.json:
        print_json([{"name": r.name, **r.to_json(),
                     **({"upstream": _state(ups.get(r.hash))} if ups is not None else {})}
                    for r in recs.values()])
        return 0
    if not recs:
        say("no provisioned keys; make one with `orenv key provision NAME --limit USD`")
        return 0
    headers = ["NAME", "LIMIT", "EXPIRES", *(["UPSTREAM"] if ups is not None else []),
               "BASE URL"]
    rows = [[r.name, describe_limit(r.limit, r.limit_reset).removeprefix("limit "),
             r.expires_at or "-", *([_state(ups.get(r.hash))] if ups is not None else []),
             r.base_url] for r in recs.values()]
    for line in table(headers, rows):
        say(line)
    return 0


def register(ks: Any) -> None:
    p = ks.add_parser(
        "provision", help="create a capped key through OpenRouter and store it in the keyring",
        description="Creates a key with a spending limit through OpenRouter's key-management "
        "API, using a management key from the keyring (`orenv key set --management NAME`). "
        "The new key goes straight into the keyring under NAME; it is never printed.")
    p.add_argument("name", help="name for the new key, e.g. client-a")
    p.add_argument("--limit", type=usd, help="spending limit in USD (default: none)")
    p.add_argument("--reset", choices=LIMIT_RESETS,
                   help="reset the limit daily, weekly or monthly (default: never)")
    p.add_argument("--management-key", metavar="MNAME",
                   help="management key to use (default: your only one)")
    p.add_argument("--base-url", help="API base URL (default: this directory's policy, "
                   "else OpenRouter); its host must be in allowed_hosts")
    p.add_argument("--expires-at", metavar="WHEN",
                   help="ISO 8601 date or time (UTC unless given) after which OpenRouter "
                   "disables the key, e.g. 2026-12-31")
    p.add_argument("--include-byok-in-limit", action="store_true", default=None,
                   help="count requests paid with your own provider keys (BYOK) against "
                   "the limit too")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run_provision)

    r = ks.add_parser("revoke", help="delete a provisioned key upstream and from the keyring")
    r.add_argument("name", help="name of a key made with `orenv key provision`")
    r.add_argument("--management-key", metavar="MNAME",
                   help="management key to use (default: the one that created it)")
    r.add_argument("--base-url", help="API base URL (default: where it was created)")
    r.set_defaults(func=run_revoke)

    ls = ks.add_parser("provisioned", help="keys made with `orenv key provision`")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.add_argument("--online", action="store_true",
                    help="also ask OpenRouter (every page of GET /keys) whether each key is "
                    "still active, disabled or gone, and its usage")
    ls.add_argument("--management-key", metavar="MNAME",
                    help="with --online: management key to use (default: your only one)")
    ls.set_defaults(func=run_provisioned)


# ---------------------------------------------------------------- orenv init --provision


def add_init_arguments(p: argparse.ArgumentParser) -> None:
    """The `orenv init --provision` options."""
    p.add_argument("--provision", action="store_true",
                   help="give this project its own capped key, made through OpenRouter's "
                   "key-management API (named proj-DIR-XXXX unless --key)")
    p.add_argument("--limit", type=usd, help="with --provision: spending limit in USD")
    p.add_argument("--reset", choices=LIMIT_RESETS,
                   help="with --provision: reset the limit daily, weekly or monthly")
    p.add_argument("--management-key", metavar="MNAME",
                   help="with --provision: management key to use (default: your only one)")


def init_key_name(args: argparse.Namespace, directory: str) -> str | None:
    """With --provision: check its options (no network yet) and name the new key.

    Without it: None, and an error if a --provision-only option was given.
    """
    if not args.provision:
        if args.limit is not None or args.reset or args.management_key:
            raise UsageError("--limit, --reset and --management-key go with --provision")
        return None
    provision.check_limit(args.limit, args.reset)
    provision.check_host(args.base_url)
    provision.management_key_name(args.management_key)
    if args.key:
        return secrets.validate_name(args.key)
    return provision.generated_name(directory)


def init_budget(text: str, limit: float | None) -> str:
    """Turn on [budget] warn_below_usd (10% of the limit) in a new policy's text."""
    if not limit:
        return text
    warn = round(limit * 0.1, 2)
    return text.replace("# warn_below_usd = 2.0", f"warn_below_usd = {warn!r}", 1)


def init_provision(args: argparse.Namespace, name: str, directory: str) -> None:
    """Create the project's key now (the policy is written right after)."""
    label = f"orenv {name}"
    rec = provision.provision(
        name, limit=args.limit, reset=args.reset, management=args.management_key,
        base_url=args.base_url, directory=directory, label=label,
    )
    masked = secrets.mask(secrets.get_key(rec.name, provision.KEYRING_TIMEOUT))
    say(f"provisioned key {rec.name!r} ({masked}, {describe_limit(rec.limit, rec.limit_reset)})"
          " and stored it in the keyring")
