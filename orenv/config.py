"""The global ``$XDG_CONFIG_HOME/orenv/config.toml``: defaults and allowed hosts.

``allowed_hosts`` entries are ``host`` or ``host:port`` (IPv6 as ``[::1]`` or
``[::1]:8080``). An entry without a port allows port 443 only (https), so
allowing a loopback proxy on one port never allows another local user's
listener on every other port.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from . import paths
from ._tomlpos import line_of
from .errors import ConfigError

__all__ = ["DEFAULT_ALLOWED_HOSTS", "Config", "HostPort", "is_loopback", "load_config",
           "parse_host_entry", "split_url"]

DEFAULT_ALLOWED_HOSTS: tuple[str, ...] = ("openrouter.ai",)
_KNOWN = {"allowed_hosts", "allow_env", "default_mode", "quiet", "scrub_subprocess_env"}
_DEFAULT_PORTS = {"https": 443, "http": 80}
_HOST_RE = re.compile(r"^[a-z0-9]([a-z0-9._-]*[a-z0-9])?\Z")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")


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


def is_loopback(host: str) -> bool:
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# A URL orenv can judge: an ASCII host name or a bracketed IPv6 address, an
# optional numeric port, then printable ASCII without a backslash. Python's
# urlsplit and Claude Code's WHATWG parser disagree on anything else
# (``http://evil\@openrouter.ai`` is openrouter.ai to one and evil to the
# other; tabs vanish, ``%`` decodes, non-ASCII hosts are IDNA-mapped), so
# anything else is refused rather than interpreted.
_URL_RE = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://"
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)"
    r"(?::(?P<port>[0-9]{0,5}))?"
    r"(?P<rest>[/?#][\x21-\x5b\x5d-\x7e]*)?")
_WHATWG_TRIM = "".join(chr(c) for c in range(0x21))  # C0 controls and space


def split_url(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of an http(s) URL orenv can judge; raises ValueError.

    Leading and trailing controls and spaces are trimmed as WHATWG does.
    """
    m = _URL_RE.fullmatch(url.strip(_WHATWG_TRIM))
    if m is None:
        raise ValueError("not a plain URL")
    scheme = m["scheme"].lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError("not http(s)")
    port = int(m["port"]) if m["port"] else None
    if port is not None and port > 65535:
        raise ValueError("bad port")
    host = _norm_host(m["host"].strip("[]"))
    if not host:
        raise ValueError("no host")
    return scheme, host, port


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

    def url_refusal(self, url: str, *, proxy: bool = False) -> str | None:
        """Why a key must not go to *url*, or None when ``allowed_hosts`` lists its host:port.

        Plain http only to a loopback host (the key would cross the network
        unencrypted), except for a *proxy*, which carries https in a tunnel.
        """
        try:
            scheme, host, port = split_url(url)
        except ValueError:
            # Not quoted: it may hold a password.
            return ("the URL is not one orenv can check: only http(s)://HOST[:PORT]/path, "
                    "with no user name, backslash, percent sign, space or control character "
                    "in it")
        effective = port if port is not None else _DEFAULT_PORTS[scheme]
        if scheme == "http" and not proxy and not is_loopback(host):
            return (f"{url!r} is plain http to {HostPort(host, port)}, which is not a loopback "
                    "host: the key would cross the network unencrypted; use https")
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
