"""The global ``$XDG_CONFIG_HOME/orenv/config.toml``: defaults and allowed hosts."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from . import paths
from ._tomlpos import line_of
from .errors import ConfigError

__all__ = ["DEFAULT_ALLOWED_HOSTS", "Config", "load_config"]

DEFAULT_ALLOWED_HOSTS: tuple[str, ...] = ("openrouter.ai",)
_KNOWN = {"allowed_hosts", "default_mode", "quiet"}


@dataclass(frozen=True)
class Config:
    allowed_hosts: tuple[str, ...] = DEFAULT_ALLOWED_HOSTS
    default_mode: str = "export"
    quiet: bool = False
    path: str = field(default="", compare=False)

    def host_refusal(self, host: str) -> str | None:
        """Why keys must not go to *host*, or None when ``allowed_hosts`` lists it."""
        if host in self.allowed_hosts:
            return None
        return (f"host {host!r} is not in allowed_hosts; if you trust it, add it to "
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
    mode = data.get("default_mode", "export")
    if mode not in ("export", "exec", "helper"):
        raise fail("default_mode", 'must be "export", "exec" or "helper"')
    quiet = data.get("quiet", False)
    if not isinstance(quiet, bool):
        raise fail("quiet", "must be true or false")
    return Config(
        allowed_hosts=tuple(h.lower().rstrip(".") for h in hosts),
        default_mode=mode,
        quiet=quiet,
        path=str(path),
    )
