"""orenv.rules: the tables behind "what a repository may set", read by one function each.

The tests iterate over the tables, so a new entry is tested the moment it is
added; and over the issue's hostile names, in every letter case.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orenv import rules
from orenv.config import Config
from orenv.errors import PolicyError
from orenv.policy import env_name_problem, env_name_refusal, parse, resolve

# Names a repository's [env] used to get through (each one redirects traffic,
# logs TLS secrets, changes where Claude Code reads settings, or runs code).
HOSTILE = [
    "CLAUDE_CONFIG_DIR", "ANTHROPIC_UNIX_SOCKET", "GIT_PAGER", "GIT_EXTERNAL_DIFF",
    "GIT_SSH_COMMAND", "Https_Proxy", "https_proxy", "SSLKEYLOGFILE", "CLAUDE_CODE_SHELL_PREFIX",
    "CLAUDE_ENV_FILE", "OPENSSL_CONF", "LESSOPEN", "MANPAGER", "npm_config_registry",
    "NPM_CONFIG_SCRIPT_SHELL", "PIP_INDEX_URL", "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_HEADERS", "NODE_EXTRA_CA_CERTS", "NODE_OPTIONS", "BUN_CONFIG_REGISTRY",
    "ANTHROPIC_BEDROCK_BASE_URL", "CLAUDE_CODE_USE_BEDROCK", "AWS_PROFILE",
    "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "LD_PRELOAD", "PYTHONPATH",
    "EDITOR", "PAGER", "BROWSER", "GLOBAL_AGENT_HTTP_PROXY", "DOCKER_HOST", "KUBECONFIG",
    "XDG_CONFIG_HOME", "HOME", "PATH", "TMPDIR", "SHELL", "BASH_ENV", "ZDOTDIR",
    "CLAUDE_CODE_ENABLE_TELEMETRY", "USE_BUILTIN_RIPGREP", "CLAUDE_CODE_PROVIDER_MANAGED_BY_HOST",
]


def cases(name: str) -> list[str]:
    return sorted({name, name.upper(), name.lower(), name.capitalize()})


@pytest.mark.parametrize("name", sorted(rules.ENV_HARMLESS))
def test_every_harmless_name_passes_and_has_a_reason(name: str) -> None:
    rule = rules.ENV_HARMLESS[name]
    assert rule.reason and name == name.upper()
    value = "1"
    assert env_name_problem(name, value) is None
    assert env_name_refusal(name, value, Config()) is None
    # Never also in a table that forbids it.
    assert rules.never_reason(name) is None or name in rules.ENV_HARMLESS
    assert rules.shell_special(name) is None


@pytest.mark.parametrize("name", sorted(n for n, r in rules.ENV_HARMLESS.items() if r.switch))
def test_switches_cannot_be_turned_off_by_a_repository(name: str) -> None:
    for value in ("1", "true", "ON"):
        assert env_name_problem(name, value) is None
    for value in ("", "0", "false", "off"):
        assert "switched on" in (env_name_problem(name, value) or "")


@pytest.mark.parametrize("name", [c for n in HOSTILE for c in cases(n)])
def test_hostile_names_refused_in_every_case(name: str) -> None:
    refusal = env_name_refusal(name, "x", Config())
    assert refusal is not None
    # ...and the user cannot allow them for a repository either.
    assert env_name_refusal(name, "x", Config(allow_env=frozenset({name.upper()}))) is not None


@pytest.mark.parametrize("name", sorted(rules.ENV_NEVER))
def test_never_names_cannot_be_allowed(name: str) -> None:
    assert rules.ENV_NEVER[name]
    cfg = Config(allow_env=frozenset({name.upper()}))
    assert env_name_refusal(name, "x", cfg) is not None


@pytest.mark.parametrize("prefix", sorted(rules.ENV_NEVER_PREFIXES))
def test_never_prefixes(prefix: str) -> None:
    name = prefix + "THING"
    assert rules.ENV_NEVER_PREFIXES[prefix]
    assert env_name_refusal(name, "x", Config(allow_env=frozenset({name.upper()}))) is not None


@pytest.mark.parametrize("name", sorted(rules.SHELL_SPECIAL))
def test_shell_special_names_refused(name: str) -> None:
    problem = env_name_problem(name, "1")
    assert problem is not None


@pytest.mark.parametrize("name", ["epochtime", "status_generation", "EPOCHREALTIME", "fish_pid",
                                  "hostname", "zsh_scheduled_events", "ZSH_VERSION",
                                  "BASH_COMMAND", "FISH_VERSION", "COMP_LINE", "TRAPEXIT"])
def test_named_specials(name: str) -> None:
    assert "special to" in (env_name_problem(name, "1") or "")


@pytest.mark.parametrize("name", sorted(rules.ORENV_MANAGED))
def test_managed_names_point_at_their_table(name: str) -> None:
    problem = env_name_problem(name, "x") or ""
    assert "orenv from [" in problem


def test_unknown_name_needs_allow_env_and_says_how(tmp_path: Path) -> None:
    text = b'[openrouter]\nkey = "w"\n[env]\nMY_PROJECT_FLAG = "1"\n'
    pf = parse(str(tmp_path / ".orenv.toml"), text)  # parsing alone does not refuse it
    cfg = Config(path="/home/u/.config/orenv/config.toml")
    with pytest.raises(PolicyError) as info:
        resolve([pf], cfg)
    e = info.value
    assert e.line == 4 and e.key == "env.MY_PROJECT_FLAG"
    assert 'allow_env' in e.message and "/home/u/.config/orenv/config.toml" in e.message
    allowed = Config(allow_env=frozenset({"MY_PROJECT_FLAG"}))
    assert resolve([pf], allowed).env == {"MY_PROJECT_FLAG": "1"}
    # Compared case-insensitively, like the tables.
    lower = parse(str(tmp_path / ".orenv.toml"),
                  text.replace(b"MY_PROJECT_FLAG", b"my_project_flag"))
    assert resolve([lower], allowed).env == {"my_project_flag": "1"}


@pytest.mark.parametrize("name", sorted(rules.SETTINGS_REDIRECTS))
def test_settings_redirect_table(name: str) -> None:
    kind, reason = rules.SETTINGS_REDIRECTS[name]
    assert kind in ("url", "always") and reason
    for variant in cases(name):
        assert rules.settings_redirect(variant) == (kind, reason)


@pytest.mark.parametrize("key", sorted(rules.SETTINGS_COMMANDS))
def test_settings_commands_table(key: str) -> None:
    assert rules.SETTINGS_COMMANDS[key]
