"""Policy files: find them, parse them strictly, layer them.

Reading uses the standard library's ``tomllib`` (fast, exact errors); edits
go through tomlkit elsewhere so comments survive. Every problem becomes a
``PolicyError`` naming file, line and key; nothing is half-parsed.
"""

from __future__ import annotations

import math
import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from . import rules
from ._text import did_you_mean
from ._tomlpos import line_of
from .config import Config, is_loopback
from .errors import PolicyError
from .paths import POLICY_NAME
from .rules import MODEL_VARS

__all__ = [
    "DEFAULT_BASE_URL",
    "KEY_NAME_RE",
    "MAX_POLICY_BYTES",
    "MODEL_VARS",
    "MODES",
    "Policy",
    "PolicyFile",
    "env_name_problem",
    "find_chain",
    "find_nearest",
    "is_loopback",
    "load",
    "parse",
    "read_policy_file",
    "resolve",
]

DEFAULT_BASE_URL = "https://openrouter.ai/api"
MODES = ("export", "exec", "helper")
MAX_POLICY_BYTES = 256 * 1024
KEY_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
_KEY_VALUE_RE = re.compile(r"sk-or-v1-[0-9a-fA-F]{16,}")

_TOP = ("inherit", "enabled", "name", "openrouter", "models", "env", "budget",
        "routing", "attribution", "claude")
_CLAUDE = ("scrub_subprocess_env",)
_OPENROUTER = ("key", "base_url", "mode")
_BUDGET = ("warn_below_usd",)
# OpenRouter's provider preferences (request field `provider`), as its OpenAPI
# spec (OpenRouterTeam/docs, openapi/openapi.yaml, ProviderPreferences) has
# them; the object is closed upstream, so a field orenv does not know is left
# out of the request with a warning instead of breaking every request.
_ROUTING = ("order", "allow_fallbacks", "only", "ignore", "data_collection", "zdr",
            "require_parameters", "enforce_distillable_text", "sort", "max_price",
            "quantizations", "preferred_min_throughput", "preferred_max_latency")
_SORTS = ("price", "throughput", "latency", "exacto")
_PARTITIONS = ("model", "none")
# USD per million prompt/completion tokens, per request, per image, per audio unit.
_MAX_PRICE = ("prompt", "completion", "request", "image", "audio")
_MAX_PRICE_UNITS = {"prompt": "USD per million prompt tokens",
                    "completion": "USD per million completion tokens",
                    "request": "USD per request", "image": "USD per image",
                    "audio": "USD per audio unit"}
_PERCENTILES = ("p50", "p75", "p90", "p99")
_QUANTIZATIONS = ("int4", "int8", "fp4", "mxfp4", "nvfp4", "fp6", "fp8", "mxfp8", "fp16",
                  "bf16", "fp32", "unknown")
_ATTRIBUTION = ("referer", "title", "categories")
_CATEGORY_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*\Z")


@dataclass(frozen=True)
class PolicyFile:
    """One parsed ``.orenv.toml``; fields left out stay None or empty."""

    path: str
    content: bytes = field(repr=False)
    inherit: bool = False
    enabled: bool | None = None
    name: str | None = None
    key: str | None = None
    base_url: str | None = None
    mode: str | None = None
    models: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    warn_below_usd: float | None = None
    routing: Mapping[str, Any] = field(default_factory=dict)
    attribution: Mapping[str, str] = field(default_factory=dict)
    scrub: bool | None = None  # [claude] scrub_subprocess_env
    warnings: tuple[str, ...] = ()  # things left out (one line each), never errors


@dataclass(frozen=True)
class Policy:
    """The effective policy of a directory: the nearest file layered over its parents."""

    files: tuple[PolicyFile, ...]  # nearest first
    enabled: bool
    name: str
    key: str | None
    base_url: str
    mode: str
    models: Mapping[str, str]
    env: Mapping[str, str]
    warn_below_usd: float | None
    routing: Mapping[str, Any]
    attribution: Mapping[str, str]
    warnings: tuple[str, ...] = ()
    # Claude Code strips credentials from its Bash tool, hooks and MCP servers
    # (CLAUDE_CODE_SUBPROCESS_ENV_SCRUB); on unless the user or policy says no.
    scrub: bool = True

    @property
    def path(self) -> str:
        return self.files[0].path

    @property
    def host(self) -> str:
        """Where the key goes: host, or host:port when the URL names a port."""
        from .config import HostPort

        parts = urlsplit(self.base_url)
        return str(HostPort((parts.hostname or "").lower().rstrip("."), parts.port))


