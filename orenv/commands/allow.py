"""`orenv allow [PATH]`: show what a policy will do, then trust it."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

from .. import guard, trust
from .._fsutil import touch_stamp
from .._text import safe
from ..config import load_config
from ..errors import OrenvError, PolicyError
from ..policy import MODEL_VARS, Policy, PolicyFile, find_chain, read_policy_file, resolve
from ..render import policy_env
from ._common import say, sync_helpers, target_policy

__all__ = ["allow_file", "describe", "register", "toml_value"]


def toml_value(value: Any) -> str:
    """*value* as it would be written in TOML (inline tables for dicts), on one line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=True)
    if isinstance(value, Mapping):
        inner = ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items())
        return f"{{ {inner} }}" if inner else "{}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=True)


def describe(policy: Policy) -> list[str]:
    """What a policy will do, in lines a person can check before trusting it.

    Every value comes from the file: anything that does not print (escape
    sequences that could hide or fake a line) is shown escaped.
    """
    if not policy.enabled:
        return ["orenv is switched off here (enabled = false): parent policies are unloaded"]
    sends = (f"{policy.key!r} (from the keyring) to {policy.host}" if policy.key is not None
             else "none named (add key = \"NAME\" under [openrouter])")
    lines = [
        f"profile:     {policy.name}",
        f"sends key:   {sends}",
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
    for label, table in (("routing:", policy.routing), ("attribution:", policy.attribution)):
        for i, (key, value) in enumerate(table.items()):
            lines.append(f"{label if i == 0 else '':<13}{key} = {toml_value(value)}")
    if len(policy.files) > 1:
        lines.append("inherits:    " + ", ".join(pf.path for pf in policy.files[1:]))
    return [safe(line) for line in lines]


def run(args: argparse.Namespace) -> int:
    path = target_policy(args.path)
    # One read: what is shown is exactly what is hashed and trusted, even if the
    # file is swapped meanwhile. A file that does not parse is refused here.
    allow_file(path, read_policy_file(path))
    return 0


def allow_file(path: str, pf: PolicyFile, confirm: Callable[[], bool] | None = None) -> bool:
    """Show what *pf* (one read of *path*) will do, then trust exactly those bytes.

    *confirm*: asked after the summary; a no leaves the file untrusted (False).
    """
    warning = None
    try:
        config = load_config()
        chain = find_chain(os.path.dirname(path), first=pf)
        try:
            policy = resolve(chain, config)
        except PolicyError as exc:
            # Refused as it stands (a host not in allowed_hosts…): still show what
            # it would do; the refusal follows "allowed", below.
            policy = resolve(chain, config, check=False)
            warning = exc.message
        for line in describe(policy):
            say(line)
        from ..models import model_warnings

        for w in [*policy.warnings, *model_warnings(policy.models, policy.base_url)]:
            say(f"orenv: warning: {w}", file=sys.stderr)
        if policy.enabled and warning is None:
            warning = guard.refusal([os.path.dirname(path)], os.environ, config,
                                    policy_env(policy, {}, key_value=None), policy.mode)
    except OrenvError as exc:
        warning = exc.message
    if confirm is not None and not confirm():
        say(f"not allowed: {path} (`orenv allow` trusts it after you have read it)")
        return False
    trust.allow(path, pf.content)
    touch_stamp()
    say(f"allowed {path}")
    sync_helpers()
    if warning:
        say(f"orenv: warning: allowed, but it will not apply yet: {warning}", file=sys.stderr)
    return True


def register(sub: Any) -> None:
    p = sub.add_parser("allow", help="trust a policy file (prints what it will do first)")
    p.add_argument("path", nargs="?", help="policy file or its directory (default: nearest)")
    p.set_defaults(func=run)
