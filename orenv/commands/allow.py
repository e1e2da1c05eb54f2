"""`orenv allow [PATH]`: show what a policy will do, then trust it."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .. import trust
from .._fsutil import touch_stamp
from ..config import load_config
from ..errors import OrenvError
from ..policy import MODEL_VARS, Policy, find_chain, read_policy_file, resolve
from ._common import target_policy

__all__ = ["describe", "register"]


def describe(policy: Policy) -> list[str]:
    """What a policy will do, in lines a person can check before trusting it."""
    if not policy.enabled:
        return ["orenv is switched off here (enabled = false): parent policies are unloaded"]
    lines = [
        f"profile:     {policy.name}",
        f"sends key:   {policy.key!r} (from the keyring) to {policy.host}",
        f"base URL:    {policy.base_url}",
        f"mode:        {policy.mode}",
    ]
    for slot, var in MODEL_VARS.items():
        if slot in policy.models:
            lines.append(f"model:       {var}={policy.models[slot]}")
    for name, value in policy.env.items():
        lines.append(f"extra env:   {name}={value!r}")
    if policy.routing:
        lines.append(f"routing:     {dict(policy.routing)}")
    if policy.attribution:
        lines.append(f"attribution: {dict(policy.attribution)}")
    if len(policy.files) > 1:
        lines.append("inherits:    " + ", ".join(pf.path for pf in policy.files[1:]))
    return lines


def run(args: argparse.Namespace) -> int:
    path = target_policy(args.path)
    pf = read_policy_file(path)  # refuses a file that does not parse: nothing recorded
    warning = None
    import os

    try:
        chain = find_chain(os.path.dirname(path))
        policy = resolve(chain, load_config())
        for line in describe(policy):
            print(line)
    except OrenvError as exc:
        warning = exc.message
    trust.allow(path, pf.content)
    touch_stamp()
    print(f"allowed {path}")
    if warning:
        print(f"orenv: warning: allowed, but it will not apply yet: {warning}", file=sys.stderr)
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("allow", help="trust a policy file (prints what it will do first)")
    p.add_argument("path", nargs="?", help="policy file or its directory (default: nearest)")
    p.set_defaults(func=run)
