"""`orenv status [--json]`: the active policy, its trust, and what it sets.

Values of secret variables are masked; other values are shown as they are.
``collect`` returns plain data so other commands (doctor) can build on it.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from typing import Any

from .. import budget, claude, sessions, trust
from .._text import marker
from ..activation import compute
from ..errors import OrenvError
from ..policy import Policy, find_nearest, read_policy_file
from ..render import MARKERS, SECRET_VARS
from ..secrets import mask
from ._common import cwd, print_json, say

__all__ = ["collect", "register"]


def _files(directory: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    path = find_nearest(directory)
    while path:
        entry: dict[str, Any] = {"path": path}
        try:
            pf = read_policy_file(path)
            entry["trust"] = trust.status(path, pf.content).value
            inherit = pf.inherit
        except OrenvError as exc:
            entry["error"] = exc.message
            inherit = False
        out.append(entry)
        if not inherit:
            break
        parent = os.path.dirname(os.path.dirname(path))
        nxt = find_nearest(parent)
        if nxt == path:
            break
        path = nxt
    return out


def collect(directory: str, env: Mapping[str, str]) -> dict[str, Any]:
    # The shell's environment may hold orenv's own values; compute over the
    # environment without them so the answer matches what a fresh cd gives.
    act = compute(directory, env)
    p = act.policy
    variables = {
        name: (mask(value) if name in SECRET_VARS else value)
        for name, value in act.env.items() if name not in MARKERS
    }
    data: dict[str, Any] = {
        "directory": directory,
        "state": act.state,
        "message": act.message,
        "files": _files(directory),
        "profile": p.name if p else None,
        "mode": p.mode if p else None,
        "key": p.key if p else None,
        "warnings": list(p.warnings) if p else [],
        "base_url": p.base_url if p else None,
        "host": p.host if p else None,
        "variables": variables,
        "shell": {
            "active": env.get("ORENV_ACTIVE"),
            "state": env.get("ORENV_STATE"),
            "in_sync": (env.get("ORENV_ACTIVE") == (marker(p.path) if p and act.state == "active"
                                                      else None)),
        },
    }
    # Remaining budget from the cache `orenv usage` fills: never a network call here.
    data["budget"] = budget.status_entry(p.key, p.warn_below_usd) if p and p.enabled else None
    # What Claude Code started here will actually use, and what overrides orenv.
    active = p is not None and act.state == "active"
    data["claude"] = claude.status_entry(
        directory, env,
        policy_env={k: v for k, v in act.env.items()
                    if k not in MARKERS and k not in SECRET_VARS} if active else None,
        mode=p.mode if active and p else None,
        policy_dir=os.path.dirname(p.path) if p else None)
    # Claude Code sessions running in this project that started with an older setup.
    data["sessions"] = sessions.status_entry(
        p if active else None, key=lambda: _current_key(act.env, p))
    return data


def _current_key(env: Mapping[str, str], policy: Policy | None) -> str | None:
    """The policy's key now, to compare with a running session's (never shown)."""
    if policy is None or policy.key is None or policy.mode == "helper":
        return None
    if "ANTHROPIC_AUTH_TOKEN" in env:
        return env["ANTHROPIC_AUTH_TOKEN"]
    from ..secrets import get_key

    try:
        return get_key(policy.key)
    except OrenvError:
        return None


def render_text(data: Mapping[str, Any]) -> list[str]:
    lines = [f"directory: {data['directory']}"]
    if not data["files"]:
        lines.append("policy:    none (no .orenv.toml here or above)")
        return lines + claude.status_lines(data.get("claude"))
    for f in data["files"]:
        lines.append(f"policy:    {f['path']} ({f.get('trust') or f.get('error')})")
    lines.append(f"state:     {data['state']}")
    if data["message"]:
        lines.append(f"problem:   {data['message']}")
    if data["profile"]:
        lines.append(f"profile:   {data['profile']} (mode {data['mode']}, key {data['key']!r} "
                     f"-> {data['host']})")
    for name, value in data["variables"].items():
        lines.append(f"  {name}={value!r}")
    for w in data.get("warnings") or []:
        lines.append(f"warning:   {w}")
    lines.extend(budget.status_lines(data.get("budget")))
    if not data["shell"]["in_sync"]:
        lines.append("shell:     this shell's environment differs (hook not installed, or "
                     "it updates at the next prompt)")
    lines.extend(sessions.status_lines(data.get("sessions")))
    lines.extend(claude.status_lines(data.get("claude")))
    return lines


def run(args: argparse.Namespace) -> int:
    data = collect(cwd(args.dir), os.environ)
    if args.json:
        print_json(data)
    else:
        for line in render_text(data):
            say(line)
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("status", help="show the active policy, trust state and variables")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--dir", help="directory to report on (default: current)")
    p.set_defaults(func=run)
