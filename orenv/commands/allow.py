"""`orenv allow [PATH]`: show what a policy will do, then trust it."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from .. import guard, trust
from .._fsutil import touch_stamp
from .._text import safe
from ..config import load_config
from ..errors import OrenvError
from ..policy import MODEL_VARS, Policy, find_chain, read_policy_file, resolve
from ..render import policy_env
from ._common import say, sync_helpers, target_policy

__all__ = ["describe", "register"]


def describe(policy: Policy) -> list[str]:
    """What a policy will do, in lines a person can check before trusting it.

    Every value comes from the file: anything that does not print (escape
    sequences that could hide or fake a line) is shown escaped.
    """
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
    if not policy.scrub:
        lines.append("subprocess:  not scrubbed ([claude] scrub_subprocess_env = false): the "
                     "agent's Bash tool, hooks and MCP servers see the key in export/exec mode")
    if policy.routing:
        lines.append("routing:     " + json.dumps(dict(policy.routing), ensure_ascii=True))
    if policy.attribution:
        lines.append("attribution: " + json.dumps(dict(policy.attribution), ensure_ascii=True))
    if len(policy.files) > 1:
        lines.append("inherits:    " + ", ".join(pf.path for pf in policy.files[1:]))
    return [safe(line) for line in lines]


def run(args: argparse.Namespace) -> int:
    path = target_policy(args.path)
    # One read: what is shown is exactly what is hashed and trusted, even if the
    # file is swapped meanwhile. A file that does not parse is refused here.
    pf = read_policy_file(path)
    warning = None
    try:
        config = load_config()
        policy = resolve(find_chain(os.path.dirname(path), first=pf), config)
        for line in describe(policy):
            say(line)
        from ..models import model_warnings

        for w in [*policy.warnings, *model_warnings(policy.models, policy.base_url)]:
            say(f"orenv: warning: {w}", file=sys.stderr)
        if policy.enabled:
            warning = guard.refusal([os.path.dirname(path)], os.environ, config,
                                    policy_env(policy, {}, key_value=None), policy.mode)
    except OrenvError as exc:
        warning = exc.message
    trust.allow(path, pf.content)
    touch_stamp()
    say(f"allowed {path}")
    sync_helpers()
    if warning:
        say(f"orenv: warning: allowed, but it will not apply yet: {warning}", file=sys.stderr)
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("allow", help="trust a policy file (prints what it will do first)")
    p.add_argument("path", nargs="?", help="policy file or its directory (default: nearest)")
    p.set_defaults(func=run)
