"""The prompt segment: $ORENV_PROFILE (no fork) and `orenv prompt`, in real shells.

The snippets checked here are the ones documented in docs/budgets.md ("Prompt").
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Home, ok
from harness import KINDS, Shell
from test_provision import SLOW_KEYRING_OK, run

KEY = "sk-or-v1-" + "9" * 64
# A profile name reaches prompts literally (once allowed; a blocked policy only
# ever shows its directory name, so a cloned repo cannot write into prompts).
HOSTILE = "x%F{red}$(echo pwned)`id`\\u;'\""
HOSTILE_TOML = "'''" + HOSTILE + "'''"
# What reaches ORENV_PROFILE: prompt_subst code ($, `) and prompt escapes (%, \) never do.
SHOWN = "x_F{red}_(echo pwned)_id__u;'\""

# The documented plain-prompt snippets, reduced to their segment expression.
SEGMENT = {
    "bash": "printf '%s|\\n' \"${ORENV_PROFILE:+[or:$ORENV_PROFILE] }\"",
    "zsh": "setopt PROMPT_SUBST; print -rP -- '${ORENV_PROFILE:+[or:${ORENV_PROFILE//\\%/%%}] }|'",
    "fish": "if set -q ORENV_PROFILE; printf '[or:%s] ' $ORENV_PROFILE; end; printf '|\\n'",
}


def projects(home: Home, tmp_path: Path, key: str) -> dict[str, Path]:
    dirs = {}
    for name, text in {
        "active": f'name = "client-a"\n[openrouter]\nkey = "{key}"\n',
        "blocked": f'name = "cloned"\n[openrouter]\nkey = "{key}"\n',
        "broken": '[openrouter]\nkey = "x"\nmode = "yolo"\n',
        "hostile": f'name = {HOSTILE_TOML}\n[openrouter]\nkey = "{key}"\n',
    }.items():
        d = tmp_path / name
        d.mkdir()
        (d / ".orenv.toml").write_text(text)
        dirs[name] = d
    ok(run(home, "allow", cwd=dirs["active"]))
    # `allow` refuses a broken file, so trust it as an earlier, valid version...
    (dirs["broken"] / ".orenv.toml").write_text(f'[openrouter]\nkey = "{key}"\n')
    ok(run(home, "allow", cwd=dirs["broken"]))
    # ...then break it: edited (untrusted) and invalid.
    (dirs["broken"] / ".orenv.toml").write_text('[openrouter]\nkey = "x"\nmode = "yolo"\n')
    return dirs


@pytest.mark.parametrize("kind", KINDS)
def test_profile_segment_active_blocked_error(
    kind: str, home: Home, shell_factory: Callable[..., Shell], tmp_path: Path
) -> None:
    key = f"prompt-{kind}"
    ok(run(home, "key", "set", key, input=KEY + "\n"))
    dirs = projects(home, tmp_path, key)
    sh = shell_factory(kind, env=SLOW_KEYRING_OK)
    assert sh.run(SEGMENT[kind]) == "|\n"
    assert sh.run("orenv prompt") == ""

    sh.cd(dirs["active"])
    assert sh.var("ORENV_PROFILE") == "client-a"
    assert sh.run(SEGMENT[kind]) == "[or:client-a] |\n"
    assert sh.run("orenv prompt --format 'or:{profile} '") == "or:client-a \n"

    out = sh.cd(dirs["blocked"])
    assert "orenv allow" in out  # the one-line notice, once
    env = sh.env()
    assert env["ORENV_PROFILE"] == "blocked (blocked)" and env["ORENV_STATE"] == "blocked"
    assert "ANTHROPIC_AUTH_TOKEN" not in env and "ANTHROPIC_BASE_URL" not in env
    assert sh.run(SEGMENT[kind]) == "[or:blocked (blocked)] |\n"
    assert sh.run("orenv prompt") == "blocked (blocked)\n"

    sh.cd(dirs["broken"])
    env = sh.env()
    assert env["ORENV_PROFILE"] == "broken (error)" and env["ORENV_STATE"] == "error"
    assert "ANTHROPIC_AUTH_TOKEN" not in env

    sh.cd(dirs["hostile"])
    assert sh.var("ORENV_PROFILE") == "hostile (blocked)"
    sh.run("orenv allow >/dev/null")
    sh.run("true")
    assert sh.var("ORENV_PROFILE") == SHOWN
    assert sh.run(SEGMENT[kind]) == f"[or:{SHOWN}] |\n"

    # Allowing it turns the segment active at the next prompt, without a cd.
    sh.run(f"cd {sh.quote(dirs['blocked'])}")
    sh.run("orenv allow >/dev/null")
    sh.run("true")
    assert sh.var("ORENV_PROFILE") == "cloned"

    sh.cd(tmp_path)
    env = sh.env()
    assert "ORENV_PROFILE" not in env and "ORENV_STATE" not in env
    assert sh.run(SEGMENT[kind]) == "|\n"
