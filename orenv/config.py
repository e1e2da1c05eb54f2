"""The global ``$XDG_CONFIG_HOME/orenv/config.toml``: defaults and allowed hosts.

``allowed_hosts`` entries are ``host`` or ``host:port`` (IPv6 as ``[::1]`` or
``[::1]:8080``). An entry without a port allows port 443 only (https), so
allowing a loopback proxy on one port never allows another local user's
listener on every other port.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from . import paths
from ._tomlpos import line_of
from .errors import ConfigError

__all__ = ["DEFAULT_ALLOWED_HOSTS", "Config", "HostPort", "load_config", "parse_host_entry"]

DEFAULT_ALLOWED_HOSTS: tuple[str, ...] = ("openrouter.ai",)
_KNOWN = {"allowed_hosts", "allow_env", "default_mode", "quiet", "scrub_subprocess_env"}
_DEFAULT_PORTS = {"https": 443, "http": 80}
_HOST_RE = re.compile(r"^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class HostPort:
    """One ``allowed_hosts`` entry; ``port`` None means 443."""

    host: str
    port: int | None = None

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"


def _norm_host(host: str) -> str:
    return host.strip().lower().rstrip(".")


def parse_host_entry(entry: str) -> HostPort:
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port``; raises ValueError."""
    text = entry.strip()
    port: int | None = None
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError("malformed IPv6 entry")
        if rest:
            port = _port(rest[1:])
    elif text.count(":") == 1:
        host, _, rest = text.partition(":")
        port = _port(rest)
    elif ":" in text:
        host = text  # a bare IPv6 address
    else:
        host = text
    host = _norm_host(host)
    if not host or ("/" in host or "@" in host or " " in host):
        raise ValueError("not a host name")
    if ":" not in host and not _HOST_RE.match(host):
        raise ValueError("not a host name")
    return HostPort(host, port)


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError("port must be a number from 1 to 65535")
    return int(text)


@dataclass(frozen=True)
class Config:
    allowed_hosts: tuple[HostPort, ...] = tuple(HostPort(h) for h in DEFAULT_ALLOWED_HOSTS)
    default_mode: str = "export"
    quiet: bool = False
    allow_env: frozenset[str] = frozenset()  # upper-cased names the user allows in [env]
    scrub_subprocess_env: bool = True  # the default for policies that do not say
    path: str = field(default="", compare=False)

    def url_refusal(self, url: str) -> str | None:
        """Why a key must not go to *url*, or None when ``allowed_hosts`` lists its host:port."""
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError:
            return f"{url!r} is not a valid URL"
        scheme = parts.scheme.lower()
        host = _norm_host(parts.hostname or "")
        if scheme not in _DEFAULT_PORTS or not host:
            return f"{url!r} is not an http(s) URL"
        effective = port if port is not None else _DEFAULT_PORTS[scheme]
        for entry in self.allowed_hosts:
            if entry.host == host and (entry.port or 443) == effective:
                return None
        shown = str(HostPort(host, port if port is not None or scheme == "https"
                             else _DEFAULT_PORTS[scheme]))
        return (f"host {shown} is not in allowed_hosts (an entry without a port allows "
                f"port 443 only); if you trust it, add \"{shown}\" to allowed_hosts in "
                f"{self.path or 'config.toml'}")


def load_config(path: Path | None = None) -> Config:
    """Read the global config; a missing file means the defaults."""
    path = path or paths.config_file()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Config(path=str(path))
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError:
        raise ConfigError(str(path), "not valid UTF-8; save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"invalid TOML: {exc}") from None

    def fail(key: str, problem: str) -> ConfigError:
        return ConfigError(str(path), problem, line=line_of(text, None, key), key=key)

    for key in data:
        if key not in _KNOWN:
            raise fail(key, f"unknown setting; known: {', '.join(sorted(_KNOWN))}")
    hosts = data.get("allowed_hosts", list(DEFAULT_ALLOWED_HOSTS))
    if not isinstance(hosts, list) or not all(isinstance(h, str) and h for h in hosts):
        raise fail("allowed_hosts", 'must be a list of host names, e.g. ["openrouter.ai"]')
    parsed = []
    for h in hosts:
        try:
            parsed.append(parse_host_entry(h))
        except ValueError as exc:
            raise fail("allowed_hosts", f"{h!r}: {exc}; write host or host:port, "
                       'e.g. "openrouter.ai" or "127.0.0.1:8080"') from None
    mode = data.get("default_mode", "export")
    if mode not in ("export", "exec", "helper"):
        raise fail("default_mode", 'must be "export", "exec" or "helper"')
    quiet = data.get("quiet", False)
    if not isinstance(quiet, bool):
        raise fail("quiet", "must be true or false")
    scrub = data.get("scrub_subprocess_env", True)
    if not isinstance(scrub, bool):
        raise fail("scrub_subprocess_env", "must be true or false")
    allow = data.get("allow_env", [])
    if not isinstance(allow, list) or not all(isinstance(n, str) for n in allow):
        raise fail("allow_env", 'must be a list of variable names, e.g. ["MY_PROJECT_ENV"]')
    from .policy import env_name_problem

    for name in allow:
        problem = ("is not a valid variable name" if not _NAME_RE.match(name)
                   else env_name_problem(name))
        if problem:
            raise fail("allow_env", f"{name!r} {problem.split(';')[0]}")
    return Config(
        allowed_hosts=tuple(parsed),
        default_mode=mode,
        quiet=quiet,
        allow_env=frozenset(n.upper() for n in allow),
        scrub_subprocess_env=scrub,
        path=str(path),
    )
