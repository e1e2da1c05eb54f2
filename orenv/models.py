"""OpenRouter's model catalogue, cached under ``$XDG_CACHE_HOME/orenv/models.json``.

The cache holds the whole list (it is public, nothing secret) with the time
and API root it came from. ``cached_models()`` never touches the network, so
``orenv init`` and prompt-time code may call it freely.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import re
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from . import paths
from .errors import NetworkError, OpenRouterError
from .openrouter import DEFAULT_TIMEOUT, OpenRouterClient, api_root

__all__ = [
    "CACHE_NAME",
    "DEFAULT_TTL",
    "FALLBACK_DEFAULTS",
    "SAFE_ID",
    "VARIANT_SUFFIXES",
    "Model",
    "base_model_id",
    "cache_file",
    "cached_models",
    "check_model",
    "default_models",
    "is_preset",
    "load_models",
    "model_from_api",
    "model_warnings",
    "newest_per_family",
]

CACHE_NAME = "models.json"
CACHE_VERSION = 1
DEFAULT_TTL = 3600
VARIANT_SUFFIXES = (":nitro", ":floor", ":free", ":exacto", ":online", ":thinking")
PRESET_PREFIX = "@preset/"


@dataclass(frozen=True, slots=True)
class Model:
    """One catalogue entry; prices in USD per million tokens (``None`` when unknown)."""

    id: str
    name: str
    context_length: int | None
    prompt_price_per_mtok: float | None
    completion_price_per_mtok: float | None
    supports_tools: bool


def _per_mtok(value: Any) -> float | None:
    """OpenRouter's per-token price string (``"0.000003"``) as USD per million tokens."""
    if value is None or isinstance(value, bool):
        return None
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        return None
    if not price.is_finite() or price < 0:  # "-1" marks a router with a variable price
        return None
    return float(price * 1_000_000)


# What a model ID may hold. The catalogue comes from the network (or a cache of
# it): an ID with a line break, a quote or a shell character could otherwise
# become policy text (`init`'s comments), completion words or terminal codes.
SAFE_ID = re.compile(r"[A-Za-z0-9._:/@+~-]{1,200}\Z")


def model_from_api(entry: Mapping[str, Any]) -> Model | None:
    """A ``Model`` from one ``GET /models`` entry, or ``None`` if its id is missing or
    not of the characters model IDs use (``SAFE_ID``)."""
    model_id = entry.get("id")
    if not isinstance(model_id, str) or not SAFE_ID.match(model_id):
        return None
    pricing = entry.get("pricing")
    pricing = pricing if isinstance(pricing, Mapping) else {}
    params = entry.get("supported_parameters")
    params = params if isinstance(params, list) else []
    ctx = entry.get("context_length")
    name = entry.get("name")
    return Model(
        id=model_id,
        name=name if isinstance(name, str) and name else model_id,
        context_length=ctx if isinstance(ctx, int) and not isinstance(ctx, bool) else None,
        prompt_price_per_mtok=_per_mtok(pricing.get("prompt")),
        completion_price_per_mtok=_per_mtok(pricing.get("completion")),
        supports_tools="tools" in params,
    )


def cache_file() -> Path:
    return paths.cache_dir() / CACHE_NAME


def _read_cache() -> dict[str, Any] | None:
    try:
        raw = cache_file().read_text(encoding="utf-8")
        data = json.loads(raw)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
        return None
    if not isinstance(data.get("models"), list) or not isinstance(
        data.get("fetched_at"), int | float
    ):
        return None
    return data


def _models_of(data: Mapping[str, Any]) -> list[Model]:
    out: list[Model] = []
    for entry in data["models"]:
        if not isinstance(entry, dict):
            continue
        try:
            model = Model(**entry)
        except TypeError:
            return []  # written by another version: treat as no cache
        if isinstance(model.id, str) and SAFE_ID.match(model.id):  # a cache others wrote
            out.append(model)
    return out


def _write_cache(root: str, models: list[Model]) -> None:
    directory = paths.ensure_private_dir(paths.cache_dir())
    payload = {
        "version": CACHE_VERSION,
        "fetched_at": time.time(),
        "api_root": root,
        "models": [asdict(m) for m in models],
    }
    fd, tmp = tempfile.mkstemp(prefix=".models.", suffix=".tmp", dir=directory)  # 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, separators=(",", ":"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, directory / CACHE_NAME)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def cached_models(base_url: str | None = None) -> list[Model] | None:
    """The cached catalogue whatever its age, without any network; ``None`` if none.

    With *base_url*, only a catalogue fetched from that API counts.
    """
    data = _read_cache()
    if data is None:
        return None
    if base_url is not None and data.get("api_root") != api_root(base_url):
        return None
    models = _models_of(data)
    return models or None


