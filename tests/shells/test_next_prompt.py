"""Always right at the next prompt, whatever the path and whatever changed.

Real zsh, bash and fish, with the daemon on and off:

* directories named with a newline, a tab, a leading dash, bytes that are
  not UTF-8, backslashes: enter applies, leave unloads, nothing hangs;
* one project however it is reached (bash's leading ``//``, a symlinked
  directory): allowed once;
* any change that alters the answer is seen at the next prompt, without a
  cd: a re-pointed ``.orenv.toml`` link, an older file moved over it, a
  nearer policy created inside an active project (also when this shell's
  first cd started the daemon), ``~/.config/orenv`` deleted and made again.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Home, make_policy, run_orenv, write_config
from harness import Shell

KINDS = ["zsh", "bash", "fish"]
DAEMON = ["on", "off"]
KEY = "sk-or-v1-" + "a11f" * 16
KEY2 = "sk-or-v1-" + "b22e" * 16
ShellFactory = Callable[..., Shell]


def text(mark: str, key: str = "work") -> str:
    return f'[openrouter]\nkey = "{key}"\n[env]\nMARK = "{mark}"\n'


@pytest.fixture
def keys(home: Home) -> Home:
    run_orenv(home, "key", "set", "work", input=KEY, check=True)
    run_orenv(home, "key", "set", "other", input=KEY2, check=True)
    return home


def shell(factory: ShellFactory, kind: str, daemon: str) -> Shell:
    return factory(kind, env={"ORENV_NO_DAEMON": "1"} if daemon == "off" else {})


def old(path: Path, seconds: float = 3600) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t), follow_symlinks=False)


NAMES = {
    "newline": b"new\nline",
    "trailing-newline": b"ends\n",
    "tab": b"a\tb",
    "leading-dash": b"-rf",
    "not-utf8": b"bad\xff\xfe",
    "backslash": b"back\\slash\\",
    "glob-and-quotes": b"*?[x]'\"$(x)`x`",
}


@pytest.mark.parametrize("name", sorted(NAMES))
@pytest.mark.parametrize("kind", KINDS)
def test_every_path_a_filesystem_allows(kind: str, name: str, keys: Home,
                                        shell_factory: ShellFactory) -> None:
    home = keys
    d = os.fsencode(str(home.path)) + b"/" + NAMES[name]
    os.makedirs(d + b"/deeper")
    with open(d + b"/.orenv.toml", "w") as f:
        f.write(text(name))
    run_orenv(home, "allow", os.fsdecode(d), check=True)
    sh = shell_factory(kind)
    # Reach it with a variable the shell sets from bytes, so nothing is typed raw.
    octal = "".join(f"\\{b:03o}" for b in d + b"/deeper")
    if kind == "fish":
        sh.run(f"set -l t (printf '{octal}' | string collect -N); cd $t")
    else:
        sh.run(f"t=$(printf '{octal}x'); cd \"${{t%x}}\"")
    sh.run("true")
    env = sh.env(timeout=10)
    assert env.get("MARK") == name and env.get("ANTHROPIC_AUTH_TOKEN") == KEY
    sh.cd(home.path)
    assert "MARK" not in sh.env()


@pytest.mark.parametrize("kind", KINDS)
def test_one_project_however_it_is_reached(kind: str, keys: Home,
                                           shell_factory: ShellFactory) -> None:
    """Trust is for the real directory: `//path` and a symlinked directory are the same."""
    home = keys
    proj = make_policy(home, "proj", text("proj"))
    link = home.path / "link-to-proj"
    link.symlink_to(proj)
    sh = shell_factory(kind)
    for way in (f"/{proj}", str(link), f"{link}/", str(proj)):
        out = sh.run(f"cd {sh.quote(way)}")
        assert "not allowed" not in out, (way, out)
        assert sh.var("MARK") == "proj", way
        sh.cd(home.path)


@pytest.mark.parametrize("daemon", DAEMON)
@pytest.mark.parametrize("kind", KINDS)
def test_repointed_link_and_moved_file(kind: str, daemon: str, keys: Home,
                                       shell_factory: ShellFactory) -> None:
    home = keys
    proj = home.path / "proj"
    proj.mkdir()
    a, b = home.path / "a.toml", home.path / "b.toml"
    a.write_text(text("a"))
    b.write_text(text("b", key="other"))
    old(a)
    old(b)
    (proj / ".orenv.toml").symlink_to(a)
    run_orenv(home, "allow", str(proj), check=True)
    sh = shell(shell_factory, kind, daemon)
    sh.cd(proj)
    sh.run("true")
    assert sh.var("MARK") == "a"
    # Re-pointed at an older file: blocked at the next prompt (a new, unallowed
    # version), then allowed, all without a cd. The old key never stays.
    tmp = proj / ".orenv.toml.new"
    tmp.symlink_to(b)
    tmp.rename(proj / ".orenv.toml")
    out = sh.run("true")
    env = sh.env()
    assert "not allowed" in out or "changed" in out, out
    assert "ANTHROPIC_AUTH_TOKEN" not in env and "MARK" not in env
    run_orenv(home, "allow", str(proj), check=True)
    sh.run("true")
    assert sh.var("MARK") == "b" and sh.var("ANTHROPIC_AUTH_TOKEN") == KEY2
    # An older regular file moved over it: seen too.
    c = home.path / "c.toml"
    c.write_text(text("c"))
    run_orenv(home, "allow", str(proj), check=True)  # allowed for the link's content
    old(c, 7200)
    os.replace(c, proj / ".orenv.toml")
    out = sh.run("true")
    assert "MARK" not in sh.env() or sh.var("MARK") == "c"
    assert sh.var("MARK") != "b"


@pytest.mark.parametrize("daemon", DAEMON)
@pytest.mark.parametrize("kind", KINDS)
def test_nearer_policy_inside_an_active_project(kind: str, daemon: str, keys: Home,
                                                shell_factory: ShellFactory) -> None:
    home = keys
    outer = make_policy(home, "outer", text("outer"))
    inner = outer / "inner"
    inner.mkdir()
    # A version of the inner policy allowed earlier (then removed): coming back,
    # it needs no `orenv allow`, so nothing but the file itself announces it.
    nearer = inner / ".orenv.toml"
    nearer.write_text(text("inner"))
    run_orenv(home, "allow", str(inner), check=True)
    nearer.unlink()
    sh = shell(shell_factory, kind, daemon)
    sh.cd(inner)  # the first cd; with the daemon on it starts it
    sh.run("true")
    assert sh.var("MARK") == "outer"
    nearer.write_text(text("inner"))
    sh.run("true")  # the next prompt, no cd
    assert sh.var("MARK") == "inner"
    nearer.unlink()
    sh.run("true")
    assert sh.var("MARK") == "outer"
    # A nearer file nobody allowed (a `git pull` brings it): blocked at once,
    # the outer key is not kept.
    nearer.write_text(text("pulled"))
    out = sh.run("true")
    env = sh.env()
    assert "orenv allow" in out and "MARK" not in env and "ANTHROPIC_AUTH_TOKEN" not in env


@pytest.mark.parametrize("daemon", DAEMON)
@pytest.mark.parametrize("kind", KINDS)
def test_config_dir_deleted_and_made_again(kind: str, daemon: str, keys: Home,
                                           shell_factory: ShellFactory) -> None:
    home = keys
    proj = make_policy(home, "proj", text("p"))
    sh = shell(shell_factory, kind, daemon)
    sh.cd(proj)
    sh.run("true")
    assert sh.var("MARK") == "p"
    config_dir = home.config / "orenv"
    for round_ in range(2):
        shutil.rmtree(config_dir)  # gone: MARK is not in allow_env any more
        sh.run("true")
        assert "MARK" not in sh.env(), round_
        write_config(home)  # back, with MARK allowed
        sh.run("true")
        assert sh.var("MARK") == "p", round_
        status = run_orenv(home, "status", cwd=proj, check=True).stdout
        assert "state:     active" in status
    # Renamed away and back.
    config_dir.rename(home.config / "orenv-away")
    sh.run("true")
    assert "MARK" not in sh.env()
    (home.config / "orenv-away").rename(config_dir)
    sh.run("true")
    assert sh.var("MARK") == "p"
    if daemon == "on":
        run_orenv(home, "daemon", "stop")
