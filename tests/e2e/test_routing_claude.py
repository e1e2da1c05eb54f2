"""End to end: [routing]/[attribution] and a provisioned key with the real Claude Code CLI.

An activated zsh runs `claude -p hi` against the loopback stand-in. The test
checks at the stand-in that the request body carries the provider preferences
(merged into the user's own CLAUDE_CODE_EXTRA_BODY) and that the attribution
headers arrive next to the user's own ANTHROPIC_CUSTOM_HEADERS; after `cd` out
the user's values are back exactly. A missing Claude Code CLI fails (run
`make deps`); it is never run with a key the stand-in rejects (it would retry
401s for minutes).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Home
from harness import Shell
from standin import DEFAULT_TEXT, StandIn

from .conftest import CLAUDE, MODEL, orenv

ShellFactory = Callable[..., Shell]

USER_BODY = {"orenv_e2e": {"from": "user", "n": 1}, "provider": {"sort": "price"}}
USER_HEADERS = "X-Team: blue"


@pytest.fixture
def setup(loopback_home: Home) -> Home:
    return loopback_home


def zsh(shell_factory: ShellFactory, rc_before: str = "") -> Shell:
    # Claude Code's own state goes to the test's temporary HOME; no telemetry or updates.
    return shell_factory("zsh", env={"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"},
                         rc_before=rc_before)


def claude(sh: Shell, token: str, base_url: str) -> str:
    # Never start Claude Code unless the shell holds the stand-in's valid key.
    env = sh.env()
    assert env.get("ANTHROPIC_AUTH_TOKEN") == token
    assert env.get("ANTHROPIC_BASE_URL") == base_url
    return sh.run(f"{sh.quote(CLAUDE)} -p hi </dev/null", timeout=120)


def sq(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def scan_for(value: str, *roots: Path) -> list[Path]:
    hits = []
    for root in roots:
        for dirpath, _dirs, files in os.walk(root):
            for f in files:
                p = Path(dirpath, f)
                if p.is_symlink() or not p.is_file() or p.stat().st_size > 20_000_000:
                    continue
                if value.encode() in p.read_bytes():
                    hits.append(p)
    return hits


def test_claude_sends_routing_and_attribution_merged_with_users_own(
    setup: Home, standin: StandIn, shell_factory: ShellFactory
) -> None:
    home = setup
    orenv(home, "key", "set", "route", input=standin.key + "\n")
    proj = home.path / "client-a"
    proj.mkdir()
    (proj / ".orenv.toml").write_text(f"""name = "client-a"
[openrouter]
key = "route"
base_url = "{standin.base_url}"
[models]
sonnet = "{MODEL}"
default = "sonnet"
[routing]
order = ["anthropic", "google-vertex"]
allow_fallbacks = false
data_collection = "deny"
zdr = true
max_price = {{ prompt = 5, completion = 25 }}
[attribution]
referer = "https://example.com/client-a"
title = "client-a"
""")
    orenv(home, "allow", str(proj))
    user_body = json.dumps(USER_BODY)
    sh = zsh(shell_factory, "\n".join([
        f"export CLAUDE_CODE_EXTRA_BODY={sq(user_body)}",
        f"export ANTHROPIC_CUSTOM_HEADERS={sq(USER_HEADERS)}",
    ]))
    outside = sh.env()
    sh.cd(proj)
    out = claude(sh, standin.key, standin.base_url)
    assert DEFAULT_TEXT in out, out

    reqs = standin.messages_requests()
    assert reqs, "Claude Code did not reach the stand-in"
    for req in reqs:  # every /messages request, not just the last one
        body, headers = req["body"], req["headers"]
        assert req["path"].startswith("/api/v1/messages")
        assert headers["authorization"] == f"Bearer {standin.key}"
        assert "x-api-key" not in headers
        assert body["provider"] == {
            "sort": "price",  # the user's own preference survives the merge
            "order": ["anthropic", "google-vertex"], "allow_fallbacks": False,
            "data_collection": "deny", "zdr": True,
            "max_price": {"prompt": "5", "completion": "25"},  # strings, as the spec types them
        }
        assert body["orenv_e2e"] == {"from": "user", "n": 1}
        assert headers["http-referer"] == "https://example.com/client-a"
        assert headers["x-openrouter-title"] == "client-a"
        assert headers["x-team"] == "blue"
    assert reqs[-1]["body"]["model"] == MODEL

    sh.cd(home.path)
    after = sh.env()
    assert after["CLAUDE_CODE_EXTRA_BODY"] == user_body
    assert after["ANTHROPIC_CUSTOM_HEADERS"] == USER_HEADERS
    for name in ("ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL", "ORENV_PROFILE"):
        assert name not in after
    moving = ("_", "PWD", "OLDPWD")
    assert {k: v for k, v in after.items() if k not in moving} == {
        k: v for k, v in outside.items() if k not in moving}


def test_provisioned_project_key_with_claude_usage_and_budget_warning(
    setup: Home, standin: StandIn, shell_factory: ShellFactory
) -> None:
    home = setup
    orenv(home, "key", "set", "--management", "mgmt", input=standin.management_key + "\n")
    proj = home.path / "client-b"
    proj.mkdir()
    before = set(standin.keys)
    captured = []
    proc = orenv(home, "init", "--provision", "--limit", "5", "--reset", "monthly",
                 "--base-url", standin.base_url, cwd=proj)
    captured += [proc.stdout, proc.stderr]
    (new,) = set(standin.keys) - before
    for line in ("set", "models.default", "sonnet"), ("set", "budget.warn_below_usd", "5"):
        captured.append(orenv(home, *line, cwd=proj).stdout)

    sh = zsh(shell_factory)
    sh.cd(proj)
    assert sh.var("ORENV_PROFILE") == "client-b"
    out = claude(sh, new, standin.base_url)
    assert DEFAULT_TEXT in out
    captured.append(out)
    reqs = standin.messages_requests()
    assert reqs and all(r["headers"]["authorization"] == f"Bearer {new}" for r in reqs)
    assert standin.keys[new]["usage"] > 0

    # This project's spend, from its own key; then status from the cache, with the warning.
    usage = json.loads(sh.run("orenv usage --json"))
    assert usage["usage_monthly"] == pytest.approx(standin.keys[new]["usage"])
    assert usage["limit"] == 5.0 and usage["remaining"] < 5.0
    assert "below [budget] warn_below_usd" in usage["warning"]
    n = len(standin.requests)
    status = sh.run("orenv status")
    captured.append(status)
    assert "budget:    $4.99" in status and "warning:   remaining budget" in status
    assert len(standin.requests) == n  # status never goes online
    captured += [t for _line, t in sh.transcript]
    # The provisioned key was never printed nor written outside the keyring.
    for text in captured:
        assert new not in text
    xdg = [Path(home.env[v]) for v in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME",
                                       "XDG_CACHE_HOME", "XDG_RUNTIME_DIR")]
    assert scan_for(new, home.path, proj, *xdg) == []
    sh.cd(home.path)
    assert "ANTHROPIC_AUTH_TOKEN" not in sh.env()
