"""End to end: the real Claude Code CLI, in activated shells, against the loopback stand-in.

Claude Code (npm ``@anthropic-ai/claude-code``) comes from ``make deps``; a
missing CLI fails these tests, it does not skip them. Each ``claude -p`` run
costs about a second, so every test does only what it must. Claude Code is
never run with a key the stand-in rejects: it retries 401s for minutes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Home
from harness import Shell
from standin import DEFAULT_TEXT, StandIn

from .conftest import CLAUDE, MODEL, orenv

KINDS = ["zsh", "bash", "fish"]
ShellFactory = Callable[..., Shell]


@pytest.fixture
def project(loopback_home: Home, standin: StandIn) -> Callable[[str], Path]:
    home = loopback_home
    orenv(home, "key", "set", "work", input=standin.key)

    def make(mode: str) -> Path:
        d = home.path / f"proj-{mode}"
        d.mkdir()
        (d / ".orenv.toml").write_text(
            f'[openrouter]\nkey = "work"\nbase_url = "{standin.base_url}"\nmode = "{mode}"\n'
            f'[models]\nsonnet = "{MODEL}"\ndefault = "sonnet"\n')
        orenv(home, "allow", str(d))
        return d

    return make


def shell(shell_factory: ShellFactory, kind: str) -> Shell:
    # Claude Code's own state goes to the test's temporary HOME; no telemetry or updates.
    return shell_factory(kind, env={"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"})


def claude(sh: Shell, prefix: str = "") -> str:
    return sh.run(f"{prefix}{sh.quote(CLAUDE)} -p hi </dev/null", timeout=90)


def assert_reached(standin: StandIn, out: str, *, helper: bool = False) -> None:
    assert DEFAULT_TEXT in out, out
    reqs = standin.messages_requests()
    assert reqs, "Claude Code did not reach the stand-in"
    last = reqs[-1]
    assert last["path"].startswith("/api/v1/messages")
    assert last["headers"]["authorization"] == f"Bearer {standin.key}"
    if helper:
        # Claude Code sends an apiKeyHelper's answer as both Bearer and x-api-key:
        # the same OpenRouter key to the same host, never anything else.
        assert last["headers"].get("x-api-key") in (None, standin.key)
    else:
        assert "x-api-key" not in last["headers"]
    assert last["body"]["model"] == MODEL


def assert_not_reached_with_key(standin: StandIn, before: int) -> None:
    for r in standin.requests[before:]:
        assert standin.key not in json.dumps(r["headers"]), r["path"]


def assert_no_key_in_files(home: Home, key: str) -> None:
    for f in home.path.rglob("*"):
        if f.is_file() and not f.is_symlink() and f.stat().st_size < 5_000_000:
            assert key.encode() not in f.read_bytes(), f


@pytest.mark.parametrize("kind", KINDS)
def test_export_mode(kind: str, home: Home, standin: StandIn, project: Callable[[str], Path],
                     shell_factory: ShellFactory) -> None:
    proj = project("export")
    sh = shell(shell_factory, kind)
    sh.cd(proj)
    assert_reached(standin, claude(sh))
    sh.cd(home.path)
    before = len(standin.requests)
    out = claude(sh)
    assert DEFAULT_TEXT not in out
    assert_not_reached_with_key(standin, before)
    assert_no_key_in_files(home, standin.key)


def test_exec_mode(home: Home, standin: StandIn, project: Callable[[str], Path],
                   shell_factory: ShellFactory) -> None:
    proj = project("exec")
    sh = shell(shell_factory, "bash")
    sh.cd(proj)
    assert "ANTHROPIC_AUTH_TOKEN" not in sh.env()
    before = len(standin.requests)
    out = claude(sh)  # plain claude: the shell has no key
    assert DEFAULT_TEXT not in out
    assert_not_reached_with_key(standin, before)
    assert_reached(standin, claude(sh, "orenv exec -- "))
    sh.cd(home.path)
    before = len(standin.requests)
    assert DEFAULT_TEXT not in claude(sh)
    assert_not_reached_with_key(standin, before)


def test_helper_mode(home: Home, standin: StandIn, project: Callable[[str], Path],
                     shell_factory: ShellFactory) -> None:
    proj = project("helper")
    sh = shell(shell_factory, "zsh")
    sh.cd(proj)
    assert "ANTHROPIC_AUTH_TOKEN" not in sh.env()
    out = sh.run("orenv helper on")
    assert "wrote apiKeyHelper" in out and standin.key not in out
    # `claude -p` uses a project apiKeyHelper without the workspace being trusted.
    assert_reached(standin, claude(sh), helper=True)
    assert standin.key not in (proj / ".claude" / "settings.local.json").read_text()
    sh.run("orenv helper off")
    assert not (proj / ".claude" / "settings.local.json").exists()
    sh.cd(home.path)
    before = len(standin.requests)
    assert DEFAULT_TEXT not in claude(sh)
    assert_not_reached_with_key(standin, before)
    assert_no_key_in_files(home, standin.key)


PROBE = {"name": "Bash", "input": {
    "command": "env | grep -c '^ANTHROPIC_AUTH_TOKEN='; env | grep -o 'sk-or-v1-[0-9a-f]*'; true",
    "description": "look for the key"}}


@pytest.mark.parametrize(("mode", "scrub"), [("export", True), ("export", False),
                                             ("helper", True)],
                         ids=["export-scrubbed", "export-opted-out", "helper-scrubbed"])
def test_the_agents_bash_tool_does_not_see_the_key(
    mode: str, scrub: bool, loopback_home: Home, standin: StandIn, shell_factory: ShellFactory
) -> None:
    """CLAUDE_CODE_SUBPROCESS_ENV_SCRUB (on by default): what a Bash-tool command prints."""
    home = loopback_home
    orenv(home, "key", "set", "work", input=standin.key)
    proj = home.path / "proj"
    proj.mkdir()
    (proj / ".orenv.toml").write_text(
        f'[openrouter]\nkey = "work"\nbase_url = "{standin.base_url}"\nmode = "{mode}"\n'
        f'[models]\nsonnet = "{MODEL}"\ndefault = "sonnet"\n'
        + ("" if scrub else "[claude]\nscrub_subprocess_env = false\n"))
    orenv(home, "allow", str(proj))
    standin.tool_use = PROBE
    sh = shell(shell_factory, "bash")
    sh.cd(proj)
    assert sh.var("CLAUDE_CODE_SUBPROCESS_ENV_SCRUB") == ("1" if scrub else None)
    if mode == "export":
        assert sh.var("ANTHROPIC_AUTH_TOKEN") == standin.key  # the shell has it
    else:
        assert "wrote apiKeyHelper" in sh.run("orenv helper on")
        written = json.loads((proj / ".claude" / "settings.local.json").read_text())
        assert written["env"]["CLAUDE_CODE_SUBPROCESS_ENV_SCRUB"] == "1"
    out = sh.run(f"{sh.quote(CLAUDE)} -p 'run the probe' --allowedTools Bash </dev/null",
                 timeout=90)
    assert_reached(standin, out, helper=mode == "helper")
    results = standin.tool_results()
    assert len(results) == 1, results
    if scrub:
        assert standin.key not in results[0] and results[0].startswith("0"), results
    else:
        assert standin.key in results[0]  # the control: the probe does read the environment


def test_helper_mode_follows_the_policy(home: Home, standin: StandIn,
                                        project: Callable[[str], Path],
                                        shell_factory: ShellFactory) -> None:
    """Issue 12 item 7: `orenv set` reaches Claude Code in helper mode, and Claude Code
    started in a subdirectory of the git repository gets the key."""
    proj = project("helper")
    (proj / ".git").mkdir()
    sub = proj / "src" / "pkg"
    sub.mkdir(parents=True)
    sh = shell(shell_factory, "bash")
    sh.cd(proj)
    assert "any directory below it in this git repository" in sh.run("orenv helper on")
    newer = "anthropic/claude-opus-4.5"  # in the stand-in's catalogue
    assert "updated" in sh.run(f"orenv set models.sonnet {newer}")
    sh.cd(sub)
    out = claude(sh)
    assert DEFAULT_TEXT in out, out
    last = standin.messages_requests()[-1]
    assert last["body"]["model"] == newer
    assert last["headers"]["authorization"] == f"Bearer {standin.key}"
    assert_no_key_in_files(home, standin.key)
