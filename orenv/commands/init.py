"""`orenv init`: write a commented .orenv.toml here and allow it."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from typing import Any

from .. import trust
from .._fsutil import touch_stamp
from ..errors import OrenvError, UsageError
from ..models import FALLBACK_DEFAULTS
from ..paths import POLICY_NAME
from ..policy import DEFAULT_BASE_URL, KEY_NAME_RE, MODES, parse
from . import key_provision
from ._common import cwd, say, sync_helpers

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
    return [m.id for m in models if getattr(m, "supports_tools", False)][:12]


def template(key: str, mode: str, base_url: str, name: str | None = None,
             suggestions: list[str] | None = None,
             models: Mapping[str, str] | None = None) -> str:
    """The commented policy ``init`` writes; *models*: slot -> id (default: built in)."""
    models = dict(FALLBACK_DEFAULTS if models is None else models)
    lines = [
        "# orenv policy: what Claude Code uses in this directory and below.",
        "# Changes take effect after `orenv allow` (edits made with `orenv set` re-allow).",
        "# Reference: `orenv --help`, README.md.",
        "",
        "# Layer this file over the next .orenv.toml up the tree (nearest wins per key).",
        "inherit = false",
    ]
    if name:
        lines.append(f"name = {_toml_str(name)}")
    lines += [
        "",
        "[openrouter]",
        "# Name of a key in your OS keyring (`orenv key set NAME`), never the key itself.",
        f"key = {_toml_str(key)}",
        f"base_url = {_toml_str(base_url)}",
        '# export: key in the shell here; exec: only `orenv exec -- claude`;',
        "# helper: only Claude Code gets it, through apiKeyHelper (`orenv helper on`).",
        f"mode = {_toml_str(mode)}",
        "",
        "[models]",
        "# OpenRouter model IDs; they must support tool use (`orenv models --tools`).",
    ]
    for slot, model in models.items():
        lines.append(f"{slot} = {_toml_str(model)}")
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


def _default_key() -> str:
    try:
        from ..secrets import _read_index

        names = sorted(n for n, m in _read_index().items() if not m.get("management"))
    except Exception:
        names = []
    return names[0] if len(names) == 1 else "default"


def run(args: argparse.Namespace) -> int:
    directory = cwd(args.dir)
    path = os.path.join(directory, POLICY_NAME)
    if os.path.lexists(path) and not args.force:
        raise OrenvError(f"{path} already exists; edit it with `orenv set`, or use --force")
    # --provision: the project's own capped key (created below, just before writing).
    new_key = key_provision.init_key_name(args, directory)
    key = new_key or args.key or _default_key()
    if not KEY_NAME_RE.match(key):
        raise UsageError(f"invalid key name {key!r}: use letters, digits, '.', '_' or '-'")
    if args.mode not in MODES:
        raise UsageError(f"--mode must be one of: {', '.join(MODES)}")
    from ..config import load_config
    from ..models import default_models

    # The newest model of each family: OpenRouter's catalogue when its host is
    # allowed (public, no key sent), else the cache, else built-in defaults.
    models, source = default_models(args.base_url,
                                    load_config().url_refusal(args.base_url) is None)
    text = template(key, args.mode, args.base_url, args.name, _suggestions(), models)
    if new_key:
        text = key_provision.init_budget(text, args.limit)
    content = text.encode()
    parse(path, content)  # the template must always be valid
    if new_key:
        key_provision.init_provision(args, new_key, directory)
    from pathlib import Path

    from .._fsutil import atomic_write

    atomic_write(Path(path), content, mode=0o644)
    trust.allow(path, content)
    touch_stamp()
    say(f"wrote and allowed {path} (key {key!r}, mode {args.mode})")
    sync_helpers()
    say(f"models: {', '.join(f'{k} = {v}' for k, v in models.items())} (from {source}"
        + ("; `orenv models --refresh` fetches it)" if source.startswith("built-in") else ")"))
    from ..models import model_warnings

    for w in model_warnings(models, args.base_url):
        say(f"orenv: warning: {w}", file=sys.stderr)
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("init", help="write a commented .orenv.toml here and allow it")
    p.add_argument("--key", help="keyring key name to use (default: your only key)")
    p.add_argument("--mode", default="export", help="export (default), exec or helper")
    p.add_argument("--base-url", default=DEFAULT_BASE_URL, help="API base URL")
    p.add_argument("--name", help="profile name shown in prompts (default: directory name)")
    p.add_argument("--dir", help="directory to write into (default: current)")
    p.add_argument("--force", action="store_true", help="overwrite an existing policy")
    key_provision.add_init_arguments(p)
    p.set_defaults(func=run)
