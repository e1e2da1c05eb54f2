"""The global config.toml: defaults, allowed hosts, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from orenv.config import DEFAULT_ALLOWED_HOSTS, Config, HostPort, load_config
from orenv.errors import ConfigError


def test_missing_file_means_defaults(tmp_path: Path) -> None:
    cfg = load_config(tmp_path / "none.toml")
    assert DEFAULT_ALLOWED_HOSTS == ("openrouter.ai",)
    assert cfg.allowed_hosts == (HostPort("openrouter.ai"),)
    assert cfg.default_mode == "export" and not cfg.quiet and cfg.allow_env == frozenset()


def test_hosts_normalised(tmp_path: Path) -> None:
    p = tmp_path / "config.toml"
    p.write_text('allowed_hosts = ["OpenRouter.ai.", "127.0.0.1:8080", "[::1]:9", "::1"]\n'
                 'quiet = true\n')
    cfg = load_config(p)
    assert cfg.allowed_hosts == (HostPort("openrouter.ai"), HostPort("127.0.0.1", 8080),
                                 HostPort("::1", 9), HostPort("::1")) and cfg.quiet


@pytest.mark.parametrize("url,allowed", [
    ("https://openrouter.ai/api", True),
    ("https://OpenRouter.AI./api", True),
    ("https://openrouter.ai:443/api", True),
    ("https://openrouter.ai:8443/api", False),  # an entry without a port: 443 only
    ("http://openrouter.ai/api", False),  # port 80: another port
    ("https://openrouter.ai.evil.example/api", False),
    ("http://127.0.0.1:8080/api", True),
    ("http://127.0.0.1:8081/api", False),  # another local user's listener
    ("http://127.0.0.1/api", False),
    ("http://[::1]:9/api", True),
    ("http://[::1]:10/api", False),
    ("http://[::1]/api", False),  # "::1" without a port: port 443 only
    ("https://[::1]/api", True),
    ("ftp://openrouter.ai/", False),
    ("https://openrouter.ai:99999/", False),
])
def test_url_refusal_names_host_and_port(url: str, allowed: bool) -> None:
    cfg = Config(allowed_hosts=(HostPort("openrouter.ai"), HostPort("127.0.0.1", 8080),
                                HostPort("::1", 9), HostPort("::1")), path="/c/config.toml")
    refusal = cfg.url_refusal(url)
    assert (refusal is None) == allowed, refusal
    if refusal and "port" in url:
        assert "/c/config.toml" in refusal or "not a valid" in refusal


@pytest.mark.parametrize("entry", ["https://openrouter.ai", "host:0", "host:x", "a b",
                                   "[::1", "user@host", "host/path", ""])
def test_bad_host_entries(tmp_path: Path, entry: str) -> None:
    p = tmp_path / "config.toml"
    p.write_text(f"allowed_hosts = [{entry!r}]\n".replace("'", '"'))
    with pytest.raises(ConfigError) as info:
        load_config(p)
    assert info.value.key == "allowed_hosts" and info.value.line == 1


def test_allow_env(tmp_path: Path) -> None:
    p = tmp_path / "config.toml"
    p.write_text('allow_env = ["MY_PROJECT_ENV", "Other"]\n')
    assert load_config(p).allow_env == {"MY_PROJECT_ENV", "OTHER"}
    # Names that can never come from a repository cannot be allowed either.
    for name in ("HTTPS_PROXY", "NODE_OPTIONS", "GIT_PAGER", "PATH", "status", "PS1",
                 "ANTHROPIC_BASE_URL", "OTEL_EXPORTER_OTLP_ENDPOINT", "1X"):
        p.write_text(f'allow_env = ["{name}"]\n')
        with pytest.raises(ConfigError) as info:
            load_config(p)
        assert info.value.key == "allow_env" and name in str(info.value)


@pytest.mark.parametrize("text,line,what", [
    ('allowed_hosts = "openrouter.ai"\n', 1, "list of host names"),
    ('quiet = false\nbogus = 1\n', 2, "unknown setting"),
    ('default_mode = "yolo"\n', 1, "export"),
    ('quiet = "yes"\n', 1, "true or false"),
])
def test_errors_name_line_and_key(tmp_path: Path, text: str, line: int, what: str) -> None:
    p = tmp_path / "config.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(p)
    assert info.value.line == line and what in str(info.value) and str(p) in str(info.value)


def test_bad_toml(tmp_path: Path) -> None:
    p = tmp_path / "config.toml"
    p.write_text("allowed_hosts = [\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(p)
