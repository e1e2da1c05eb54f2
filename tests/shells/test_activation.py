"""Core activation in real interactive zsh, bash and fish under a pty.

Keys go through a real gnome-keyring on a private D-Bus; the hook is
installed exactly as a user would install it.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import Home, make_policy, run_orenv
from harness import Shell

KEY = "sk-or-v1-" + "0123456789abcdef" * 4
KEY2 = "sk-or-v1-" + "fedcba9876543210" * 4
USER_ANTHROPIC = "sk-ant-api03-USERSOWNKEY-do-not-leak-0000"
KINDS = ["zsh", "bash", "fish", "nu"]

POLICY = """\
[openrouter]
key = "work"
[models]
opus = "anthropic/claude-opus-4.5"
sonnet = "anthropic/claude-sonnet-4.5"
default = "sonnet"
[env]
API_TIMEOUT_MS = "600000"
"""

ORENV_SET = {
    "ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY",
    "ANTHROPIC_DEFAULT_OPUS_MODEL", "ANTHROPIC_DEFAULT_SONNET_MODEL", "ANTHROPIC_MODEL",
    "API_TIMEOUT_MS",
}


def orenv(home: Home, *args: str, check: bool = True,
          **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return run_orenv(home, *args, check=check, **kwargs)


def policy(home: Home, rel: str, text: str = POLICY, allow: bool = True) -> Path:
    return make_policy(home, rel, text, allow=allow)


@pytest.fixture
def setup(home: Home) -> Home:
    orenv(home, "key", "set", "work", input=KEY)
    return home


ShellFactory = Callable[..., Shell]


@pytest.mark.parametrize("how", ["eval", "sourced"])
@pytest.mark.parametrize("kind", KINDS)
def test_enter_and_leave_restores_exactly(kind: str, how: str, setup: Home,
                                          shell_factory: ShellFactory) -> None:
    proj = policy(setup, "proj")
    # "sourced": the file `orenv hook --write` made, through install.sh's rc block.
    sh = shell_factory(kind, env={"ANTHROPIC_API_KEY": USER_ANTHROPIC,
                                  "ANTHROPIC_MODEL": "user-model"}, sourced=how == "sourced")
    before = sh.env()
    assert before["ANTHROPIC_API_KEY"] == USER_ANTHROPIC
    out = sh.cd(proj)
    assert "orenv: loaded proj" in out
    inside = sh.env()
    assert inside["ANTHROPIC_AUTH_TOKEN"] == KEY
    assert inside["ANTHROPIC_BASE_URL"] == "https://openrouter.ai/api"
    assert inside["ANTHROPIC_API_KEY"] == ""
    assert inside["ANTHROPIC_DEFAULT_OPUS_MODEL"] == "anthropic/claude-opus-4.5"
    assert inside["ANTHROPIC_MODEL"] == "sonnet"
    assert inside["API_TIMEOUT_MS"] == "600000"
    assert inside["ORENV_ACTIVE"] == str(proj / ".orenv.toml")
    assert inside["ORENV_PROFILE"] == "proj"
    # The user's own key is nowhere in the environment, not even encoded.
    blob = "\n".join(f"{k}={v}" for k, v in inside.items())
    assert USER_ANTHROPIC not in blob
    assert "USERSOWNKEY" not in blob
    # The key appears only in ANTHROPIC_AUTH_TOKEN.
    assert [k for k, v in inside.items() if KEY in v] == ["ANTHROPIC_AUTH_TOKEN"]
    # A subdirectory keeps the policy and prints nothing new.
    (proj / "sub").mkdir()
    assert sh.cd(proj / "sub").strip() == ""
    assert sh.env()["ANTHROPIC_AUTH_TOKEN"] == KEY
    out = sh.cd(setup.path)
    assert "unloaded" in out
    after = sh.env()
    for env in (before, after):
        env.pop("OLDPWD", None)
        env.pop("PWD", None)
    assert after == before


@pytest.mark.parametrize("kind", KINDS)
def test_nested_inherit_and_disabled(kind: str, setup: Home,
                                     shell_factory: ShellFactory) -> None:
    orenv(setup, "key", "set", "other", input=KEY2)
    top = policy(setup, "top")
    child = policy(setup, "top/child", 'inherit = true\n[models]\nopus = "child-opus"\n')
    other = policy(setup, "top/other", '[openrouter]\nkey = "other"\n')
    off = policy(setup, "top/off", "enabled = false\n")
    sh = shell_factory(kind)
    sh.cd(child)
    env = sh.env()
    assert env["ANTHROPIC_DEFAULT_OPUS_MODEL"] == "child-opus"
    assert env["ANTHROPIC_DEFAULT_SONNET_MODEL"] == "anthropic/claude-sonnet-4.5"
    assert env["ANTHROPIC_AUTH_TOKEN"] == KEY
    sh.cd(other)
    env = sh.env()
    assert env["ANTHROPIC_AUTH_TOKEN"] == KEY2
    assert "ANTHROPIC_DEFAULT_OPUS_MODEL" not in env  # not inherited
    sh.cd(off)
    env = sh.env()
    assert not any(k.startswith("ANTHROPIC_") for k in env)
    sh.cd(top)
    assert sh.env()["ANTHROPIC_AUTH_TOKEN"] == KEY


@pytest.mark.parametrize("how", ["eval", "sourced"])
@pytest.mark.parametrize("kind", KINDS)
def test_untrusted_edited_reallowed_denied(kind: str, how: str, setup: Home,
                                           shell_factory: ShellFactory) -> None:
    proj = policy(setup, "proj", allow=False)
    sh = shell_factory(kind, sourced=how == "sourced")
    out = sh.cd(proj)
    assert out.count("not allowed yet") == 1 and "orenv allow" in out
    assert "ANTHROPIC_AUTH_TOKEN" not in sh.env()
    # Once per change: further prompts and cds inside say nothing more.
    (proj / "d").mkdir()
    assert sh.cd(proj / "d").strip() == ""
    assert sh.run("true").strip() == ""
    # Allowing from the shell applies at the next prompt, without a cd.
    out = sh.run("orenv allow")
    assert "sends key:   'work' (from the keyring) to openrouter.ai" in out
    assert sh.env()["ANTHROPIC_AUTH_TOKEN"] == KEY
    # An edit by someone else blocks at the next prompt, without a cd.
    time.sleep(0.01)
    with open(proj / ".orenv.toml", "a") as fh:
        fh.write("# edited\n")
    out = sh.run("true")
    assert "changed since it was allowed" in out
    env = sh.env()
    assert "ANTHROPIC_AUTH_TOKEN" not in env and env["ORENV_STATE"] == "blocked"
    sh.run("orenv allow")
    assert sh.env()["ANTHROPIC_AUTH_TOKEN"] == KEY
    out = sh.run("orenv deny")
    assert "denied" in out
    assert "ANTHROPIC_AUTH_TOKEN" not in sh.env()


@pytest.mark.parametrize("kind", KINDS)
def test_missing_key_and_broken_toml(kind: str, setup: Home,
                                     shell_factory: ShellFactory) -> None:
    nokey = policy(setup, "nokey", '[openrouter]\nkey = "absent"\n')
    broken = policy(setup, "broken", allow=False)
    (broken / ".orenv.toml").write_text('[openrouter]\nkey = "work"\nmode = export\n')
    sh = shell_factory(kind)
    out = sh.cd(nokey)
    assert "key 'absent' is not in the keyring (stored keys: work)" in out
    assert "orenv key set absent" in out
    assert len(out.strip().splitlines()) == 1
    # A typo gets the nearest stored name, not a fix that stores a second key.
    typo = policy(setup, "typo", '[openrouter]\nkey = "wrok"\n')
    out = sh.cd(typo)
    assert ("key 'wrok' is not in the keyring (did you mean 'work'?): fix the name, or store "
            "a key under it with `orenv key set wrok`") in out
    assert len(out.strip().splitlines()) == 1
    assert not any(k.startswith("ANTHROPIC_") for k in sh.env())
    out = sh.cd(broken)
    assert f"{broken / '.orenv.toml'}:3: invalid TOML" in out
    assert "Traceback" not in out
    assert not any(k.startswith("ANTHROPIC_") for k in sh.env())
    assert sh.run("echo still-alive").strip() == "still-alive"


@pytest.mark.parametrize("kind", KINDS)
def test_locked_keyring(kind: str, private_keyring, home: Home,  # type: ignore[no-untyped-def]
                        shell_factory: ShellFactory) -> None:
    env = {**home.env, **private_keyring.env}
    home.env.update(private_keyring.env)
    orenv(home, "key", "set", "work", input=KEY)
    proj = policy(home, "proj")
    private_keyring.lock()
    sh = shell_factory(kind, env=env)
    start = time.monotonic()
    out = sh.cd(proj)
    assert time.monotonic() - start < 3
    assert "locked" in out and "Traceback" not in out
    assert not any(k.startswith("ANTHROPIC_") for k in sh.env())


@pytest.mark.parametrize("kind", KINDS)
def test_hostile_values_reach_shell_literally(kind: str, setup: Home,
                                              shell_factory: ShellFactory) -> None:
    hostile = "a'b\"c $(touch PWNED) `touch PWNED2`; \\ ü ✓ $HOME"
    toml_value = hostile.replace("\\", "\\\\").replace('"', '\\"')
    proj = policy(setup, "proj", f'[openrouter]\nkey = "work"\n[models]\nopus = "{toml_value}"\n'
                  f'[env]\nWEIRD = "line1\\nline2"\nSPACES = "  x  "\n')
    sh = shell_factory(kind)
    sh.cd(proj)
    env = sh.env()
    assert env["ANTHROPIC_DEFAULT_OPUS_MODEL"] == hostile
    assert env["WEIRD"] == "line1\nline2"
    assert env["SPACES"] == "  x  "
    assert not (proj / "PWNED").exists() and not (proj / "PWNED2").exists()


@pytest.mark.parametrize("kind", KINDS)
def test_dangerous_env_name_rejected(kind: str, setup: Home,
                                     shell_factory: ShellFactory) -> None:
    proj = policy(setup, "proj", allow=False)
    (proj / ".orenv.toml").write_text('[openrouter]\nkey = "work"\n[env]\nLD_PRELOAD = "x"\n')
    orenv(setup, "allow", str(proj), check=False)
    sh = shell_factory(kind)
    out = sh.cd(proj)
    assert "env.LD_PRELOAD" in out and ":4:" in out
    env = sh.env()
    assert "LD_PRELOAD" not in env and "ANTHROPIC_AUTH_TOKEN" not in env


@pytest.mark.parametrize("how", ["eval", "sourced"])
@pytest.mark.parametrize("kind", KINDS)
def test_cd_and_command_sees_new_env(kind: str, how: str, setup: Home,
                                     shell_factory: ShellFactory) -> None:
    proj = policy(setup, "proj")
    sh = shell_factory(kind, sourced=how == "sourced")
    if kind == "nu":
        # nu runs hooks only between command lines (README: not covered):
        # `cd dir; cmd` has the old environment, the next line the new one.
        out = sh.run(f"cd {sh.quote(proj)}; ^printenv ANTHROPIC_MODEL")
        assert "sonnet" not in out
        assert sh.run("^printenv ANTHROPIC_MODEL").strip().splitlines()[-1] == "sonnet"
        return
    joiner = "; and" if kind == "fish" else " &&"
    out = sh.run(f"cd {sh.quote(proj)}{joiner} printenv ANTHROPIC_MODEL")
    assert out.strip().splitlines()[-1] == "sonnet"


@pytest.mark.parametrize("kind", KINDS)
def test_coexists_with_set_u_and_other_hooks(kind: str, setup: Home,
                                             shell_factory: ShellFactory) -> None:
    proj = policy(setup, "proj")
    before = {
        "zsh": "setopt nounset\nother_hook() { OTHER_RAN=1 }\ntypeset -ga precmd_functions\n"
               "precmd_functions+=(other_hook)",
        "bash": "set -u\nPROMPT_COMMAND='OTHER_RAN=1'",
        "fish": "function other_hook --on-event fish_prompt\n set -g OTHER_RAN 1\nend",
        "nu": "$env.config.hooks.pre_prompt = ($env.config.hooks.pre_prompt"
              " | append {|| $env.OTHER_RAN = '1' })",
    }[kind]
    sh = shell_factory(kind, rc_before=before)
    assert "unbound" not in sh.startup_output and "parameter not set" not in sh.startup_output
    out = sh.cd(proj)
    assert "unbound" not in out and "parameter not set" not in out
    assert sh.env()["ANTHROPIC_AUTH_TOKEN"] == KEY
    echo = "print $env.OTHER_RAN" if kind == "nu" else "echo $OTHER_RAN"
    assert sh.run(echo).strip() == "1"
    out = sh.cd(setup.path)
    assert "unbound" not in out and "parameter not set" not in out
    assert "ANTHROPIC_AUTH_TOKEN" not in sh.env()


@pytest.mark.parametrize("kind", KINDS)
def test_key_rotation_applies_at_next_prompt(kind: str, setup: Home,
                                             shell_factory: ShellFactory) -> None:
    proj = policy(setup, "proj")
    sh = shell_factory(kind, cwd=proj)
    assert sh.env()["ANTHROPIC_AUTH_TOKEN"] == KEY
    orenv(setup, "key", "set", "--force", "work", input=KEY2)
    sh.run("true")
    assert sh.env()["ANTHROPIC_AUTH_TOKEN"] == KEY2


@pytest.mark.parametrize("kind", KINDS)
def test_nested_shell_leaves_cleanly(kind: str, setup: Home,
                                     shell_factory: ShellFactory) -> None:
    proj = policy(setup, "proj")
    sh = shell_factory(kind, cwd=proj, env={"ANTHROPIC_API_KEY": USER_ANTHROPIC})
    assert sh.env()["ANTHROPIC_AUTH_TOKEN"] == KEY
    # A child interactive shell of the same kind, with the same rc.
    rc = {"zsh": f"ZDOTDIR={sh.quote(sh.rc_file.parent)} zsh -i",
          "bash": f"bash --noprofile --rcfile {sh.quote(sh.rc_file)} -i",
          "fish": f"fish --no-config -C {sh.quote('source ' + str(sh.rc_file))}",
          "nu": sh.nested_line()}[kind]
    sh.run(rc, timeout=15)
    assert sh.env()["ANTHROPIC_AUTH_TOKEN"] == KEY
    sh.cd(setup.path)
    env = sh.env()
    markers = ("ORENV_ACTIVE", "ORENV_PROFILE", "ORENV_STATE", "ORENV_MODE", "ORENV_VARS")
    assert not any(k.startswith("ANTHROPIC_") or k in markers for k in env), env
    sh.run("exit")
    # Back in the parent: still inside the project, with the user's value saved.
    sh.cd(setup.path)
    assert sh.env()["ANTHROPIC_API_KEY"] == USER_ANTHROPIC


@pytest.mark.parametrize("kind", KINDS)
def test_no_secret_on_disk(kind: str, setup: Home, shell_factory: ShellFactory) -> None:
    proj = policy(setup, "proj")
    sh = shell_factory(kind, env={"ANTHROPIC_API_KEY": USER_ANTHROPIC})
    sh.cd(proj)
    sh.run("orenv status")
    sh.run("orenv key list")
    sh.cd(setup.path)
    needles = [KEY.encode(), KEY[9:].encode(), USER_ANTHROPIC.encode()]
    roots = [setup.path, Path(setup.env["XDG_RUNTIME_DIR"]), sh.dir]
    for root in roots:
        for dirpath, _, files in os.walk(root):
            for name in files:
                p = Path(dirpath) / name
                if p.is_symlink() or not p.is_file():
                    continue
                data = p.read_bytes()
                for needle in needles:
                    assert needle not in data, f"secret found in {p}"


@pytest.mark.parametrize("kind", ["zsh", "bash"])
def test_users_int_trap_survives(kind: str, setup: Home, shell_factory: ShellFactory) -> None:
    proj = policy(setup, "proj")
    sh = shell_factory(kind, rc_before="trap 'echo user-trap' INT")
    sh.cd(proj)
    sh.cd(setup.path)
    assert "user-trap" in sh.run("trap")
