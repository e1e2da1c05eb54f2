"""The README's plain prompt snippets, taken from README.md and run in real shells.

Sourced twice (as ``source ~/.bashrc`` does when a user reloads it), each
adds the ``[or:PROFILE]`` segment once; it shows the active profile and
nothing outside a project; fish's previous prompt still sees the last
command's ``$status`` and ``$pipestatus``; zsh shows a ``%`` in a profile
literally.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import REPO_ROOT, Home, make_policy, run_orenv
from harness import Shell

KEY = "sk-or-v1-" + "5a5a" * 16
ShellFactory = Callable[..., Shell]


def snippets() -> dict[str, str]:
    """The bash, zsh and fish snippets under "A plain prompt" in README.md."""
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme[readme.index("A plain prompt"):]
    sh_block = re.search(r"```sh\n(.*?)```", section, re.S)
    fish_block = re.search(r"```fish\n(.*?)```", section, re.S)
    assert sh_block and fish_block
    sh = sh_block.group(1)
    bash, zsh = sh[:sh.index("# zsh")], sh[sh.index("# zsh"):]
    assert bash.startswith("# bash")
    return {"bash": bash, "zsh": zsh, "fish": fish_block.group(1)}


@pytest.fixture
def proj(home: Home) -> Path:
    run_orenv(home, "key", "set", "work", input=KEY, check=True)
    return make_policy(home, "proj", '[openrouter]\nkey = "work"\n')


def prompt_text(out: str) -> str:
    """What the prompt drew before the harness's marker: the last line of the output."""
    return out.replace("\r", "").rsplit("\n", 1)[-1]


@pytest.mark.parametrize("kind", ["zsh", "bash", "fish"])
def test_snippet_sourced_twice_adds_the_segment_once(kind: str, proj: Path, home: Home,
                                                     shell_factory: ShellFactory) -> None:
    rc = home.path / f"prompt.{kind}"
    rc.write_text(snippets()[kind])
    sh = shell_factory(kind)
    if kind == "zsh":
        # The harness sets PROMPT in a precmd function, which would hide what the
        # snippet did: keep its marker in a variable the prompt reads instead.
        sh.run("setopt PROMPT_SUBST; _orenv_t_precmd() { (( ++_orenv_t_n )); "
               f"_orenv_t_m=\"<<{sh.token}:$$:${{_orenv_t_n}}>> \"; }}; PROMPT='$_orenv_t_m'")
    if kind == "fish":
        # A prompt that shows the status, as fish's own does.
        sh.run("functions -c fish_prompt _t_marker; function fish_prompt; "
               "printf '[st:%s ps:%s] ' $status \"$pipestatus\"; _t_marker; end")
    sh.run(f"source {sh.quote(rc)}")
    sh.run(f"source {sh.quote(rc)}")
    assert prompt_text(sh.run("true")).count("[or:") == 0  # no project here
    sh.cd(proj)
    shown = prompt_text(sh.run("true"))
    if kind == "fish":
        assert shown == "[or:proj] [st:0 ps:0] ", shown
        assert prompt_text(sh.run("false")) == "[or:proj] [st:1 ps:1] "
        assert prompt_text(sh.run("false | true | false")) == "[or:proj] [st:1 ps:1 0 1] "
    else:
        assert shown == "[or:proj] ", shown
    sh.cd(home.path)
    assert prompt_text(sh.run("true")) == ("[st:0 ps:0] " if kind == "fish" else "")


def test_zsh_shows_a_percent_in_a_profile_literally(home: Home,
                                                    shell_factory: ShellFactory) -> None:
    """orenv's markers never carry %, but a profile set by hand is shown as it is."""
    rc = home.path / "prompt.zsh"
    rc.write_text(snippets()["zsh"])
    sh = shell_factory("zsh", env={"ORENV_PROFILE": "a%Bb%%c$(echo ran)"})
    sh.run("setopt PROMPT_SUBST; _orenv_t_precmd() { (( ++_orenv_t_n )); "
           f"_orenv_t_m=\"<<{sh.token}:$$:${{_orenv_t_n}}>> \"; }}; PROMPT='$_orenv_t_m'")
    sh.run(f"source {sh.quote(rc)}")
    assert prompt_text(sh.run("true")) == "[or:a%Bb%%c$(echo ran)] "