def load_models(
    base_url: str,
    key: str | None,
    *,
    refresh: bool = False,
    ttl: float = DEFAULT_TTL,
    tools_only: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[Model]:
    """The catalogue of *base_url*, from the cache when younger than *ttl* seconds.

    *refresh* always asks OpenRouter. When OpenRouter cannot be reached and a
    stale cache of the same API exists, the stale list is returned instead of
    failing (an HTTP error from OpenRouter is still raised).
    """
    root = api_root(base_url)
    data = _read_cache()
    stale: list[Model] | None = None
    if data is not None and data.get("api_root") == root:
        models = _models_of(data)
        age = time.time() - float(data["fetched_at"])
        if models and not refresh and 0 <= age < ttl:
            return _only_tools(models) if tools_only else models
        stale = models or None
    entries: list[dict[str, Any]] | None = None
    try:
        entries = OpenRouterClient(base_url, key, timeout=timeout).models()
    except OpenRouterError:
        raise
    except NetworkError:
        if stale is None or refresh:
            raise
    if entries is None:
        assert stale is not None
        models = stale
    else:
        models = [m for m in (model_from_api(e) for e in entries) if m is not None]
        models.sort(key=lambda m: m.id)
        _write_cache(root, models)
    return _only_tools(models) if tools_only else models


def _only_tools(models: list[Model]) -> list[Model]:
    return [m for m in models if m.supports_tools]


def is_preset(model: str) -> bool:
    return model.startswith(PRESET_PREFIX)


def base_model_id(model: str) -> str:
    """*model* without OpenRouter variant suffixes (``:nitro``, ``:free``…).

    Presets (``@preset/NAME``) are returned unchanged.
    """
    model = model.strip()
    if is_preset(model):
        return model
    changed = True
    while changed:
        changed = False
        for suffix in VARIANT_SUFFIXES:
            if model.endswith(suffix) and len(model) > len(suffix):
                model = model[: -len(suffix)]
                changed = True
    return model


def check_model(model_id: str, catalogue: Iterable[Model]) -> tuple[bool, str]:
    """Whether *model_id* exists in *catalogue* and supports tool use, with a reason."""
    model_id = model_id.strip()
    if not model_id:
        return False, "no model id given"
    if is_preset(model_id):
        return True, (
            f"{model_id} is a preset; its models cannot be checked here, "
            "make sure they support tool use"
        )
    by_id = {m.id: m for m in catalogue}
    if not by_id:
        return False, "the model list is empty; run `orenv models --refresh`"
    found = by_id.get(model_id)
    base = base_model_id(model_id)
    if found is None:
        found = by_id.get(base)
    if found is None:
        close = difflib.get_close_matches(base, list(by_id), n=3, cutoff=0.6)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        return False, (
            f"{model_id} is not in OpenRouter's model list{hint}; see `orenv models --tools`"
        )
    if not found.supports_tools:
        return False, (
            f"{model_id} does not support tool use, which Claude Code needs; "
            "pick one from `orenv models --tools`"
        )
    if found.id != model_id:
        return True, f"{model_id} is a variant of {found.id}, which supports tool use"
    return True, f"{model_id} supports tool use"


def model_warnings(models: Mapping[str, str], base_url: str | None = None) -> list[str]:
    """One line per mapped model that the cached catalogue does not list with tool use.

    Never a network call (a prompt or `orenv set` may run this): without a
    cached catalogue there is nothing to say. Claude Code's own aliases in
    ``default`` (sonnet, best…) are not OpenRouter ids and are not checked.
    """
    from .rules import MODEL_ALIASES

    catalogue = cached_models(base_url) or cached_models()
    if not catalogue:
        return []
    out = []
    for slot, model in models.items():
        if slot == "default" and model in MODEL_ALIASES:
            continue
        ok, reason = check_model(model, catalogue)
        if not ok:
            out.append(f"[models] {slot}: {reason}")
    return out


# ---------------------------------------------------------------- defaults

# Only when no catalogue was ever fetched: IDs OpenRouter's Claude Code guide
# (opus) or common use (sonnet, haiku) shows it serves, in OpenRouter's dotted
# form, which Claude Code 2.1.332 reads right (2.1.197 showed "Opus 4" for it).
FALLBACK_DEFAULTS: Mapping[str, str] = {
    "opus": "anthropic/claude-opus-5",
    "sonnet": "anthropic/claude-sonnet-4.6",
    "haiku": "anthropic/claude-haiku-4.5",
}
# Claude Code's families; not `~anthropic/...-latest` or dated slugs, which it
# does not recognise (it warns on every run and assumes a 1M context).
_FAMILY_RE = re.compile(r"anthropic/claude-(opus|sonnet|haiku|fable)-(\d{1,2})(?:\.(\d{1,2}))?\Z")


def newest_per_family(catalogue: Iterable[Model]) -> dict[str, str]:
    """family -> the highest-versioned tool-capable ``anthropic/claude-FAMILY-X[.Y]``."""
    best: dict[str, tuple[tuple[int, int], str]] = {}
    for m in catalogue:
        match = _FAMILY_RE.match(m.id)
        if not m.supports_tools or match is None:
            continue
        family, version = match[1], (int(match[2]), int(match[3] or 0))
        if family not in best or version > best[family][0]:
            best[family] = (version, m.id)
    return {family: model_id for family, (_, model_id) in best.items()}


def default_models(base_url: str, allowed: bool) -> tuple[dict[str, str], str]:
    """The model slots ``orenv init`` writes, and where they came from.

    From the catalogue: refreshed when older than ``DEFAULT_TTL`` and the host
    is *allowed* (only then is it asked, and without a key), else the cache of
    any API; the built-in ``FALLBACK_DEFAULTS`` only when there is neither.
    """
    catalogue: list[Model] | None = None
    source = "OpenRouter's catalogue"
    if allowed:
        with contextlib.suppress(NetworkError, OpenRouterError):
            catalogue = load_models(base_url, None, timeout=5)
    if catalogue is None:
        catalogue = cached_models(base_url) or cached_models()
        source = "the cached catalogue"
    picked = newest_per_family(catalogue or [])
    if not picked:
        return dict(FALLBACK_DEFAULTS), "built-in defaults: no catalogue is cached"
    slots = {fam: picked.get(fam, FALLBACK_DEFAULTS.get(fam, "")) for fam in
             ("opus", "sonnet", "haiku", "fable")}
    return {k: v for k, v in slots.items() if v}, source

