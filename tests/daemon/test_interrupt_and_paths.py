"""A Ctrl-C during a slow cd, and runtime directories of any path length.

* Ctrl-C while the hook waits (a hung daemon, so the client waits out its
  deadline; or a hung keyring, so ``orenv export`` does): no traceback, no
  half-applied environment, and the next prompt is right once things recover.
* A runtime directory whose socket path is longer than AF_UNIX allows
  (108 bytes on Linux; a long TMPDIR, a home deep in a sandbox): the daemon
  starts, and zsh (builtins), bash and fish (the client) are answered by it.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Home, run_orenv
from harness import Shell

from .conftest import KEY, KINDS, DaemonCtl

ShellFactory = Callable[..., Shell]
POLICY = '[openrouter]\nkey = "work"\n[env]\nMARK = "on"\n'


def ctrl_c_during_cd(sh: Shell, proj: Path, *, stopped: int, after: float) -> str:
    """cd into *proj* while process *stopped* hangs, Ctrl-C *after* seconds; the output."""
    os.kill(stopped, signal.SIGSTOP)
    try:
        sh.send_raw(f"cd {sh.quote(proj)}\r")
        time.sleep(after)
        sh.send_raw("\x03")
        out = sh.expect_prompt(timeout=10)
    finally:
        os.kill(stopped, signal.SIGCONT)
    assert "Traceback" not in out and "KeyboardInterrupt" not in out, out
    return out


@pytest.mark.parametrize("kind", KINDS)
def test_ctrl_c_while_the_daemon_hangs(kind: str, keyed: DaemonCtl,
                                       shell_factory: ShellFactory) -> None:
    proj = keyed.policy("proj", POLICY)
    keyed.start()
    sh = shell_factory(kind)
    sh.cd(proj)
    sh.cd(keyed.home.path)
    keyed.wait_shells(1)
    # The client (or zsh) waits out its deadline on the stopped daemon.
    ctrl_c_during_cd(sh, proj, stopped=keyed.pid(), after=0.15)
    env = sh.env()
    # Either the cd completed whole (the fallback answered) or nothing was applied.
    assert env.get("MARK") in (None, "on")
    assert ("ANTHROPIC_AUTH_TOKEN" in env) == (env.get("MARK") == "on")
    sh.run("true")  # the next prompt repairs whatever was left
    assert sh.var("MARK") == "on" and sh.var("ANTHROPIC_AUTH_TOKEN") == KEY


@pytest.mark.parametrize("kind", KINDS)
def test_ctrl_c_while_the_keyring_hangs(kind: str, home: Home, private_keyring: object,
                                        shell_factory: ShellFactory) -> None:
    from keyringd import KeyringSession

    assert isinstance(private_keyring, KeyringSession)
    home.env.update(private_keyring.env)
    run_orenv(home, "key", "set", "work", input=KEY, check=True)
    proj = home.path / "proj"
    proj.mkdir()
    (proj / ".orenv.toml").write_text(POLICY)
    run_orenv(home, "allow", str(proj), check=True)
    sh = shell_factory(kind, env={**home.env, "ORENV_NO_DAEMON": "1",
                                  "ORENV_KEYRING_TIMEOUT": None})
    keyring_pid = private_keyring.keyring_pid
    assert keyring_pid
    # `orenv export` waits for the stopped keyring.
    out = ctrl_c_during_cd(sh, proj, stopped=keyring_pid, after=0.3)
    # The cd completed whole: with the keyring's one-line error, nothing applied.
    assert "keyring" in out
    env = sh.env()
    assert "ANTHROPIC_AUTH_TOKEN" not in env and "MARK" not in env
    sh.cd(home.path)  # the keyring answers again: the next cd applies the policy
    sh.cd(proj)
    assert sh.var("MARK") == "on" and sh.var("ANTHROPIC_AUTH_TOKEN") == KEY


@pytest.mark.parametrize("kind", KINDS)
def test_socket_path_longer_than_af_unix_allows(kind: str, home: Home, tmp_path: Path,
                                                shell_factory: ShellFactory) -> None:
    deep = tmp_path / ("r" * 60) / ("u" * 60)
    deep.mkdir(parents=True, mode=0o700)
    deep.chmod(0o700)
    sock = deep / "orenv" / "daemon.sock"
    assert len(str(sock).encode()) > 108
    env = {"XDG_RUNTIME_DIR": str(deep), "ORENV_DAEMON_LINGER": "3"}
    run_orenv(home, "key", "set", "work", input=KEY, check=True)
    proj = home.path / "proj"
    proj.mkdir()
    (proj / ".orenv.toml").write_text(POLICY)
    run_orenv(home, "allow", str(proj), check=True)
    started = run_orenv(home, "daemon", "start", env=env)
    try:
        assert started.returncode == 0, started.stderr
        sh = shell_factory(kind, env=env)
        for _ in range(2):
            sh.cd(proj)
            assert sh.var("MARK") == "on"
            sh.cd(home.path)
        status = run_orenv(home, "daemon", "status", "--json", env=env, check=True).stdout
        assert str(sh.pid) in status and str(sock) in status
    finally:
        run_orenv(home, "daemon", "stop", env=env)
