"""Running Claude Code sessions that still use an older setup.

Claude Code reads its environment once, when it starts: after ``orenv key
set`` or a policy change, a session that is already running keeps the
previous key, models, routing… until it is restarted. This module finds those
sessions (``scan``: a thin psutil pass over this user's ``claude`` processes,
bounded in time) and says what differs (``changes``: pure, plain mappings in).

Secrets: a process's key is turned into a SHA-256 digest as soon as its
environment is read and the value is dropped; it is compared with the digest
of the current key (``hmac.compare_digest``), never printed, logged or kept.
Other variables are kept only when orenv compares them (its own names, the
``provider`` object of ``CLAUDE_CODE_EXTRA_BODY``, the attribution header
lines), so a process's other secrets are not held either.

Helper mode is not flagged for a new key: Claude Code asks ``orenv token``
again after 5 minutes or a 401, so it picks up a rotated key by itself.
Where another process's environment cannot be read (macOS, hardened
processes), the answer is "cannot tell".
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ._text import marker
from .policy import MODEL_VARS, Policy, find_nearest
from .render import MARKERS, SCRUB_VAR, SECRET_VARS, custom_headers, policy_env, routing_body

__all__ = [
    "FIX",
    "SCAN_SECONDS",
    "Report",
    "Running",
    "changes",
    "check",
    "digest",
    "is_claude",
    "notice",
    "same_policy",
    "scan",
    "started_with",
    "status_entry",
    "status_lines",
]

CLAUDE_NAMES = frozenset({"claude", "claude.exe"})
_NODE_NAMES = frozenset({"node", "nodejs", "bun"})
SCAN_SECONDS = 0.5
FIX = "restart it: /exit in that session, then run claude again"
_BODY = "CLAUDE_CODE_EXTRA_BODY"
_HEADERS = "ANTHROPIC_CUSTOM_HEADERS"
_ATTRIBUTION_HEADERS = ("http-referer", "x-openrouter-title", "x-openrouter-categories")
# Read from a process's environment and compared; every other name is dropped.
_COMPARED = frozenset({"ANTHROPIC_BASE_URL", SCRUB_VAR, *MODEL_VARS.values(), *MARKERS})
_NOT_KEPT = frozenset({*SECRET_VARS, "ANTHROPIC_API_KEY", _BODY, _HEADERS})
_SLOT_OF = {var: slot for slot, var in MODEL_VARS.items()}


@dataclass(frozen=True)
class Running:
    """One running Claude Code process of this user.

    ``env``: the variables it started with that orenv compares (None when its
    environment cannot be read); ``token``: SHA-256 of its
    ``ANTHROPIC_AUTH_TOKEN``, None without one. Neither is ever shown.
    """

    pid: int
    cwd: str
    started: float
    env: Mapping[str, str] | None = field(default=None, repr=False)
    token: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Report:
    """What ``check`` says about one process in a project."""

    pid: int
    cwd: str
    started: float
    state: str  # stale | current | unknown
    changes: tuple[str, ...] = ()
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"pid": self.pid, "cwd": self.cwd, "started": _iso(self.started),
                "state": self.state, "changes": list(self.changes), "note": self.note}


def digest(key: str) -> bytes:
    """The SHA-256 of a key: what ``changes`` compares, never the key itself."""
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()


def is_claude(name: str, cmdline: Iterable[str] = ()) -> bool:
    """A Claude Code process: the native ``claude``/``claude.exe``, or node running the CLI."""
    if name in CLAUDE_NAMES:
        return True
    argv = list(cmdline)
    if argv and os.path.basename(argv[0]) in CLAUDE_NAMES:
        return True
    if name not in _NODE_NAMES or len(argv) < 2:
        return False
    script = argv[1]
    return "@anthropic-ai/claude-code" in script or os.path.basename(script) in CLAUDE_NAMES


def started_with(environ: Mapping[str, str]) -> tuple[dict[str, str], bytes | None]:
    """The compared part of a process's environment, and its key's digest.

    Only orenv's own names are kept (and those its ``ORENV_VARS`` lists); of
    ``CLAUDE_CODE_EXTRA_BODY`` only the ``provider`` object, of
    ``ANTHROPIC_CUSTOM_HEADERS`` only the attribution lines. The key becomes a
    digest; the real ``ANTHROPIC_API_KEY`` and anything else are dropped.
    """
    listed = set(environ.get("ORENV_VARS", "").split())
    env = {k: v for k, v in environ.items()
           if (k in _COMPARED or k in listed) and k not in _NOT_KEPT}
    provider = _provider(environ.get(_BODY))
    if provider is not None:
        env[_BODY] = json.dumps(provider, sort_keys=True)
    elif _BODY in environ:
        env[_BODY] = ""
    if _HEADERS in environ:
        env[_HEADERS] = "\n".join(f"{k}: {v}" for k, v in
                                  sorted(_attribution(environ[_HEADERS]).items()))
    token = environ.get("ANTHROPIC_AUTH_TOKEN")
    return env, (digest(token) if token else None)


def _provider(body: str | None) -> Any:
    if not body:
        return None
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    return parsed.get("provider") if isinstance(parsed, dict) else None


def _attribution(headers: str | None) -> dict[str, str]:
    out = {}
    for line in (headers or "").splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip().lower() in _ATTRIBUTION_HEADERS:
            out[name.strip().lower()] = value.strip()
    return out


def _changed(label: str, then: str | None, now: str | None, *, values: bool = True) -> str | None:
    if then == now:
        return None
    if not values:
        return f"{label} changed"
    if then is None:
        return f"{label} added: {now}"
    if now is None:
        return f"{label} removed (was {then})"
    return f"{label} changed: {then} -> {now}"


def changes(
    env: Mapping[str, str],
    token: bytes | None,
    policy: Policy,
    *,
    key: bytes | None,
    can_scrub: bool | None = None,
) -> list[str] | None:
    """What differs between what a process started with and what *policy* gives now.

    *env*/*token*: from ``started_with``. *key*: the digest of the policy's
    key now, None when it cannot be read (the key is then not compared).
    Returns None for a process orenv did not set up (nothing to compare), else
    one short line per difference (no secret in any: a key is only "changed").
    """
    if "ANTHROPIC_BASE_URL" not in env or env.get("ORENV_STATE", "active") != "active":
        return None
    now = policy_env(policy, {}, key_value=None, can_scrub=can_scrub)
    listed = set(env.get("ORENV_VARS", "").split())

    def ours(var: str) -> bool:
        """Set by orenv then (its ORENV_VARS; all, started without one) or now."""
        return var in now or not listed or var in listed
    out: list[str | None] = []
    if "ORENV_ACTIVE" in env:
        then_path, now_path = env["ORENV_ACTIVE"], marker(policy.path)
        if _real(then_path) != _real(now_path):  # one project however it was reached
            out.append(_changed("policy", then_path, now_path))
    if "ORENV_MODE" in env:
        out.append(_changed("mode", env["ORENV_MODE"], policy.mode))
    if token is not None and key is not None and policy.mode in ("export", "exec") \
            and not hmac.compare_digest(token, key):
        out.append("key changed")
    out.append(_changed("base_url", env.get("ANTHROPIC_BASE_URL"), now.get("ANTHROPIC_BASE_URL")))
    for slot, var in MODEL_VARS.items():
        if ours(var):
            out.append(_changed(f"models.{slot}", env.get(var), now.get(var)))
    if ours(SCRUB_VAR):
        out.append(_changed("claude.scrub_subprocess_env", env.get(SCRUB_VAR),
                            now.get(SCRUB_VAR), values=False))
    # Routing: the policy's fields inside the `provider` object (the user's
    # own CLAUDE_CODE_EXTRA_BODY may add fields of its own, so those are not
    # compared).
    set_then = _BODY in listed if listed else bool(env.get(_BODY))
    then = json.loads(env[_BODY]) if env.get(_BODY) else None
    if policy.routing:
        want = json.loads(json.dumps(routing_body(policy.routing)))  # as it was sent
        if not isinstance(then, dict) or any(then.get(k) != v for k, v in want.items()):
            out.append("routing changed")
    elif set_then and then is not None:
        out.append("routing removed")
    if (_HEADERS in listed if listed else _HEADERS in env) or policy.attribution:
        now_headers = _attribution(custom_headers(None, policy.attribution))
        if _attribution(env.get(_HEADERS)) != now_headers:
            out.append("attribution changed")
    handled = {"ANTHROPIC_BASE_URL", SCRUB_VAR, _BODY, _HEADERS, *MODEL_VARS.values(),
               *MARKERS, *_NOT_KEPT}
    for name in sorted((listed | set(policy.env)) - handled):
        out.append(_changed(f"env.{name}", env.get(name), policy.env.get(name), values=False))
    return [line for line in out if line]


def _real(path: str) -> str:
    """*path* with its directory resolved (the file itself may be a link)."""
    return os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))


def same_policy(cwd: str, policy_path: str) -> bool:
    """Is *policy_path* the nearest policy of *cwd* (symlinked directories alike)?"""
    nearest = find_nearest(cwd)
    return nearest is not None and (nearest == policy_path
                                    or _real(nearest) == _real(policy_path))


def check(
    procs: Iterable[Running],
    policy: Policy,
    *,
    key: Callable[[], str | None],
    can_scrub: bool | None = None,
) -> list[Report]:
    """Reports for the processes running in *policy*'s project (its directory, or
    below where no nearer policy applies). *key* is called at most once, and only
    when a process holds a key to compare with; None: it cannot be read now.
    """
    reports: list[Report] = []
    want: list[bytes | None] = []
    helper = policy.mode == "helper"
    for proc in procs:
        if not same_policy(proc.cwd, policy.path):
            continue
        if proc.env is None:
            reports.append(Report(proc.pid, proc.cwd, proc.started, "unknown",
                                  note="cannot tell: its environment is not readable here"))
            continue
        key_digest = None
        if proc.token is not None and not helper:
            if not want:
                value = key()
                want.append(digest(value) if value else None)
            key_digest = want[0]
        found = changes(proc.env, proc.token, policy, key=key_digest, can_scrub=can_scrub)
        if found is None:
            continue  # not started with orenv's setup: nothing to compare
        note = None
        if helper:
            note = "gets a rotated key by itself (apiKeyHelper)"
        elif proc.token is not None and key_digest is None:
            note = "key: cannot tell (the keyring did not answer)"
        reports.append(Report(proc.pid, proc.cwd, proc.started,
                              "stale" if found else "current", tuple(found), note))
    return sorted(reports, key=lambda r: (r.started, r.pid))


def notice(reports: Iterable[Report]) -> str | None:
    """The one line a shell prints after a reload, or None when no session is stale."""
    stale = [r for r in reports if r.state == "stale"]
    if not stale:
        return None
    kinds = []
    every = [c for r in stale for c in r.changes]
    if "key changed" in every:
        kinds.append("key")
    if any(c.startswith("models.") for c in every):
        kinds.append("models")
    if any(c != "key changed" and not c.startswith("models.") for c in every):
        kinds.append("setup")
    what = "/".join(kinds[:2]) if "setup" not in kinds else "setup"
    n = len(stale)
    pids = ", ".join(str(r.pid) for r in stale[:8]) + (", …" if n > 8 else "")
    return (f"orenv: {n} running claude session{'s' if n > 1 else ''} in this project still "
            f"use{'s' if n == 1 else ''} the previous {what} "
            f"(pid{'s' if n > 1 else ''} {pids}): restart {'them' if n > 1 else 'it'}")


def scan(deadline: float = SCAN_SECONDS) -> tuple[list[Running], bool]:
    """This user's running Claude Code processes, and whether the scan finished.

    Stops after *deadline* seconds (a partial answer). A process whose
    working directory cannot be read is left out; one whose environment
    cannot be read is kept with ``env`` None ("cannot tell").
    """
    import psutil  # type: ignore[import-untyped]

    end = time.monotonic() + deadline
    uid, me = os.getuid(), os.getpid()
    found: list[Running] = []
    for proc in psutil.process_iter(["name", "uids"]):
        if time.monotonic() > end:
            return found, False
        info = proc.info
        uids = info.get("uids")
        name = info.get("name") or ""
        if proc.pid == me or uids is None or uids.real != uid:
            continue
        if name not in CLAUDE_NAMES and name not in _NODE_NAMES:
            continue
        try:
            with proc.oneshot():
                if not is_claude(name, proc.cmdline() if name in _NODE_NAMES else ()):
                    continue
                cwd, started = proc.cwd(), float(proc.create_time())
        except (psutil.Error, OSError, ValueError):
            continue
        try:
            env, token = started_with(proc.environ())
        except (psutil.Error, OSError):
            found.append(Running(proc.pid, cwd, started))
            continue
        found.append(Running(proc.pid, cwd, started, env, token))
    return found, True


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


def status_entry(
    policy: Policy | None,
    *,
    key: Callable[[], str | None],
    procs: tuple[list[Running], bool] | None = None,
) -> dict[str, Any] | None:
    """The ``sessions`` block of ``orenv status --json`` (None without an active policy)."""
    if policy is None or not policy.enabled:
        return None
    running, complete = procs if procs is not None else scan(2.0)
    reports = check(running, policy, key=key)
    return {"running": [r.to_json() for r in reports],
            "stale": sum(r.state == "stale" for r in reports),
            "complete": complete, "fix": FIX}


def status_lines(entry: Mapping[str, Any] | None) -> list[str]:
    """Text lines for ``orenv status`` from ``status_entry``."""
    if not entry:
        return []
    lines = []
    for r in entry.get("running", []):
        when = r["started"].replace("T", " ")[:19]
        head = f"running:   claude pid {r['pid']} (started {when}, in {r['cwd']})"
        if r["state"] == "stale":
            lines.append(f"{head}: uses an older setup")
            lines.extend(f"             {c}" for c in r["changes"])
            lines.append(f"  fix: {entry.get('fix') or FIX}")
        elif r["state"] == "current":
            lines.append(f"{head}: current")
        else:
            lines.append(f"{head}: {r.get('note') or 'cannot tell'}")
            continue
        if r.get("note"):
            lines.append(f"  note: {r['note']}")
    if not entry.get("complete", True):
        lines.append("running:   (the process scan stopped early; some sessions may be missing)")
    return lines
