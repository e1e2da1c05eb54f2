"""`orenv doctor [--online] [--json] [--dir D]`: find what stops orenv from working here.

Each finding has a severity (error, warning, info, ok) and a fix. The exit
status is 1 when an error was found; warnings alone keep 0, so scripts and CI
can use it. ``--online`` also asks OpenRouter: the key is valid, its remaining
limit, and every mapped model exists and supports tool use.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import claude, trust
from ..claude import Finding
from ..errors import ExitCode, OrenvError, PolicyError
from ..rules import MODEL_ALIASES
from ._common import cwd, print_json, say

__all__ = ["diagnose", "register"]

_HOOK_LINE = {
    "zsh": re.compile(r"^[^#]*orenv\S*\s+hook\s+zsh\b", re.M),
    "bash": re.compile(r"^[^#]*orenv\S*\s+hook\s+bash\b", re.M),
    "fish": re.compile(r"^[^#]*orenv\S*\s+hook\s+fish\b", re.M),
    "nu": re.compile(r"^[^#]*orenv\S*\s+hook\s+nu\b", re.M),
}


def rc_files(env: Mapping[str, str]) -> dict[str, Path]:
    home = Path(env.get("HOME") or os.path.expanduser("~"))
    zdot = env.get("ZDOTDIR") or ""
    xdg = env.get("XDG_CONFIG_HOME") or ""
    return {
        "zsh": Path(zdot if os.path.isabs(zdot) else home) / ".zshrc",
        "bash": home / ".bashrc",
        "fish": Path(xdg if os.path.isabs(xdg) else home / ".config") / "fish" / "config.fish",
        "nu": Path(xdg if os.path.isabs(xdg) else home / ".config") / "nushell" / "config.nu",
    }


def check_hook(env: Mapping[str, str]) -> list[Finding]:
    out: list[Finding] = []
    with_hook: list[tuple[str, Path]] = []
    without: list[tuple[str, Path]] = []
    for shell, rc in rc_files(env).items():
        if shutil.which(shell, path=env.get("PATH")) is None:
            continue
        try:
            text = rc.read_text(encoding="utf-8", errors="replace")
        except OSError:
            text = ""
        (with_hook if _HOOK_LINE[shell].search(text) else without).append((shell, rc))
    active = bool(env.get("ORENV_STATE") or env.get("ORENV_VARS"))
    for shell, rc in with_hook:
        out.append(Finding("ok", "hook-installed", f"{shell}: the hook is in {rc}"))
    if active:
        out.append(Finding("ok", "hook-active", "the hook is active in this shell"))
    current = os.path.basename(env.get("SHELL", "")).lstrip("-")
    if not with_hook and without and current not in [sh for sh, _ in without]:
        current = without[0][0]  # one error is enough: name the first shell
    for shell, rc in without:
        line = {"zsh": 'eval "$(orenv hook zsh)"', "bash": 'eval "$(orenv hook bash)"',
                "fish": "orenv hook fish | source",
                "nu": "orenv hook nu | save -f ($nu.user-autoload-dirs | first "
                      "| path join orenv.nu)"}[shell]
        severity = "info"
        if shell == current and not active:
            severity = "warning" if with_hook else "error"
        out.append(Finding(severity, "hook-missing", f"{shell}: no orenv hook in {rc}",
                           f"add `{line}` to {rc} (or run ./install.sh)"))
    if not with_hook and not without and not active:
        out.append(Finding("error", "hook-missing", "no supported shell with the orenv hook",
                           "run ./install.sh, or add `eval \"$(orenv hook zsh)\"` to ~/.zshrc"))
    return out


def check_daemon() -> list[Finding]:
    """Daemon health; a daemon that is not running is fine (it starts on demand)."""
    from ..daemon.client import request
    from .daemon import _sock

    try:
        st = request(_sock(), {"op": "status"}, timeout=1.0)
    except (OSError, ValueError):
        return [Finding("info", "daemon-down", "daemon: not running (the hook starts it on "
                        "the next cd and uses `orenv export` meanwhile)",
                        "`orenv daemon start` to start it now")]
    if not st.get("ok"):
        return [Finding("warning", "daemon-error", "daemon: answered with an error",
                        "`orenv daemon stop` then `orenv daemon start`; see "
                        "$XDG_STATE_HOME/orenv/daemon.log")]
    rss = float(st.get("rss_bytes", 0)) / 1048576
    return [Finding("ok", "daemon-running",
                    f"daemon: running (pid {st.get('pid')}, {len(st.get('shells', []))} shells, "
                    f"{rss:.0f} MiB)")]


def check_keyring() -> list[Finding]:
    """Which stores can hold keys here: the keyring (Secret Service) and the daemon's memory.

    No Secret Service (SSH, containers, WSL, CI) is not an error: `orenv key add`
    holds keys in the daemon's memory instead. A Secret Service that is there but
    locked is, and says how to unlock it.
    """
    from .. import memstore
    from ..secrets import _read_index, check_backend, secret_service_state, store_of

    out: list[Finding] = []
    state = secret_service_state()
    if state == "absent":
        from ..secrets import _service_reachable

        why = _service_reachable()[1]
        out.append(Finding(
            "info", "keyring-absent",
            f"keyring: no Secret Service is reachable in this session ({why}): usual over "
            "SSH, in containers, WSL and CI. orenv never falls back to a file; it holds keys "
            "you add with `orenv key add` in the daemon's memory, until their lifetime ends, "
            "logout or reboot",
            "`orenv key add NAME [--lifetime 8h]` (see README: SSH, containers, WSL), or "
            "start a Secret Service (gnome-keyring, KeePassXC) to keep keys across logins"))
    elif state == "locked":
        out.append(Finding("error", "keyring-locked",
                           "keyring: the Secret Service is running but its keyring is locked",
                           "unlock it: log in to the desktop, or run "
                           "`gnome-keyring-daemon --unlock` on this terminal; or hold a key "
                           "in memory with `orenv key add NAME`"))
    else:
        try:
            name = check_backend()
        except OrenvError as exc:
            out.append(Finding("error", "keyring", f"keyring: {exc.message}",
                               "start a Secret Service (gnome-keyring or KeePassXC) and "
                               "unlock it, or hold a key in memory with `orenv key add NAME`"))
        else:
            out.append(Finding("ok", "keyring", f"keyring: {name}"))
    names = sorted(n for n, m in _read_index().items() if store_of(m) == "memory")
    if names:
        held = memstore.listing() or {}
        parts = [f"{n} {memstore.describe_expiry(held[n].get('expires'))}" if n in held
                 else f"{n} gone" for n in names]
        unlocked = [n for n in names if n in held and not held[n].get("locked")]
        out.append(Finding(
            "warning" if unlocked else "ok", "memory-store",
            "memory store (orenv daemon): " + "; ".join(parts)
            + (f"; not locked in RAM: {', '.join(unlocked)}" if unlocked else ""),
            "raise `ulimit -l` (RLIMIT_MEMLOCK) so the daemon can lock keys in RAM"
            if unlocked else ""))
    return out


def _policy_checks(directory: str, env: Mapping[str, str], online: bool) -> list[Finding]:
    from ..config import load_config
    from ..policy import find_chain, resolve
    from ..render import policy_env

    out: list[Finding] = []
    try:
        config = load_config()
    except PolicyError as exc:
        return [Finding("error", "config-invalid", exc.message, "fix the global config.toml")]
    try:
        chain = find_chain(directory)
    except PolicyError as exc:
        return [Finding("error", "policy-invalid", exc.message,
                        f"fix the file (see `orenv allow {shlex.quote(exc.path)}` for what it "
                        "would do)"), *claude.conflicts(directory, env, policy_env=None,
                                                         mode=None)]
    if not chain:
        out.append(Finding("info", "no-policy",
                           f"no .orenv.toml at or above {directory}: orenv is inactive here",
                           "run `orenv init --key NAME` in a project"))
        return out + claude.conflicts(directory, env, policy_env=None, mode=None)
    trusted = True
    for pf in chain:
        st = trust.status(pf.path, pf.content)
        if st is not trust.TrustStatus.ALLOWED:
            trusted = False
            out.append(Finding("error", "policy-untrusted", f"{pf.path} is {st.value}",
                               f"review it, then `orenv allow {shlex.quote(pf.path)}`"))
    try:
        policy = resolve(chain, config)
    except PolicyError as exc:
        code = "host-not-allowed" if "allowed_hosts" in exc.message else "policy-invalid"
        fix = (f"add the host to allowed_hosts in {config.path or 'config.toml'} if you "
               "trust it, or fix base_url" if code == "host-not-allowed" else "fix the file")
        out.append(Finding("error", code, exc.message, fix))
        return out
    if not policy.enabled:
        out.append(Finding("info", "policy-disabled",
                           f"{policy.path} switches orenv off here (enabled = false)"))
        return out
    for w in policy.warnings:
        out.append(Finding("warning", "policy-option-left-out", w,
                           "fix or remove it (see README: failover, privacy and budgets)"))
    version = claude.code_version(env)
    misread = claude.misread_ids(policy.models.values(), version)
    if misread:
        shown = ".".join(map(str, version or ()))
        out.append(Finding(
            "info", "model-display",
            f"Claude Code {shown} shows {', '.join(misread)} as an older model (\"Opus 4\", "
            "\"Sonnet 4\", and a \"was retired\" notice as the main model); the requests "
            "carry these IDs all the same. Claude Code 2.1.332 reads OpenRouter's dotted IDs "
            "right",
            "update Claude Code (`claude update`, or npm's @anthropic-ai/claude-code); "
            "OpenRouter's IDs are dotted, and other forms are not known to be accepted"))
    from ..sandbox import scrub_possible

    possible, why = scrub_possible()
    if policy.mode in ("export", "exec") and not (policy.scrub and possible):
        reason = why if policy.scrub else "[claude] scrub_subprocess_env = false"
        out.append(Finding(
            "warning" if policy.scrub else "info", "subprocess-env",
            f"Claude Code's Bash tool, hooks and MCP servers inherit the key here ({reason})",
            "install bubblewrap and socat, so orenv can set CLAUDE_CODE_SUBPROCESS_ENV_SCRUB"
            if policy.scrub else "remove scrub_subprocess_env = false, or use helper mode"))
    if trusted:
        out.append(Finding("ok", "policy", f"policy {policy.path}: valid and allowed "
                           f"(key {policy.key!r} -> {policy.host}, mode {policy.mode})"))
        out.append(Finding("ok", "host-allowed", f"host {policy.host} is in allowed_hosts"))
    key_value: str | None = None
    from ..secrets import get_key

    assert policy.key is not None
    if trusted:
        from ..secrets import _read_index, secret_service_state, store_of

        meta = _read_index().get(policy.key)
        try:
            key_value = get_key(policy.key)
            where = "in the keyring"
            if meta is None or store_of(meta) == "memory":
                from .. import memstore

                held = (memstore.listing() or {}).get(policy.key)
                if held is not None:
                    where = ("held in memory by the orenv daemon, "
                             + memstore.describe_expiry(held.get("expires")))
            out.append(Finding("ok", "key-present", f"key {policy.key!r} is {where}"))
        except OrenvError as exc:
            memory = (meta is not None and store_of(meta) == "memory") or \
                secret_service_state() == "absent"
            fix = (f"`orenv key add {policy.key}` (holds it in the daemon's memory; the key "
                   "is read from a hidden prompt or stdin)" if memory
                   else f"`orenv key set {policy.key}` (the key is read from stdin)")
            out.append(Finding("error", "key-missing", exc.message, fix))
    # A policy nobody allowed never reads the keyring, nor chooses where a key goes.
    wanted = policy_env(policy, {}, key_value=None)
    from .. import guard

    problem = guard.refusal([directory], env, config, wanted, policy.mode) if trusted else None
    if problem:
        out.append(Finding("error", "claude-settings-redirect", problem,
                           "remove that entry from the file named (Claude Code's settings "
                           "beat the shell); orenv hands out no key here until then"))
    found = claude.conflicts(directory, env, policy_env=wanted if trusted else None,
                             mode=policy.mode if trusted else None,
                             policy_dir=os.path.dirname(policy.path))
    out.extend(found)
    if trusted and not problem and not any(f.severity in ("error", "warning") for f in found):
        out.append(Finding("ok", "claude-clean", "Claude Code: no settings, login or "
                           "variable overrides orenv's setup here"))
    if online and key_value is not None:
        out.extend(_online(policy, key_value))  # orenv's own request: to the allowed host
    elif not online:
        from ..models import model_warnings

        for w in model_warnings(policy.models, policy.base_url):
            out.append(Finding("warning", "model-unusable", f"{w} (cached model list)",
                               "pick a tool-capable model from `orenv models --tools`; "
                               "`orenv doctor --online` checks against OpenRouter now"))
    elif online:
        why = "no key" if trusted else "the policy is not allowed"
        out.append(Finding("info", "online-skipped", f"online checks skipped: {why}"))
    return out


def _online(policy: Any, key_value: str) -> list[Finding]:
    from .. import keychecks
    from ..budget import format_usd
    from ..errors import NetworkError, OpenRouterError
    from ..models import check_model, load_models
    from ..openrouter import OpenRouterClient

    out: list[Finding] = []
    try:
        with keychecks.checking(policy.key, "doctor --online"):
            info = OpenRouterClient(policy.base_url, key_value).key_info()
    except OpenRouterError as exc:
        fix = (f"store a valid key: `orenv key set {policy.key}`" if exc.status in (401, 403)
               else "add credits or raise the key's limit on openrouter.ai"
               if exc.status == 402 else "try again later")
        out.append(Finding("error", "key-invalid" if exc.status in (401, 403) else "key-check",
                           exc.message, fix))
        return out
    except NetworkError as exc:
        out.append(Finding("error", "offline", exc.message, "check the network or base_url"))
        return out
    label = info.get("label")
    out.append(Finding("ok", "key-valid", f"OpenRouter accepts key {policy.key!r}"
                       + (f" (label {label!r})" if isinstance(label, str) and label else "")))
    remaining = info.get("limit_remaining")
    limit = info.get("limit")
    if isinstance(remaining, int | float) and not isinstance(remaining, bool):
        warn_below = policy.warn_below_usd
        if remaining <= 0:
            out.append(Finding("error", "limit-exhausted",
                               f"key {policy.key!r} has no limit left ($0.00 of "
                               f"{format_usd(_usd(limit))} remaining): "
                               "requests fail with 402",
                               "raise the key's limit on openrouter.ai, or wait for its reset"))
        elif warn_below is not None and remaining < warn_below:
            out.append(Finding("warning", "limit-low",
                               f"key {policy.key!r} has {format_usd(float(remaining))} left, "
                               f"below warn_below_usd ({format_usd(warn_below)})",
                               "raise the key's limit on openrouter.ai"))
        else:
            out.append(Finding("ok", "limit", f"key {policy.key!r}: "
                               f"{format_usd(float(remaining))} of {format_usd(_usd(limit))} "
                               "left"))
    else:
        out.append(Finding("ok", "limit", f"key {policy.key!r} has no spending limit"))

    models = {slot: m for slot, m in policy.models.items()}
    if not models:
        out.append(Finding("warning", "no-models",
                           "no [models] mapping: Claude Code asks for its own model names, "
                           "which OpenRouter does not know",
                           "map opus/sonnet/haiku to OpenRouter ids (`orenv models --tools`)"))
        return out
    try:
        catalogue = load_models(policy.base_url, key_value)
    except OrenvError as exc:
        out.append(Finding("warning", "models-unavailable",
                           f"cannot check the models: {exc.message}", "try again later"))
        return out
    for slot, model in models.items():
        if slot == "default" and model in MODEL_ALIASES:
            needed = MODEL_ALIASES[model]
            if not needed or any(s in policy.models for s in needed):
                continue
            out.append(Finding("warning", "model-alias-unmapped",
                               f"[models] default = {model!r} but there is no [models] "
                               f"{' or '.join(needed)}: Claude Code asks for its own model id, "
                               "which OpenRouter does not know",
                               f"add `{needed[0]} = \"<OpenRouter id>\"` under [models]"))
            continue
        ok, reason = check_model(model, catalogue)
        if ok:
            out.append(Finding("ok", "model", f"[models] {slot}: {reason}"))
        else:
            out.append(Finding("error", "model-unusable", f"[models] {slot}: {reason}",
                               "pick a tool-capable model from `orenv models --tools`"))
    return out


def _usd(value: Any) -> float | None:
    """A number from OpenRouter's reply, or None (shown as "-")."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def diagnose(directory: str, env: Mapping[str, str], *, online: bool = False) -> list[Finding]:
    """Every check, in the order doctor prints them."""
    out = check_hook(env)
    out += check_daemon()
    out += check_keyring()
    out += _policy_checks(directory, env, online)
    return out


def run(args: argparse.Namespace) -> int:
    findings = diagnose(cwd(args.dir), os.environ, online=args.online)
    errors = sum(f.severity == "error" for f in findings)
    warnings = sum(f.severity == "warning" for f in findings)
    if args.json:
        print_json({"ok": errors == 0, "errors": errors, "warnings": warnings,
                    "findings": [f.as_dict() for f in findings]})
    else:
        for f in findings:
            say(f"[{f.severity}] {f.message}")
            if f.fix and f.severity in ("error", "warning", "info"):
                say(f"    fix: {f.fix}")
        say(f"{errors} error(s), {warnings} warning(s)")
    return int(ExitCode.ERROR) if errors else int(ExitCode.OK)


def register(sub: Any) -> None:
    p = sub.add_parser("doctor", help="check the hook, keyring, policy, Claude Code settings "
                       "(and with --online the key and models)")
    p.add_argument("--online", action="store_true",
                   help="also check the key, its limit and the models with OpenRouter")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--dir", help="directory to check (default: current)")
    p.set_defaults(func=run)