# ---------------------------------------------------------------- discovery


def _policy_here(directory: str) -> str | None:
    candidate = os.path.join(directory, POLICY_NAME)
    return candidate if os.path.lexists(candidate) else None


def find_nearest(start: str) -> str | None:
    """The nearest policy file at or above *start*, or None."""
    directory = os.path.abspath(start)
    while True:
        found = _policy_here(directory)
        if found:
            return found
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def find_chain(start: str, first: PolicyFile | None = None) -> list[PolicyFile]:
    """Parse the nearest policy and, while ``inherit = true``, the ones above it.

    *first*: the nearest file already read (``orenv allow`` shows and trusts
    the same bytes: it reads the file once).
    """
    chain: list[PolicyFile] = []
    path = first.path if first is not None else find_nearest(start)
    while path is not None:
        pf = first if first is not None and path == first.path else read_policy_file(path)
        chain.append(pf)
        if not pf.inherit:
            break
        parent_dir = os.path.dirname(os.path.dirname(path))
        if parent_dir == os.path.dirname(path):
            break
        path = find_nearest(parent_dir)
    return chain


# ---------------------------------------------------------------- parsing


def read_policy_file(path: str) -> PolicyFile:
    """Read and parse one policy file; refuses non-regular and oversized files."""
    try:
        # O_NONBLOCK: a FIFO planted as .orenv.toml must not hang the prompt.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise PolicyError(path, f"cannot read ({exc.strerror}); fix or remove the file") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise PolicyError(path, "is not a regular file; remove it or replace it with one")
        if st.st_size > MAX_POLICY_BYTES:
            raise PolicyError(path, f"is larger than {MAX_POLICY_BYTES // 1024} KiB; "
                              "a policy is a few lines")
        chunks = []
        remaining = MAX_POLICY_BYTES + 1
        while remaining > 0:
            chunk = os.read(fd, min(65536, remaining))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        content = b"".join(chunks)
        if len(content) > MAX_POLICY_BYTES:
            raise PolicyError(path, f"is larger than {MAX_POLICY_BYTES // 1024} KiB")
    except OSError as exc:
        raise PolicyError(path, f"cannot read ({exc.strerror})") from None
    finally:
        os.close(fd)
    return parse(path, content)


def _decode(path: str, content: bytes) -> str:
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        raise PolicyError(path, "not valid UTF-8; save the file as UTF-8", line=line) from None


_TOML_POS = re.compile(r"\(at line (\d+), column \d+\)")


# tomllib takes quadratic time in the length of a dotted key ("a.a.a…" with 40k
# parts: ~25 s), so a cloned repo could stall every prompt. No policy key has
# more than a few parts: refuse long ones before parsing.
_KEY_PATH = re.compile(r"^[ \t]*(\[[^\]\n]*|[^=\n]*=)", re.MULTILINE)
_MAX_KEY_DOTS = 16


def parse(path: str, content: bytes) -> PolicyFile:
    """Parse policy *content* (the bytes of *path*) into a ``PolicyFile``."""
    text = _decode(path, content)
    for found in _KEY_PATH.finditer(text):
        if found.group(1).count(".") > _MAX_KEY_DOTS:
            at = text.count("\n", 0, found.start()) + 1
            raise PolicyError(path, "invalid TOML: key nested too deeply", line=at)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        pos = _TOML_POS.search(msg)
        line = int(pos.group(1)) if pos else None
        what = _TOML_POS.sub("", msg).strip().rstrip(".")
        raise PolicyError(path, f"invalid TOML: {what}", line=line) from None
    except RecursionError:
        raise PolicyError(path, "invalid TOML: nested too deeply") from None
    v = _Validator(path, text)
    return v.policy_file(data, content)


