"""`orenv doctor [--online]` against the loopback stand-in: planted problems and a clean setup."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Home, base_path, loopback_host, run_orenv, write_config
from standin import StandIn

USER_ANTHROPIC = "sk-ant-api03-PLANTED-do-not-print-0000"


def orenv(home: Home, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    # The test home's keyring deadline (5 s) already allows for a loaded machine.
    return run_orenv(home, *args, timeout=60, **kwargs)


def policy_text(base_url: str, haiku: str = "anthropic/claude-haiku-4.5") -> str:
    return f"""\
[openrouter]
key = "work"
base_url = "{base_url}"
[models]
sonnet = "anthropic/claude-sonnet-4.5"
haiku = "{haiku}"
default = "sonnet"
[budget]
warn_below_usd = 2.0
"""


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as s:
        yield s


@pytest.fixture
def setup(home: Home, standin: StandIn) -> tuple[Home, Path, StandIn]:
    write_config(home, hosts=("openrouter.ai", loopback_host(standin.base_url)))
    assert orenv(home, "key", "set", "work", input=standin.key).returncode == 0
    (home.path / ".zshrc").write_text('eval "$(orenv hook zsh)"\n')
    (home.path / ".bashrc").write_text('eval "$(orenv hook bash)"\n')
    fish = home.config / "fish"
    fish.mkdir()
    (fish / "config.fish").write_text("orenv hook fish | source\n")
    proj = home.path / "proj"
    proj.mkdir()
    (proj / ".orenv.toml").write_text(policy_text(standin.base_url))
    assert orenv(home, "allow", str(proj)).returncode == 0
    return home, proj, standin


def doctor(home: Home, proj: Path, standin: StandIn,
           env: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    proc = orenv(home, "doctor", "--online", "--json", cwd=proj, env=env)
    out = proc.stdout + proc.stderr
    assert standin.key not in out and USER_ANTHROPIC not in out
    data = json.loads(proc.stdout)
    found = {f["code"]: f["severity"] for f in data["findings"]}
    assert all(f["fix"] for f in data["findings"] if f["severity"] in ("error", "warning"))
    return proc.returncode, found, out


def test_clean_setup_passes(setup: tuple[Home, Path, StandIn]) -> None:
    home, proj, standin = setup
    rc, found, out = doctor(home, proj, standin)
    assert rc == 0, out
    assert "error" not in found.values(), out
    for code in ("hook-installed", "keyring", "policy", "host-allowed", "key-present",
                 "claude-clean", "key-valid", "limit", "model"):
        assert found.get(code) == "ok", (code, out)
    # Text output too, and exit status 0.
    text = orenv(home, "doctor", cwd=proj)
    assert text.returncode == 0 and "0 error(s)" in text.stdout


def _settings_override(home: Home, proj: Path, s: StandIn) -> dict[str, str]:
    d = home.path / ".claude"
    d.mkdir()
    (d / "settings.json").write_text(json.dumps(
        {"env": {"ANTHROPIC_BASE_URL": "https://api.anthropic.com"}}))
    return {}


def _api_key(home: Home, proj: Path, s: StandIn) -> dict[str, str]:
    return {"ANTHROPIC_API_KEY": USER_ANTHROPIC}


def _no_tools(home: Home, proj: Path, s: StandIn) -> dict[str, str]:
    (proj / ".orenv.toml").write_text(policy_text(s.base_url, haiku="example/no-tools-model"))
    assert orenv(home, "allow", str(proj)).returncode == 0
    return {}


def _exhausted(home: Home, proj: Path, s: StandIn) -> dict[str, str]:
    s.keys[s.key]["limit"] = 1.0
    s.keys[s.key]["usage"] = 1.0
    return {}


def _untrusted(home: Home, proj: Path, s: StandIn) -> dict[str, str]:
    with (proj / ".orenv.toml").open("a") as fh:
        fh.write("# edited by someone else\n")
    return {}


def _host(home: Home, proj: Path, s: StandIn) -> dict[str, str]:
    write_config(home, hosts=("openrouter.ai",))
    return {}


PROBLEMS: dict[str, tuple[Callable[[Home, Path, StandIn], dict[str, str]], str]] = {
    "settings-env-override": (_settings_override, "settings-env-override"),
    "non-empty-api-key": (_api_key, "api-key-set"),
    "model-without-tools": (_no_tools, "model-unusable"),
    "exhausted-limit": (_exhausted, "limit-exhausted"),
    "untrusted-policy": (_untrusted, "policy-untrusted"),
    "host-not-allowed": (_host, "host-not-allowed"),
}


@pytest.mark.parametrize("problem", list(PROBLEMS))
def test_finds_planted_problem(problem: str, setup: tuple[Home, Path, StandIn]) -> None:
    home, proj, standin = setup
    plant, code = PROBLEMS[problem]
    env = plant(home, proj, standin)
    rc, found, out = doctor(home, proj, standin, env)
    assert found.get(code) == "error", out
    assert rc == 1, out


def test_low_limit_is_a_warning_only(setup: tuple[Home, Path, StandIn]) -> None:
    home, proj, standin = setup
    standin.keys[standin.key]["limit"] = 1.5  # below warn_below_usd = 2.0
    rc, found, out = doctor(home, proj, standin)
    assert found.get("limit-low") == "warning", out
    assert rc == 0, out
    text = orenv(home, "doctor", "--online", cwd=proj).stdout
    assert "[warning] key 'work' has $1.50 left, below warn_below_usd ($2.00)" in text


def test_money_has_two_decimals(setup: tuple[Home, Path, StandIn]) -> None:
    home, proj, standin = setup
    standin.keys[standin.key]["limit"] = 20  # an integer, as OpenRouter may send it
    standin.keys[standin.key]["usage"] = 7.66
    text = orenv(home, "doctor", "--online", cwd=proj).stdout
    assert "[ok] key 'work': $12.34 of $20.00 left" in text, text
    standin.keys[standin.key]["usage"] = 20
    text = orenv(home, "doctor", "--online", cwd=proj).stdout
    assert "key 'work' has no limit left ($0.00 of $20.00 remaining)" in text, text


def test_status_shows_conflicts(setup: tuple[Home, Path, StandIn]) -> None:
    home, proj, standin = setup
    (home.path / ".claude.json").write_text(json.dumps({"primaryApiKey": USER_ANTHROPIC}))
    proc = orenv(home, "status", "--json", cwd=proj)
    assert USER_ANTHROPIC not in proc.stdout and standin.key not in proc.stdout
    data = json.loads(proc.stdout)
    codes = {f["code"]: f["severity"] for f in data["claude"]["findings"]}
    assert codes["login-api-key"] == "error"
    text = orenv(home, "status", cwd=proj).stdout
    assert "primaryApiKey" in text and "claude /logout" in text


def test_models_command(setup: tuple[Home, Path, StandIn]) -> None:
    home, proj, standin = setup
    out = orenv(home, "models", "--tools", "--search", "claude", cwd=proj).stdout
    assert "anthropic/claude-sonnet-4.5" in out and "no-tools" not in out
    assert "1,000,000" in out and "3.00" in out and "15.00" in out  # context, $/Mtok
    data = json.loads(orenv(home, "models", "--json", cwd=proj).stdout)
    assert {m["id"]: m["tools"] for m in data}["example/no-tools-model"] is False
    seen = len(standin.requests)
    orenv(home, "models", cwd=proj)  # served from the cache
    assert len(standin.requests) == seen
    orenv(home, "models", "--refresh", cwd=proj)
    assert len(standin.requests) == seen + 1
    assert standin.requests[-1]["headers"]["authorization"] == f"Bearer {standin.key}"


def test_init_offers_cached_tool_models(setup: tuple[Home, Path, StandIn]) -> None:
    home, proj, _ = setup
    orenv(home, "models", cwd=proj)  # fills the cache
    new = home.path / "new"
    new.mkdir()
    proc = orenv(home, "init", "--key", "work", cwd=new)
    assert proc.returncode == 0, proc.stderr
    text = (new / ".orenv.toml").read_text()
    assert "# Tool-capable models in your cache:" in text
    assert "#   openai/gpt-5" in text and "no-tools-model" not in text


def test_model_mistakes_are_warned_where_they_are_made(
    setup: tuple[Home, Path, StandIn]
) -> None:
    """With a cached catalogue: set, allow and offline doctor warn (never a network call)."""
    home, proj, standin = setup
    orenv(home, "models", cwd=proj)  # fills the cache
    before = len(standin.requests)
    out = orenv(home, "set", "models.opus", "anthropic/claude-opsu-4.5", cwd=proj)
    assert out.returncode == 0 and "did you mean anthropic/claude-opus-4.5" in out.stderr
    out = orenv(home, "set", "models.haiku", "example/no-tools-model", cwd=proj)
    assert "does not support tool use" in out.stderr
    out = orenv(home, "allow", cwd=proj)
    assert out.returncode == 0 and out.stderr.count("orenv: warning: [models]") == 2
    data = json.loads(orenv(home, "doctor", "--json", cwd=proj).stdout)
    warned = [f for f in data["findings"] if f["code"] == "model-unusable"]
    assert len(warned) == 2 and all(f["severity"] == "warning" for f in warned)
    assert len(standin.requests) == before  # all from the cache
    ok = orenv(home, "set", "models.opus", "anthropic/claude-opus-4.5", cwd=proj)
    assert ok.stderr == ""


@pytest.mark.parametrize(("default", "mapped", "warned"), [
    ("fable", {}, True), ("fable", {"fable": "anthropic/claude-opus-4.5"}, False),
    ("best", {}, True), ("best", {"opus": "anthropic/claude-opus-4.5"}, False),
    ("best", {"fable": "anthropic/claude-opus-4.5"}, False), ("opusplan", {}, True),
])
def test_aliases_need_their_slot(setup: tuple[Home, Path, StandIn], default: str,
                                 mapped: dict[str, str], warned: bool) -> None:
    home, proj, standin = setup
    models = "".join(f'{k} = "{v}"\n' for k, v in mapped.items())
    (proj / ".orenv.toml").write_text(
        f'[openrouter]\nkey = "work"\nbase_url = "{standin.base_url}"\n'
        f'[models]\n{models}default = "{default}"\n')
    orenv(home, "allow", str(proj))
    _, found, out = doctor(home, proj, standin)
    assert (found.get("model-alias-unmapped") == "warning") == warned, out
    if mapped:
        env = orenv(home, "export", "bash", cwd=proj).stdout
        assert "ANTHROPIC_DEFAULT_FABLE_MODEL" in env or "fable" not in mapped


def test_subprocess_scrub_is_checked(setup: tuple[Home, Path, StandIn], tmp_path: Path) -> None:
    """Scrubbing is asked for where Claude Code's sandbox runs; doctor says when it cannot."""
    import shutil

    home, proj, standin = setup
    show = ["exec", "--", "sh", "-c", 'printf %s "${CLAUDE_CODE_SUBPROCESS_ENV_SCRUB-unset}"']
    _, found, out = doctor(home, proj, standin)
    assert "subprocess-env" not in found, out
    assert orenv(home, *show, cwd=proj).stdout == "1"
    # bubblewrap installed but unable to make a sandbox, as in many containers
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "bwrap").write_text("#!/bin/sh\necho 'bwrap: No permissions to create new "
                                "namespace' >&2\nexit 1\n")
    (fake / "bwrap").chmod(0o755)
    (fake / "socat").symlink_to(shutil.which("socat") or "socat")
    env = {"PATH": f"{fake}:{base_path()}"}
    _, found, out = doctor(home, proj, standin, env=env)
    assert found.get("subprocess-env") == "warning", out
    assert "bubblewrap cannot create a sandbox here" in out
    assert orenv(home, *show, cwd=proj, env=env).stdout == "unset"
    # the policy's own choice: information, not a warning
    with (proj / ".orenv.toml").open("a") as f:
        f.write("[claude]\nscrub_subprocess_env = false\n")
    orenv(home, "allow", str(proj))
    _, found, out = doctor(home, proj, standin)
    assert found.get("subprocess-env") == "info", out
    assert orenv(home, *show, cwd=proj).stdout == "unset"


def test_claude_code_that_misreads_dotted_ids(setup: tuple[Home, Path, StandIn]) -> None:
    """Issue 12 item 4: 2.1.197 shows anthropic/claude-sonnet-4.5 as "Sonnet 4"; 2.1.332
    reads it right."""
    from harness import REPO_ROOT

    home, proj, standin = setup
    tools = REPO_ROOT / ".tools"
    old = tools / "node-2.1.197" / "node_modules" / ".bin"
    new = tools / "node" / "node_modules" / ".bin"
    assert (old / "claude").exists() and (new / "claude").exists(), "run `make deps`"
    _, found, out = doctor(home, proj, standin, env={"PATH": f"{old}:{base_path()}"})
    assert found.get("model-display") == "info", out
    assert "Claude Code 2.1.197 shows anthropic/claude-sonnet-4.5" in out
    _, found, out = doctor(home, proj, standin, env={"PATH": f"{new}:{base_path()}"})
    assert "model-display" not in found, out
