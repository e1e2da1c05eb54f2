"""The line a shell prints when a policy loads says how Claude Code gets the key.

In exec mode the key is not in the shell: the line names `orenv exec -- claude`.
In helper mode Claude Code gets it only where `orenv helper on` wrote its
settings: the line says so, with the directory. Asserted as the user sees
them, in real zsh, bash and fish; so is what `orenv helper on` and `off` print
in a git repository (the exclude line that keeps the file out of git status).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

import pytest
from conftest import Home, make_policy, run_orenv
from harness import Shell

KEY = "sk-or-v1-" + "7c7c" * 16
KINDS = ["zsh", "bash", "fish"]
ShellFactory = Callable[..., Shell]


def mode(name: str) -> str:
    return f'[openrouter]\nkey = "work"\nmode = "{name}"\n'


@pytest.fixture
def keyed(home: Home) -> Home:
    run_orenv(home, "key", "set", "work", input=KEY, check=True)
    return home


def said(out: str) -> list[str]:
    return [ln for ln in out.replace("\r", "").splitlines() if ln.startswith("orenv:")]


@pytest.mark.parametrize("kind", KINDS)
def test_load_lines_say_how_claude_gets_the_key(kind: str, keyed: Home,
                                                shell_factory: ShellFactory) -> None:
    home = keyed
    ex = make_policy(home, "ex", mode("exec"))
    hp = make_policy(home, "hp", mode("helper"))
    sh = shell_factory(kind)
    assert said(sh.cd(ex)) == ["orenv: loaded ex (exec mode -> openrouter.ai; start Claude "
                               "Code with `orenv exec -- claude`)"]
    assert said(sh.cd(hp)) == [f"orenv: loaded hp (helper mode -> openrouter.ai; works from "
                               f"the project root only: start Claude Code in {hp}, after "
                               "`orenv helper on` there)"]
    ex_out = make_policy(home, "plain", '[openrouter]\nkey = "work"\n')
    assert said(sh.cd(ex_out)) == ["orenv: loaded plain (key work -> openrouter.ai)"]


@pytest.mark.parametrize("kind", KINDS)
def test_helper_on_off_in_a_git_repository(kind: str, keyed: Home,
                                           shell_factory: ShellFactory) -> None:
    home = keyed
    hp = make_policy(home, "hp", mode("helper"))
    subprocess.run(["git", "init", "-q", str(hp)], check=True, timeout=30)
    exclude = hp / ".git" / "info" / "exclude"
    before = exclude.read_bytes()
    sh = shell_factory(kind, cwd=hp)
    out = sh.run("orenv helper on").replace("\r", "")
    settings = hp / ".claude" / "settings.local.json"
    # How many env entries depends on the machine (the scrub switch needs bubblewrap).
    n = len(json.loads(settings.read_text())["env"])
    assert out.splitlines() == [
        f"wrote apiKeyHelper and {n} env entries to {settings} (no key: Claude Code asks "
        "`orenv token` for it)",
        f"added .claude/settings.local.json to {exclude}, so `git status` does not show it",
        f"note: Claude Code started in {hp} or any directory below it in this git repository "
        "uses it",
    ], out
    status = sh.run("git status --porcelain --untracked-files=all").replace("\r", "")
    assert ".claude" not in status and ".orenv.toml" in status
    out = sh.run("orenv helper off").replace("\r", "")
    assert out.splitlines() == [
        f"removed {settings} (orenv had created it)",
        f"removed .claude/settings.local.json from {exclude} (orenv had added it)",
    ], out
    assert exclude.read_bytes() == before
