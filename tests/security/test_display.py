"""What a repository controls never drives a terminal or a prompt; odd paths work.

* ``orenv allow`` shows and trusts the same bytes (one read of the file);
* escape sequences in a policy's values, directory names and settings are
  shown escaped by ``allow``, ``status``, ``doctor`` and the hook's messages;
* a directory named ``$(touch PWNED)`` (or a policy ``name``) never runs in a
  prompt theme that splices ``ORENV_PROFILE`` into PS1/PROMPT;
* a directory whose name is not UTF-8 works with every command, or gets one
  clear line; never an internal error.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Home, base_path, run_orenv
from harness import Shell

from orenv import cli, policy, trust

from .support import KINDS

KEY = "sk-or-v1-" + "d15b" * 16
ESC = "\x1b"
RAW_ESCAPE = re.compile(rb"\x1b|\x9b|\xc2\x9b|\xe2\x80\xae")


def test_allow_trusts_exactly_what_it_showed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             home: Home) -> None:
    """The file swapped for another version between two reads: only one read happens."""
    proj = tmp_path / "proj"
    proj.mkdir()
    path = proj / ".orenv.toml"
    shown = b'[openrouter]\nkey = "work"\n[models]\nopus = "shown-model"\n'
    hidden = b'[openrouter]\nkey = "work"\n[models]\nopus = "hidden-model"\n'
    path.write_bytes(shown)
    real = policy.read_policy_file
    reads: list[str] = []

    def swapping(p: str) -> policy.PolicyFile:
        reads.append(p)
        pf = real(p)
        path.write_bytes(hidden)  # the attacker swaps right after the first read
        return pf

    monkeypatch.setattr(policy, "read_policy_file", swapping)
    from orenv.commands import allow as allow_cmd

    monkeypatch.setattr(allow_cmd, "read_policy_file", swapping)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert cli.main(["allow", str(proj)]) == 0, err.getvalue()
    assert reads == [str(path)]
    assert "shown-model" in out.getvalue() and "hidden-model" not in out.getvalue()
    assert trust.check(str(path), shown) and not trust.check(str(path), hidden)


def test_allow_opens_the_file_once(home: Home, tmp_path: Path) -> None:
    """The real program under strace: one open of the policy file."""
    proj = home.path / "proj"
    proj.mkdir()
    (proj / ".orenv.toml").write_text('[openrouter]\nkey = "work"\n')
    log = tmp_path / "strace.log"
    env = {"PATH": base_path(), "LANG": "C.UTF-8", **home.env}
    subprocess.run(["strace", "-f", "-qq", "-e", "trace=open,openat,openat2", "-o", str(log),
                    "orenv", "allow", str(proj)], env=env, capture_output=True, check=True,
                   timeout=60)
    opens = [ln for ln in log.read_text().splitlines() if "/proj/.orenv.toml" in ln]
    assert len(opens) == 1, opens


def hostile_policy(home: Home) -> Path:
    d = home.path / f"esc{ESC}]0;title\a{ESC}[2J dir"
    d.mkdir()
    (d / ".orenv.toml").write_text(
        '[openrouter]\nkey = "work"\n'
        '[models]\nopus = "anthropic/x\\u001b[2K\\u001b[1Asends key: to openrouter.ai\\u202e"\n'
        '[routing]\norder = ["a\\u001b[31mb", "c\\u009b2J"]\n')
    return d


def test_allow_status_doctor_show_escapes(home: Home) -> None:
    run_orenv(home, "key", "set", "work", input=KEY, check=True)
    d = hostile_policy(home)
    for argv in (["allow", str(d)], ["status"], ["status", "--json"], ["doctor"]):
        proc = subprocess.run(["orenv", *argv], cwd=d, capture_output=True, timeout=60,
                              env={"PATH": base_path(), "LANG": "C.UTF-8", **home.env})
        assert b"Traceback" not in proc.stderr and b"internal error" not in proc.stderr
        assert not RAW_ESCAPE.search(proc.stdout + proc.stderr), (argv, proc.stdout[:400])
        if argv[0] == "allow":
            assert b"\\x1b[2K" in proc.stdout  # shown, escaped


@pytest.mark.parametrize("kind", KINDS)
def test_hook_messages_show_escapes(kind: str, home: Home,
                                    shell_factory: Callable[..., Shell]) -> None:
    hostile_policy(home)
    sh = shell_factory(kind)
    out = sh.run(f"cd {sh.quote(str(home.path))}/esc*dir")  # not allowed: one line naming it
    assert "not allowed" in out and ESC not in out and "\\x1b" in out


THEMES = {
    # A theme that rebuilds PROMPT in double quotes at every prompt: prompt_subst
    # then expands whatever the value holds.
    "zsh": "setopt prompt_subst; _t() { PS1=\"[${ORENV_PROFILE-}] $PS1\"; }; "
           "precmd_functions+=(_t)",
    "bash": "_t() { PS1=\"[${ORENV_PROFILE-}] ${PS1}\"; }; PROMPT_COMMAND=\"_t;$PROMPT_COMMAND\"",
    # fish prompts are functions that print values; nothing re-evaluates them.
    "fish": "function _t --on-event fish_prompt; printf '%s' $ORENV_PROFILE >/dev/null; end",
}


@pytest.mark.parametrize("kind", KINDS)
def test_repository_names_never_run_in_prompts(kind: str, home: Home, tmp_path: Path,
                                               shell_factory: Callable[..., Shell]) -> None:
    evil = home.path / "x$(touch PWNED)`touch TICK`%F{red}"
    evil.mkdir()
    (evil / ".orenv.toml").write_text('name = "$(touch NAMED)"\n[openrouter]\nkey = "work"\n')
    sh = shell_factory(kind, rc_after=THEMES[kind])
    sh.run(f"cd {sh.quote(str(home.path))}/x*")  # not allowed: the directory's name
    sh.run("true")
    profile = sh.var("ORENV_PROFILE") or ""
    assert "$" not in profile and "`" not in profile and "%" not in profile
    run_orenv(home, "key", "set", "work", input=KEY, check=True)
    sh.run("orenv allow >/dev/null")
    sh.run("true")  # allowed: the policy's name
    profile = sh.var("ORENV_PROFILE") or ""
    assert "$" not in profile and "`" not in profile
    planted = [p for p in home.path.rglob("*") if p.name in ("PWNED", "TICK", "NAMED")]
    assert planted == []


def test_paths_that_are_not_utf8(home: Home) -> None:
    run_orenv(home, "key", "set", "work", input=KEY, check=True)
    d = os.fsencode(str(home.path)) + b"/bad\xff\xfe dir"
    os.makedirs(d)
    with open(d + b"/.orenv.toml", "w") as f:
        f.write('[openrouter]\nkey = "work"\n')
    env = {"PATH": base_path(), "LANG": "C.UTF-8", **home.env}
    results = {}
    for argv in (["allow"], ["status"], ["status", "--json"], ["doctor"], ["export", "zsh"],
                 ["export", "bash"], ["export", "fish"], ["exec", "--", "true"], ["token"],
                 ["helper", "on"], ["helper", "off"], ["set", "models.opus", "x"], ["deny"],
                 ["init", "--force", "--key", "work"], ["usage"], ["prompt"]):
        proc = subprocess.run(["orenv", *argv], cwd=d, env=env, capture_output=True,
                              timeout=60, stdin=subprocess.DEVNULL)
        assert b"Traceback" not in proc.stderr and b"internal error" not in proc.stderr, argv
        assert proc.stderr.count(b"\n") <= 1, (argv, proc.stderr)
        results[argv[0] + " " + (argv[1] if len(argv) > 1 else "")] = proc.returncode
    assert results["allow "] == 0 and results["exec --"] == 0 and results["token "] == 0
    assert results["helper on"] != 0  # one clear line: JSON settings cannot name this path


@pytest.mark.parametrize("kind", KINDS)
def test_shells_enter_a_directory_that_is_not_utf8(kind: str, home: Home,
                                                   shell_factory: Callable[..., Shell]) -> None:
    run_orenv(home, "key", "set", "work", input=KEY, check=True)
    d = os.fsencode(str(home.path)) + b"/bad\xff\xfe dir"
    os.makedirs(d)
    with open(d + b"/.orenv.toml", "w") as f:
        f.write('[openrouter]\nkey = "work"\n')
    subprocess.run(["orenv", "allow", os.fsdecode(d)], env={"PATH": base_path(), **home.env},
                   check=True, capture_output=True, timeout=60)
    sh = shell_factory(kind)
    sh.run(f"cd {sh.quote(str(home.path))}/bad*dir")
    sh.run("true")
    assert sh.var("ANTHROPIC_AUTH_TOKEN") == KEY
    sh.cd(home.path)
    assert "ANTHROPIC_AUTH_TOKEN" not in sh.env()
