"""The hook file an rc line sources (`orenv hook --write`, install.sh's blocks).

A shell start runs no process (strace), the sourced hook works as the eval'd
one, a file left by an older orenv is never run but renewed, and a file (or
directory) someone else owns or may write is not sourced.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Home, make_policy, run_orenv
from harness import Shell

KEY = "sk-or-v1-" + "0123456789abcdef" * 4
ShellFactory = Callable[..., Shell]
# The end of the file's up-to-date check (what follows is the hook).
END = {"zsh": "  return 0\nfi\n", "bash": "  return 0\nfi\n", "fish": "    return 0\nend\n"}


@pytest.fixture
def setup(home: Home) -> Home:
    run_orenv(home, "key", "set", "work", input=KEY)
    return home


def started(sh: Shell, log: Path) -> list[str]:
    """Processes the traced shell started (its own execve aside), up to its first prompt."""
    sh.run("")
    lines = log.read_text().splitlines()
    execs = [ln for ln in lines if "execve(" in ln and "= -1" not in ln
             and "resumed" not in ln]
    forks = [ln for ln in lines if re.search(r"\b(fork|vfork|clone|clone3)\(", ln)
             and "CLONE_THREAD" not in ln and "resumed" not in ln]
    return execs[1:] + forks


def trace(sh_dir: Path) -> tuple[str, ...]:
    return ("strace", "-f", "-qq", "-e", "trace=execve,fork,vfork,clone,clone3",
            "-o", str(sh_dir / "start.strace"))


@pytest.mark.parametrize("kind", ["zsh", "bash", "fish", "nu"])
def test_shell_start_runs_no_process(kind: str, setup: Home, tmp_path: Path,
                                     shell_factory: ShellFactory) -> None:
    proj = make_policy(setup, "proj", '[openrouter]\nkey = "work"\n')
    if kind == "nu":
        # nushell's block saves the autoload file at the first start.
        shell_factory(kind, sourced=True).close()
    log_dir = tmp_path / "sourced"
    log_dir.mkdir()
    sh = shell_factory(kind, sourced=True, launcher=trace(log_dir))
    assert "orenv" not in sh.startup_output, sh.startup_output
    assert started(sh, log_dir / "start.strace") == []
    # The hook is there and works.
    assert "loaded proj" in sh.cd(proj)
    assert sh.env()["ANTHROPIC_AUTH_TOKEN"] == KEY
    if kind == "nu":
        return
    # The control: the documented eval line runs orenv at every start.
    eval_dir = tmp_path / "eval"
    eval_dir.mkdir()
    control = shell_factory(kind, launcher=trace(eval_dir))
    assert any("orenv" in ln for ln in started(control, eval_dir / "start.strace"))


@pytest.mark.parametrize("kind", ["zsh", "bash", "fish"])
def test_stale_file_is_renewed_never_run(kind: str, setup: Home,
                                         shell_factory: ShellFactory) -> None:
    """A file an older orenv wrote (its version's dist-info is gone) is not run:
    the shell loads the hook from orenv, which writes the file anew."""
    proj = make_policy(setup, "proj", '[openrouter]\nkey = "work"\n')
    run_orenv(setup, "hook", "--write")
    path = setup.data / "orenv" / f"hook.{kind}"
    text = path.read_text()
    dist = re.search(r"/orenv-[0-9.]+\.dist-info", text)
    assert dist is not None, "the file names orenv's installed version"
    head, sep, _ = text.partition(END[kind])
    old = head.replace(dist.group(0), "/orenv-0.0.1.dist-info") + sep + "echo OLD-HOOK-RAN\n"
    path.write_text(old)
    sh = shell_factory(kind, sourced=True, prewrite=False)
    assert "OLD-HOOK-RAN" not in sh.startup_output
    assert sh.startup_output.strip() == "", sh.startup_output
    assert "loaded proj" in sh.cd(proj)
    renewed = path.read_text()
    assert "OLD-HOOK-RAN" not in renewed and dist.group(0) in renewed
    assert path.stat().st_mode & 0o777 == 0o644
    # Also when only the times say so: what it was made from is newer (an edit).
    head, sep, rest = path.read_text().partition(END[kind])
    path.write_text(head + sep + "echo OLD-HOOK-RAN\n" + rest)
    os.utime(path, (1_000_000_000, 1_000_000_000))
    again = shell_factory(kind, sourced=True, prewrite=False)
    assert "OLD-HOOK-RAN" not in again.startup_output
    assert "OLD-HOOK-RAN" not in path.read_text()


def _plant(path: Path, payload: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"touch {payload}\n")


@pytest.mark.parametrize("kind", ["zsh", "bash", "fish"])
def test_file_of_another_user_is_not_sourced(kind: str, setup: Home,
                                             shell_factory: ShellFactory) -> None:
    proj = make_policy(setup, "proj", '[openrouter]\nkey = "work"\n')
    path = setup.data / "orenv" / f"hook.{kind}"
    payload = setup.path / "PWNED"
    _plant(path, payload)
    os.chown(path, 65534, 65534)
    sh = shell_factory(kind, sourced=True, prewrite=False)
    assert not payload.exists()
    lines = sh.startup_output.strip().splitlines()
    assert len(lines) == 1 and "it belongs to another user" in lines[0], lines
    assert "loaded proj" in sh.cd(proj)  # the hook came from orenv
    assert path.stat().st_uid == os.getuid() and str(payload) not in path.read_text()


def test_file_or_directory_writable_by_others_is_not_sourced_zsh(
        setup: Home, shell_factory: ShellFactory) -> None:
    """zsh reads the modes with builtins (zstat); bash and fish have none."""
    proj = make_policy(setup, "proj", '[openrouter]\nkey = "work"\n')
    path = setup.data / "orenv" / "hook.zsh"
    payload = setup.path / "PWNED"
    _plant(path, payload)
    path.chmod(0o666)
    sh = shell_factory("zsh", sourced=True, prewrite=False)
    assert not payload.exists()
    lines = sh.startup_output.strip().splitlines()
    assert len(lines) == 1 and "it is writable by others" in lines[0], lines
    assert "loaded proj" in sh.cd(proj)
    assert path.stat().st_mode & 0o777 == 0o644  # replaced by a fresh one
    # orenv's data directory open to others (a umask of 002, or by hand): nothing is
    # sourced from it; it is made private again, once, with one line, and the file
    # written afresh, so the next shell starts with no process and no line.
    _plant(path, payload)
    path.chmod(0o644)
    (setup.data / "orenv").chmod(0o777)
    try:
        sh2 = shell_factory("zsh", sourced=True, prewrite=False)
        assert not payload.exists()
        lines = sh2.startup_output.strip().splitlines()
        assert len(lines) == 1 and "was writable by others (mode 777): made it private" \
            in lines[0], lines
        assert (setup.data / "orenv").stat().st_mode & 0o777 == 0o700
        assert str(payload) not in path.read_text()  # written afresh
        assert "loaded proj" in sh2.cd(proj)
        sh3 = shell_factory("zsh", sourced=True, prewrite=False)
        assert sh3.startup_output.strip() == ""
    finally:
        (setup.data / "orenv").chmod(0o700)


def test_write_refuses_links_and_reports(setup: Home, tmp_path: Path) -> None:
    """`orenv hook zsh --write` over a link: the link is replaced, one line says why."""
    target = tmp_path / "elsewhere.zsh"
    target.write_text("echo hi\n")
    path = setup.data / "orenv" / "hook.zsh"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)
    proc = run_orenv(setup, "hook", "zsh", "--write")
    assert proc.stderr.strip() == f"orenv: did not load {path}: it is a link; wrote a fresh one"
    assert not path.is_symlink() and target.read_text() == "echo hi\n"
    assert "__orenv_precmd" in proc.stdout  # the hook itself, for eval
    assert run_orenv(setup, "hook", "--write").stderr == ""


@pytest.mark.parametrize("kind", ["zsh", "bash", "fish"])
def test_the_file_defines_what_the_hook_defines(kind: str, setup: Home) -> None:
    """The written file drops comment-only lines (a shell start parses every byte):
    the functions it defines are exactly those of `orenv hook SHELL`."""
    home = setup
    full = run_orenv(home, "hook", kind, check=True).stdout
    from orenv.hookfile import without_comments

    stripped = without_comments(full)
    assert len(stripped) < 0.8 * len(full)
    dump = {"zsh": "functions", "bash": "declare -f",
            "fish": "for f in (functions -a | string match '__orenv*'); functions $f; end"}[kind]
    argv = {"zsh": ["zsh", "-f", "-c"], "bash": ["bash", "--norc", "-c"],
            "fish": ["fish", "--no-config", "-c"]}[kind]
    outs = []
    for code in (full, stripped):
        src = home.path / f"hook-{len(outs)}.{kind}"
        src.write_text(code)
        done = subprocess.run([*argv, f"source {src}; {dump}"], env={**os.environ, **home.env},
                              capture_output=True, text=True, timeout=60, cwd=home.path)
        assert done.returncode == 0, done.stderr
        outs.append(done.stdout)
    if kind == "fish":  # fish prints a function's comments with it: compare the code
        outs = ["\n".join(ln for ln in o.splitlines() if not ln.lstrip().startswith("#"))
                for o in outs]
    assert outs[0] == outs[1] and "__orenv" in outs[0]
