"""`orenv init`: write a commented .orenv.toml here and allow it."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from typing import Any

from .. import trust
from .._fsutil import touch_stamp
from .._text import did_you_mean, safe
from ..errors import OrenvError, UsageError
from ..models import FALLBACK_DEFAULTS
from ..paths import POLICY_NAME
from ..policy import DEFAULT_BASE_URL, KEY_NAME_RE, MODES, find_nearest, parse
from . import key_provision
from ._common import ask, cwd, interactive, say, sync_helpers

__all__ = ["register", "template"]



def _toml_str(value: str) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def _suggestions() -> list[str]:
    """Tool-capable model IDs from the local cache (never the network)."""
    try:
        from ..models import cached_models
    except ImportError:
        return []
    try:
        models = cached_models() or []
    except Exception:
        return []
    # Written into the policy as comments: only IDs of model-ID characters (a
    # line break in one would become policy text that `init` then allows).
    from ..models import SAFE_ID

    return [m.id for m in models
            if getattr(m, "supports_tools", False) and SAFE_ID.match(m.id)][:12]


def template(key: str | None, mode: str | None, base_url: str | None, name: str | None = None,
             suggestions: list[str] | None = None,
             models: Mapping[str, str] | None = None, *,
             inherit_from: str | None = None, inherited: Mapping[str, Any] | None = None) -> str:
    """The commented policy ``init`` writes; *models*: slot -> id (default: built in).

    With *inherit_from* (the policy above), ``inherit = true`` and a None
    *key*/*mode*/*base_url* or empty *models* are written as comments showing
    what *inherited* from there, so the file overrides only what was asked.
    """
    inherited = inherited or {}
    models = dict(FALLBACK_DEFAULTS if models is None else models)
    lines = [
        "# orenv policy: what Claude Code uses in this directory and below.",
        "# Changes take effect after `orenv allow` (edits made with `orenv set` re-allow).",
        "# Reference: `orenv --help`, README.md.",
        "",
    ]
    if inherit_from:
        lines += [
            f"# Layered over {safe(inherit_from)}:",
            "# what this file leaves out comes from there (nearest wins per key).",
            "inherit = true",
        ]
    else:
        lines += [
            "# Layer this file over the next .orenv.toml up the tree (nearest wins per key).",
            "inherit = false",
        ]
    if name:
        lines.append(f"name = {_toml_str(name)}")

    def setting(field: str, value: str | None) -> str:
        if value is not None:
            return f"{field} = {_toml_str(value)}"
        shown = inherited.get(field)
        return (f"# {field} = {_toml_str(shown)}    # inherited" if shown is not None
                else f"# {field} = ...    # inherited")

    lines += [
        "",
        "[openrouter]",
        "# Name of a key in your OS keyring (`orenv key set NAME`), never the key itself.",
        setting("key", key),
        setting("base_url", base_url),
        '# export: key in the shell here; exec: only `orenv exec -- claude`;',
        "# helper: only Claude Code gets it, through apiKeyHelper (`orenv helper on`).",
        setting("mode", mode),
        "",
        "[models]",
        "# OpenRouter model IDs; they must support tool use (`orenv models --tools`).",
    ]
    for slot, model in models.items():
        lines.append(f"{slot} = {_toml_str(model)}")
    if inherit_from and not models:
        for slot, model in dict(inherited.get("models", {})).items():
            lines.append(f"# {slot} = {_toml_str(model)}    # inherited")
    if "fable" not in models:
        lines.append('# fable = "<OpenRouter id>"    # -> ANTHROPIC_DEFAULT_FABLE_MODEL')
    subagent = _toml_str(models.get("haiku", "<OpenRouter id>"))
    lines += [
        '# default = "sonnet"                         # -> ANTHROPIC_MODEL (an alias: sonnet,',
        "#                                            #    opus, haiku, fable, best, opusplan)",
        f"# subagent = {subagent}    # -> CLAUDE_CODE_SUBAGENT_MODEL",
    ]
    if suggestions:
        lines.append("# Tool-capable models in your cache:")
        lines += [f"#   {m}" for m in suggestions]
    lines += [
        "",
        "[env]",
        "# Extra non-secret variables, e.g.:",
        '# API_TIMEOUT_MS = "600000"',
        "",
        "[budget]",
        "# `orenv status`/`doctor` warn when the key's remaining limit is lower (USD).",
        "# warn_below_usd = 2.0",
        "",
        "# [routing]   # OpenRouter provider preferences -> CLAUDE_CODE_EXTRA_BODY",
        '# order = ["anthropic", "google-vertex"]',
        "# allow_fallbacks = true",
        '# data_collection = "deny"              # skip providers that may train on prompts',
        "# zdr = true                            # zero-data-retention endpoints only",
        '# sort = "throughput"                   # or "price", "latency", "exacto";',
        '#                                       # or { by = "price", partition = "none" }',
        "# preferred_min_throughput = 50         # tokens/s (p50), or { p90 = 30 }",
        "# preferred_max_latency = 2             # seconds (p50), or { p90 = 5 }",
        "# max_price = { prompt = 5, completion = 25 }   # USD per million prompt/completion",
        "#                                       # tokens; request, image, audio: USD per unit",
        "",
        "# [attribution]   # -> ANTHROPIC_CUSTOM_HEADERS (plain Latin-1 text)",
        '# referer = "https://example.com/my-project"   # what OpenRouter attributes by',
        '# title = "my-project"',
        '# categories = ["cli-agent"]            # at most 2',
        "",
    ]
    return "\n".join(lines)


def _stored_keys() -> list[str]:
    """Names of the stored (non-management) keys, from the index only."""
    from ..secrets import _read_index

    try:
        return sorted(n for n, m in _read_index().items() if not m.get("management"))
    except Exception:  # an unreadable index: as if none, the prompt or error says what to do
        return []


def _choose_key() -> str:
    """The key for a new policy when --key was not given: never an invented name.

    One stored key: that one. Several: asked on a terminal, else an error
    listing them. None: on a terminal the key is asked for (hidden) and stored;
    otherwise the error says what to run. Nothing is written before this.
    """
    names = _stored_keys()
    if len(names) == 1:
        return names[0]
    if names:
        if not interactive():
            raise UsageError(f"several keys are stored ({', '.join(names)}): choose one with "
                             "`orenv init --key NAME`; nothing was written")
        say("Which key should this project use?", file=sys.stderr)
        for i, n in enumerate(names, 1):
            say(f"  {i}) {n}", file=sys.stderr)
        choice = ask(f"key [1-{len(names)} or a name]: ") or ""
        if choice.isdigit() and 1 <= int(choice) <= len(names):
            return names[int(choice) - 1]
        if choice in names:
            return choice
        raise UsageError(f"no stored key {choice!r}{did_you_mean(choice, names)}; "
                         "nothing was written")
    if not interactive():
        raise UsageError("no key is stored yet: store one with `orenv key set NAME` (it reads "
                         "the key from stdin), then run `orenv init --key NAME`; "
                         "nothing was written")
    from .. import secrets
    from .key import read_secret

    say("No OpenRouter key is stored yet; orenv keeps it in your keyring, never in a file.",
        file=sys.stderr)
    answer = ask("name for the key [default]: ")
    if answer is None:
        raise UsageError("no key given (end of input); nothing was written")
    name = secrets.validate_name(answer or "default")
    value = read_secret(f"OpenRouter key for {name!r} (input hidden): ")
    if not secrets.looks_like_key(value):
        raise UsageError("that is not an OpenRouter key (sk-or-v1- followed by 64 hex "
                         "characters); nothing was written (`orenv key set --force` stores "
                         "any key)")
    secrets.set_key(name, value)
    say(f"stored key {name!r} ({secrets.mask(value)}) in the keyring")
    return name


def _above(directory: str) -> tuple[str | None, dict[str, Any]]:
    """The policy that applies just above *directory*, and what it gives
    (key, base_url, mode, models) for the comments of an inheriting file."""
    parent = os.path.dirname(directory)
    if parent == directory:
        return None, {}
    from ..policy import find_chain

    try:
        chain = find_chain(parent)
    except OrenvError:  # an invalid policy above: shown by path, nothing inherited for show
        nearest = find_nearest(parent)
        return nearest, {}
    if not chain:
        return None, {}

    def pick(attr: str) -> Any:
        return next((getattr(pf, attr) for pf in chain if getattr(pf, attr) is not None), None)

    models: dict[str, str] = {}
    for pf in reversed(chain):
        models.update(pf.models)
    return chain[0].path, {"key": pick("key"), "base_url": pick("base_url"),
                           "mode": pick("mode"), "models": models}


def _decide_inherit(args: argparse.Namespace, above: str | None) -> bool:
    if args.inherit is not None:
        if args.inherit and above is None:
            raise UsageError("--inherit: no .orenv.toml applies above this directory; "
                             "nothing was written")
        return bool(args.inherit)
    if above is None or not interactive():
        return False
    answer = ask(f"{safe(above)} applies above this directory. Layer the new policy over "
                  "it (inherit = true, keeping its key, models and routing unless set "
                  "here)? [Y/n] ")
    return answer is not None and answer.lower() in ("", "y", "yes")


def _read_existing(path: str) -> bytes | None:
    """The current policy's bytes when it is a regular file someone allowed as it
    is; None otherwise (then it is replaced, and nothing of it is kept: keeping an
    edit nobody allowed would launder it)."""
    from ..policy import read_policy_file

    try:
        pf = read_policy_file(path)
    except OrenvError:
        return None
    return pf.content if trust.check(path, pf.content) else None


def _update(path: str, content: bytes, changes: Mapping[str, Any]) -> bytes:
    """*content* with only *changes* (dotted key -> value) applied, comments kept."""
    import tomlkit

    doc = tomlkit.parse(content.decode("utf-8"))
    for dotted, value in changes.items():
        *tables, last = dotted.split(".")
        container: Any = doc
        for t in tables:
            if t not in container:
                container[t] = tomlkit.table()
            container = container[t]
        container[last] = value
    return tomlkit.dumps(doc).encode("utf-8")


def run(args: argparse.Namespace) -> int:
    directory = cwd(args.dir)
    if not os.path.isdir(directory):
        raise UsageError(f"{safe(directory)} is not a directory: create it first "
                         "(`mkdir -p DIR`); init never creates directories")
    path = os.path.join(directory, POLICY_NAME)
    exists = os.path.lexists(path)
    if exists and not args.force:
        raise OrenvError(f"{path} already exists; edit it with `orenv set`, or use --force")
    if args.mode is not None and args.mode not in MODES:
        raise UsageError(f"--mode must be one of: {', '.join(MODES)}")
    if args.key is not None and not KEY_NAME_RE.match(args.key):
        raise UsageError(f"invalid key name {args.key!r}: use letters, digits, '.', '_' or '-'")
    # --force over a policy you allowed: change only what was asked, keep the rest.
    kept = _read_existing(path) if exists else None
    kept_policy = parse(path, kept) if kept is not None else None
    above, inherited = (None, {}) if kept is not None else _above(directory)
    inherit = False if kept is not None else _decide_inherit(args, above)
    # Where a key may go: asked for, else the kept file's, else inherited, else OpenRouter.
    explicit_base = args.base_url
    args.base_url = (explicit_base or (kept_policy.base_url if kept_policy else None)
                     or (inherited.get("base_url") if inherit else None) or DEFAULT_BASE_URL)
    # --provision: the project's own capped key (created below, just before writing).
    new_key = key_provision.init_key_name(args, directory)
    key: str | None = new_key or args.key
    if key is None and kept is None and not (inherit and inherited.get("key")):
        key = _choose_key()
    if kept is not None:
        changes: dict[str, Any] = {}
        if key is not None:
            changes["openrouter.key"] = key
        if args.mode is not None:
            changes["openrouter.mode"] = args.mode
        if explicit_base is not None:
            changes["openrouter.base_url"] = explicit_base
        if args.name is not None:
            changes["name"] = args.name
        if new_key and args.limit:
            changes["budget.warn_below_usd"] = round(args.limit * 0.1, 2)
        content = _update(path, kept, changes)
        models: dict[str, str] = {}
        source = ""
    else:
        from ..config import load_config
        from ..models import default_models

        if inherit:
            models, source = {}, "inherited"
        else:
            # The newest model of each family: OpenRouter's catalogue when its host
            # is allowed (public, no key sent), else the cache, else built-in defaults.
            models, source = default_models(args.base_url,
                                            load_config().url_refusal(args.base_url) is None)
        mode = args.mode or (None if inherit else "export")
        base = explicit_base or (None if inherit else args.base_url)
        text = template(key, mode, base, args.name, _suggestions(), models,
                        inherit_from=above if inherit else None, inherited=inherited)
        if new_key:
            text = key_provision.init_budget(text, args.limit)
        content = text.encode()
    parse(path, content)  # what is written is always valid
    if new_key:
        key_provision.init_provision(args, new_key, directory)
    from pathlib import Path

    from .._fsutil import atomic_write

    atomic_write(Path(path), content, mode=0o644)
    trust.allow(path, content)
    touch_stamp()
    final = parse(path, content)
    shown_key = final.key if final.key is not None else inherited.get("key")
    shown_mode = final.mode or inherited.get("mode") or "export"
    if kept is not None:
        what = ", ".join(changes) or "nothing"
        say(f"updated and allowed {path} (changed: {what}; everything else kept)")
    else:
        how = f", inheriting from {safe(above)}" if inherit and above else ""
        say(f"wrote and allowed {path} (key {shown_key!r}, mode {shown_mode}{how})")
    sync_helpers()
    if models:
        say(f"models: {', '.join(f'{k} = {v}' for k, v in models.items())} (from {source}"
            + ("; `orenv models --refresh` fetches it)" if source.startswith("built-in")
               else ")"))
    if above and not inherit and kept is None:
        say(f"orenv: note: {safe(above)} above is not inherited: its key, models and routing "
            "stop here; `orenv set inherit true` layers this policy over it", file=sys.stderr)
    if shown_key and shown_key not in _stored_keys() and not new_key:
        from ..secrets import missing_key_message

        say(f"orenv: warning: {missing_key_message(shown_key)}", file=sys.stderr)
    from ..models import model_warnings

    for w in model_warnings(models, args.base_url):
        say(f"orenv: warning: {w}", file=sys.stderr)
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("init", help="write a commented .orenv.toml here and allow it")
    p.add_argument("--key", help="keyring key name to use (default: your only key; asked when "
                   "there are several or none)")
    p.add_argument("--mode", help="export (default), exec or helper")
    p.add_argument("--base-url", help=f"API base URL (default: {DEFAULT_BASE_URL})")
    p.add_argument("--name", help="profile name shown in prompts (default: directory name)")
    p.add_argument("--dir", help="existing directory to write into (default: current)")
    inherit = p.add_mutually_exclusive_group()
    inherit.add_argument("--inherit", action="store_true", default=None,
                         help="layer the new policy over the one above (asked on a terminal)")
    inherit.add_argument("--no-inherit", dest="inherit", action="store_false",
                         help="do not layer over the policy above")
    p.add_argument("--force", action="store_true",
                   help="update an existing policy you allowed: change only what is given "
                   "(a policy not allowed is replaced)")
    key_provision.add_init_arguments(p)
    p.set_defaults(func=run)
