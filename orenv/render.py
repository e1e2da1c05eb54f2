"""Pure mapping from an effective policy to environment variables.

No I/O here: the key value and the environment the policy is applied over
are passed in, so tests use plain dicts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .errors import PolicyError
from .policy import MODEL_VARS, Policy

__all__ = [
    "MARKERS",
    "SCRUB_VAR",
    "SECRET_VARS",
    "custom_headers",
    "extra_body",
    "policy_env",
    "routing_body",
]

SECRET_VARS = frozenset({"ANTHROPIC_AUTH_TOKEN"})
# Non-secret markers for prompts, nested shells and `orenv status`: names,
# paths and states only, never a value orenv replaced.
MARKERS = ("ORENV_ACTIVE", "ORENV_PROFILE", "ORENV_STATE", "ORENV_MODE", "ORENV_VARS")


def routing_body(routing: Mapping[str, Any]) -> dict[str, Any]:
    """The OpenRouter ``provider`` preferences object for a ``[routing]`` table."""
    return {k: routing[k] for k in sorted(routing)}


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in extra.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def extra_body(existing: str | None, routing: Mapping[str, Any], *, where: str) -> str | None:
    """Merge ``{"provider": routing}`` into an existing CLAUDE_CODE_EXTRA_BODY."""
    if not routing:
        return existing
    base: dict[str, Any] = {}
    if existing:
        try:
            parsed = json.loads(existing)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise PolicyError(where, "CLAUDE_CODE_EXTRA_BODY is set but is not a JSON object, "
                              "so [routing] cannot be merged into it; fix or unset it",
                              key="routing")
        base = parsed
    merged = _merge(base, {"provider": routing_body(routing)})
    return json.dumps(merged, separators=(",", ":"), ensure_ascii=False)


def custom_headers(existing: str | None, attribution: Mapping[str, str]) -> str | None:
    """Add OpenRouter attribution headers to ANTHROPIC_CUSTOM_HEADERS lines."""
    if not attribution:
        return existing
    ours = {}
    if "referer" in attribution:
        ours["HTTP-Referer"] = attribution["referer"]
    if "title" in attribution:
        ours["X-OpenRouter-Title"] = attribution["title"]
    if "categories" in attribution:
        ours["X-OpenRouter-Categories"] = attribution["categories"]
    lower = {k.lower() for k in ours}
    kept = [
        line for line in (existing or "").splitlines()
        if line.strip() and line.split(":", 1)[0].strip().lower() not in lower
    ]
    kept.extend(f"{k}: {v}" for k, v in ours.items())
    return "\n".join(kept)


SCRUB_VAR = "CLAUDE_CODE_SUBPROCESS_ENV_SCRUB"


def policy_env(
    policy: Policy,
    base_env: Mapping[str, str],
    *,
    key_value: str | None,
    can_scrub: bool | None = None,
) -> dict[str, str]:
    """Variables that make Claude Code use *policy*, applied over *base_env*.

    ``key_value`` None leaves the token out (exec and helper modes in the
    shell). ``can_scrub``: whether Claude Code's sandbox runs here; None asks
    :func:`orenv.sandbox.scrub_possible` (cached), the one fact from outside.
    Returns name -> value; nothing is ever unset by a policy.
    """
    if not policy.enabled:
        return {}
    env: dict[str, str] = {"ANTHROPIC_BASE_URL": policy.base_url}
    if key_value is not None:
        env["ANTHROPIC_AUTH_TOKEN"] = key_value
    # Set and empty: Claude Code must never send a real Anthropic key to OpenRouter.
    env["ANTHROPIC_API_KEY"] = ""
    for slot, var in MODEL_VARS.items():
        if slot in policy.models:
            env[var] = policy.models[slot]
    if can_scrub is None:
        from .sandbox import scrub_possible

        can_scrub = scrub_possible()[0]
    if policy.scrub and can_scrub:
        # The agent's Bash tool, hooks and MCP servers do not inherit the key.
        env[SCRUB_VAR] = "1"
    env.update(policy.env)
    body = extra_body(env.get("CLAUDE_CODE_EXTRA_BODY", base_env.get("CLAUDE_CODE_EXTRA_BODY")),
                      policy.routing, where=policy.path)
    if body is not None and policy.routing:
        env["CLAUDE_CODE_EXTRA_BODY"] = body
    headers = custom_headers(
        env.get("ANTHROPIC_CUSTOM_HEADERS", base_env.get("ANTHROPIC_CUSTOM_HEADERS")),
        policy.attribution,
    )
    if headers is not None and policy.attribution:
        env["ANTHROPIC_CUSTOM_HEADERS"] = headers
    return env