class _Validator:
    __slots__ = ("path", "text", "warnings")

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text
        self.warnings: list[str] = []

    def warn(self, table: str, key: str, problem: str) -> None:
        line = line_of(self.text, table, key) or line_of(self.text, table)
        where = f"{self.path}:{line}" if line else self.path
        self.warnings.append(f"{where}: {table}.{key}: {problem}")

    def fail(self, table: str | None, key: str | None, problem: str) -> PolicyError:
        line = line_of(self.text, table, key)
        if line is None and table is not None:
            line = line_of(self.text, table)
        dotted = f"{table}.{key}" if table and key else (key or table)
        return PolicyError(self.path, problem, line=line, key=dotted)

    def table(self, data: Mapping[str, Any], name: str, known: tuple[str, ...]
              ) -> Mapping[str, Any]:
        value = data.get(name, {})
        if not isinstance(value, dict):
            raise self.fail(None, name, f"must be a table: write [{name}] on its own line")
        self.known(value, name, known)
        return value

    def known(self, value: Mapping[str, Any], table: str | None, known: tuple[str, ...]) -> None:
        for key in value:
            if key not in known:
                hint = did_you_mean(key, known)
                raise self.fail(table, key,
                                f"unknown key{hint}; expected one of: {', '.join(known)}")

    def string(self, table: str | None, key: str, value: Any, *, allow_empty: bool = False,
               single_line: bool = False) -> str:
        if not isinstance(value, str):
            raise self.fail(table, key, f'must be a string in quotes, got {_tname(value)}')
        if not allow_empty and not value:
            raise self.fail(table, key, "must not be empty")
        if "\x00" in value:
            raise self.fail(table, key, "must not contain a NUL character")
        if single_line and ("\n" in value or "\r" in value):
            raise self.fail(table, key, "must be a single line")
        if _KEY_VALUE_RE.search(value):
            raise self.fail(table, key, "looks like an OpenRouter key; keys never go in files: "
                            "store it with `orenv key set NAME` and name it in [openrouter] key")
        return value

    def boolean(self, table: str | None, key: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.fail(table, key, f"must be true or false, got {_tname(value)}")
        return value

    def number(self, table: str | None, key: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(table, key, f"must be a number, got {_tname(value)}")
        if not math.isfinite(value) or value < 0:
            raise self.fail(table, key, "must be a finite number >= 0")
        return float(value)

    def str_list(self, table: str, key: str, value: Any) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(x, str) and x for x in value):
            raise self.fail(table, key, 'must be a list of strings, e.g. ["anthropic"]')
        return list(value)

    def policy_file(self, data: Mapping[str, Any], content: bytes) -> PolicyFile:
        self.known(data, None, _TOP)
        inherit = self.boolean(None, "inherit", data.get("inherit", False))
        enabled = data.get("enabled")
        if enabled is not None:
            enabled = self.boolean(None, "enabled", enabled)
        name = data.get("name")
        if name is not None:
            name = self.string(None, "name", name, single_line=True)
            if not name.isprintable():
                # It reaches prompts: no terminal escapes from a cloned repo.
                raise self.fail(None, "name", "must contain only printable characters")

        orr = self.table(data, "openrouter", _OPENROUTER)
        key = orr.get("key")
        if key is not None:
            key = self.string("openrouter", "key", key)
            if not KEY_NAME_RE.match(key):
                raise self.fail("openrouter", "key", "must be a key name such as \"work\" "
                                "(letters, digits, . _ -), not the key itself; "
                                "store the key with `orenv key set NAME`")
        base_url = orr.get("base_url")
        if base_url is not None:
            base_url = self.string("openrouter", "base_url", base_url, single_line=True)
            problem = _url_problem(base_url)
            if problem:
                raise self.fail("openrouter", "base_url", problem)
        mode = orr.get("mode")
        if mode is not None:
            mode = self.string("openrouter", "mode", mode)
            if mode not in MODES:
                raise self.fail("openrouter", "mode", 'must be "export", "exec" or "helper"')

        models_t = self.table(data, "models", tuple(MODEL_VARS))
        models = {k: self.string("models", k, v) for k, v in models_t.items()}

        env_t = data.get("env", {})
        if not isinstance(env_t, dict):
            raise self.fail(None, "env", "must be a table: write [env] on its own line")
        env: dict[str, str] = {}
        for k, v in env_t.items():
            if isinstance(v, bool) or not isinstance(v, str | int):
                if not _ENV_NAME_RE.match(k):
                    raise self.fail("env", k, env_name_problem(k) or "invalid name")
                raise self.fail("env", k, f'must be a string in quotes, got {_tname(v)}')
            problem = env_name_problem(k, str(v))
            if problem:
                raise self.fail("env", k, problem)
            env[k] = self.string("env", k, str(v), allow_empty=True)

        budget = self.table(data, "budget", _BUDGET)
        warn = budget.get("warn_below_usd")
        if warn is not None:
            warn = self.number("budget", "warn_below_usd", warn)

        routing = self.routing(data.get("routing", {}))
        attribution = self.attribution(self.table(data, "attribution", _ATTRIBUTION))
        claude_t = self.table(data, "claude", _CLAUDE)
        scrub = claude_t.get("scrub_subprocess_env")
        if scrub is not None:
            scrub = self.boolean("claude", "scrub_subprocess_env", scrub)

        return PolicyFile(
            path=self.path, content=content, inherit=inherit, enabled=enabled, name=name,
            key=key, base_url=base_url, mode=mode, models=models, env=env,
            warn_below_usd=warn, routing=routing, attribution=attribution, scrub=scrub,
            warnings=tuple(self.warnings),
        )

    def routing(self, t: Any) -> dict[str, Any]:
        """[routing] -> OpenRouter's `provider` object (see _ROUTING)."""
        if not isinstance(t, dict):
            raise self.fail(None, "routing", "must be a table: write [routing] on its own line")
        out: dict[str, Any] = {}
        for key in t:
            if key not in _ROUTING:
                self.warn("routing", key, "is not an OpenRouter provider option orenv knows; "
                          "left out of requests (OpenRouter would refuse them): "
                          f"known are {', '.join(_ROUTING)}")
        for key in ("order", "only", "ignore"):
            if key in t:
                out[key] = self.str_list("routing", key, t[key])
                if not out[key]:
                    # `only = []` would allow no provider at all: every request fails.
                    raise self.fail("routing", key, "must name at least one provider, "
                                    'e.g. ["anthropic"]; or remove the key')
        for key in ("allow_fallbacks", "zdr", "require_parameters", "enforce_distillable_text"):
            if key in t:
                out[key] = self.boolean("routing", key, t[key])
        if "data_collection" in t:
            dc = t["data_collection"]
            if dc not in ("allow", "deny"):
                # Privacy: never guess; an unknown value must not quietly mean "allow".
                raise self.fail("routing", "data_collection", 'must be "allow" or "deny"')
            out["data_collection"] = dc
        if "sort" in t:
            sort = self.sort(t["sort"])
            if sort is not None:
                out["sort"] = sort
        if "max_price" in t:
            prices = self.max_price(t["max_price"])
            if prices:
                out["max_price"] = prices
        for key, unit in (("preferred_min_throughput", "tokens per second"),
                          ("preferred_max_latency", "seconds")):
            if key in t:
                value = self.threshold(key, t[key], unit)
                if value is not None:
                    out[key] = value
        if "quantizations" in t:
            qs = self.str_list("routing", "quantizations", t["quantizations"])
            unknown = [q for q in qs if q not in _QUANTIZATIONS]
            if unknown:
                self.warn("routing", "quantizations", f"{', '.join(map(repr, unknown))} left "
                          f"out: not a quantization OpenRouter knows ({', '.join(_QUANTIZATIONS)})")
            kept = [q for q in qs if q in _QUANTIZATIONS]
            if kept:
                out["quantizations"] = kept
        return out

    def sort(self, value: Any) -> Any:
        """`sort`: a strategy, or { by = STRATEGY, partition = "model" | "none" }."""
        if isinstance(value, str):
            if value in _SORTS:
                return value
            self.warn("routing", "sort", f"{value!r} left out: OpenRouter sorts by "
                      f"{', '.join(_SORTS)}")
            return None
        if not isinstance(value, dict):
            raise self.fail("routing", "sort", 'must be a string such as "price", or a table '
                            '{ by = "throughput", partition = "none" }')
        out: dict[str, str] = {}
        for k, v in value.items():
            allowed = {"by": _SORTS, "partition": _PARTITIONS}.get(k)
            if allowed is None or v not in allowed:
                self.warn("routing", "sort", f"{k} = {v!r} left out: expected by = one of "
                          f"{', '.join(_SORTS)}; partition = one of {', '.join(_PARTITIONS)}")
                continue
            out[k] = v
        return out or None

    def _number(self, where: str, value: Any, unit: str) -> float:
        # Inline ({ prompt = 5 }), dotted (max_price.prompt) or a [routing.x] table.
        parts = where.split(".")
        line = ((line_of(self.text, ".".join(parts[:2]), parts[2]) if len(parts) > 2 else None)
                or line_of(self.text, "routing", parts[1])
                or line_of(self.text, ".".join(parts[:2])))
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise PolicyError(self.path, f"must be a number ({unit})", line=line,
                                  key=where) from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise PolicyError(self.path, f"must be a number ({unit}), got {_tname(value)}",
                              line=line, key=where)
        if not math.isfinite(value) or value < 0:
            raise PolicyError(self.path, f"must be a finite number >= 0 ({unit})", line=line,
                              key=where)
        return float(value)

    def max_price(self, mp: Any) -> dict[str, str]:
        """Prices as OpenRouter's spec types them: decimal strings."""
        if not isinstance(mp, dict):
            raise self.fail("routing", "max_price",
                            "must be a table, e.g. { prompt = 5, completion = 25 }")
        out: dict[str, str] = {}
        for k, v in mp.items():
            if k not in _MAX_PRICE:
                self.warn("routing", "max_price", f"{k} left out: prices are "
                          f"{', '.join(_MAX_PRICE)}")
                continue
            amount = self._number(f"routing.max_price.{k}", v, _MAX_PRICE_UNITS[k])
            out[k] = _decimal(amount)
        return out

    def threshold(self, key: str, value: Any, unit: str) -> Any:
        """A number (the p50 cutoff) or a table of p50/p75/p90/p99 cutoffs."""
        if not isinstance(value, dict):
            return self._number(f"routing.{key}", value, unit)
        out: dict[str, float] = {}
        for pct, v in value.items():
            if pct not in _PERCENTILES:
                self.warn("routing", key, f"{pct} left out: percentiles are "
                          f"{', '.join(_PERCENTILES)}")
                continue
            out[pct] = self._number(f"routing.{key}.{pct}", v, unit)
        return out or None

    def attribution(self, t: Mapping[str, Any]) -> dict[str, str]:
        """[attribution] -> headers; only what Claude Code can send in a header."""
        out: dict[str, str] = {}
        for k in ("referer", "title"):
            if k in t:
                value = self.string("attribution", k, t[k], single_line=True)
                self.header_text("attribution", k, value)
                out[k] = value
        if "categories" in t:
            cats = t["categories"]
            if isinstance(cats, str):
                cats = [c.strip() for c in cats.split(",") if c.strip()]
            cats = self.str_list("attribution", "categories", cats)
            bad = [c for c in cats if len(c) > 30 or not _CATEGORY_RE.match(c)]
            if bad:
                raise self.fail("attribution", "categories",
                                f"{bad[0]!r} is not a category: lowercase words joined by "
                                '"-", at most 30 characters, e.g. "cli-agent"')
            if len(cats) > 2:
                self.warn("attribution", "categories", f"{', '.join(cats[2:])} left out: "
                          "OpenRouter takes at most 2 categories per request")
                cats = cats[:2]
            out["categories"] = ",".join(cats)
        if "title" in out and "referer" not in out:
            self.warn("attribution", "title", "a title alone creates no attribution: "
                      "OpenRouter attributes apps by referer (add referer = \"https://...\")")
        return out

    def header_text(self, table: str, key: str, value: str) -> None:
        """Claude Code refuses every request whose custom header holds such a character."""
        for ch in value:
            if ord(ch) > 0xFF or ord(ch) < 0x20 or ord(ch) == 0x7F:
                raise self.fail(table, key, f"contains {ch!r} (U+{ord(ch):04X}), which Claude "
                                "Code cannot send in a header (it would refuse every request); "
                                "use plain Latin-1 text")


def _decimal(value: float) -> str:
    """A price as OpenRouter's spec types it: a plain decimal string (no exponent)."""
    text = format(Decimal(repr(value)).normalize(), "f")
    return text


def _tname(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
             list: "a list", dict: "a table"}
    return names.get(type(value), type(value).__name__)


def env_name_problem(name: str, value: str | None = None) -> str | None:
    """Why *name* (with *value*) may never be set through [env], or None.

    Names that are merely unknown pass here; ``resolve`` refuses them unless
    the user's ``allow_env`` lists them (parsing does not read the config).
    """
    if not _ENV_NAME_RE.match(name):
        return "is not a valid variable name (letters, digits, _; not starting with a digit)"
    verdict, reason = rules.env_verdict(name, value)
    if verdict == "managed":
        return f"is set by orenv from {reason}; use that instead of [env]"
    if verdict == "special":
        return (f"may not be set by a policy: it is special to {reason}; "
                "remove it from [env]")
    if verdict == "never":
        return (f"may never be set by a policy: it {reason}; remove it from [env] "
                "(set it in your own shell profile if you need it)")
    if verdict == "switch":
        return (f'may only be switched on ("1") by a policy ({reason}); '
                "a repository may not turn it back off")
    return None


def env_name_refusal(name: str, value: str, config: Config) -> str | None:
    """``env_name_problem`` plus the allowlist: unknown names need ``allow_env``."""
    problem = env_name_problem(name, value)
    if problem:
        return problem
    verdict, _ = rules.env_verdict(name, value, config.allow_env)
    if verdict == "unknown":
        return (f"is not known to be harmless, so a policy may not set it; if you trust "
                f'it, add "{name}" to allow_env in {config.path or "config.toml"}')
    return None


def profile_name(policy_path: str) -> str:
    """Default profile name: the policy's directory, made safe for prompts."""
    from ._text import marker

    return marker(os.path.basename(os.path.dirname(policy_path)) or "/")


def _url_problem(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a malformed port
    except ValueError:
        return "is not a valid URL"
    if any(c in url for c in "\\%") or any(ord(c) <= 0x20 or ord(c) >= 0x7f for c in url):
        # Claude Code's URL parser reads these differently from Python's (config.split_url).
        return ("must be plain ASCII without spaces, a backslash or a percent sign, "
                'such as "https://openrouter.ai/api"')
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return 'must be an https URL such as "https://openrouter.ai/api"'
    if parts.username or parts.password:
        return "must not contain a user name or password"
    if parts.query or parts.fragment:
        return "must not contain a query or fragment"
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        return "plain http is only allowed for loopback hosts; use https"
    return None


# ---------------------------------------------------------------- layering


def resolve(chain: list[PolicyFile], config: Config, *, check: bool = True) -> Policy:
    """Layer *chain* (nearest first) into one effective policy and check it.

    *check* False skips the checks against the user's config (allowed_hosts,
    allow_env, a key being named): `orenv allow` shows what a policy would do
    even when it is refused.
    """
    if not chain:
        raise ValueError("empty policy chain")
    nearest = chain[0]

    def pick(attr: str) -> Any:
        for pf in chain:
            value = getattr(pf, attr)
            if value is not None:
                return value
        return None

    def merged(attr: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for pf in reversed(chain):
            out.update(getattr(pf, attr))
        return out

    enabled = nearest.enabled is not False
    base_url = pick("base_url") or DEFAULT_BASE_URL
    name = pick("name") or profile_name(nearest.path)
    scrub = pick("scrub")
    policy = Policy(
        files=tuple(chain), enabled=enabled, name=name, key=pick("key"), base_url=base_url,
        mode=pick("mode") or config.default_mode, models=merged("models"), env=merged("env"),
        warn_below_usd=pick("warn_below_usd"), routing=merged("routing"),
        attribution=merged("attribution"),
        warnings=tuple(w for pf in chain for w in pf.warnings),
        scrub=config.scrub_subprocess_env if scrub is None else scrub,
    )
    if enabled and check:
        _check_effective(policy, config)
    return policy


def _check_effective(policy: Policy, config: Config) -> None:
    nearest = policy.files[0]
    text = nearest.content.decode("utf-8")
    if policy.key is None:
        raise PolicyError(nearest.path, 'no key: add key = "NAME" under [openrouter] '
                          "(or run `orenv set openrouter.key NAME`)",
                          line=line_of(text, "openrouter"), key="openrouter.key")
    refusal = config.url_refusal(policy.base_url)
    if refusal:
        owner = next((pf for pf in policy.files if pf.base_url), nearest)
        line = line_of(owner.content.decode("utf-8"), "openrouter", "base_url")
        raise PolicyError(owner.path, refusal, line=line, key="openrouter.base_url")
    # [env] names that are not known to be harmless need the user's allow_env;
    # reported against the file that sets the value in effect.
    for name, value in policy.env.items():
        problem = env_name_refusal(name, value, config)
        if problem:
            owner = next(pf for pf in policy.files if name in pf.env)
            raise PolicyError(owner.path, problem,
                              line=line_of(owner.content.decode("utf-8"), "env", name),
                              key=f"env.{name}")


def load(start: str, config: Config) -> Policy | None:
    """The effective policy for directory *start*, or None when there is none."""
    chain = find_chain(start)
    if not chain:
        return None
    return resolve(chain, config)
