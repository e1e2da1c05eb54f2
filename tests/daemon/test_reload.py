"""`orenv reload` (issue 13, item 4): the way out when something looks stale.

A key replaced in the keyring behind orenv's back (``secret-tool``, as any
other program could) changes no file orenv watches: the shell keeps the old
key at its next prompt, and with the daemon even a ``cd`` out and back is
answered from the keys it holds. After ``orenv reload`` the next prompt has
the new key, in real zsh, bash and fish, with the daemon on and off.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest
from conftest import Home
from harness import Shell, base_path

from .conftest import KEY, KEY2, KINDS, POLICY, DaemonCtl

ShellFactory = Callable[..., Shell]


def which(value: str | None) -> str:
    """Which test key *value* is, by name: a failing assert never prints a key."""
    return {KEY: "old key", KEY2: "new key", None: "no key"}.get(value, "another value")


def replace_key_behind_orenvs_back(home: Home, value: str) -> None:
    """What another program may do: rewrite the keyring entry (the value on stdin)."""
    env = {"PATH": base_path(), **home.env}
    subprocess.run(["secret-tool", "clear", "service", "orenv", "username", "work"],
                   env=env, check=True, timeout=30)
    subprocess.run(["secret-tool", "store", "--label=orenv: work", "service", "orenv",
                    "username", "work"], input=value, text=True, env=env, check=True,
                   timeout=30)


@pytest.mark.parametrize("daemon", ["on", "off"])
@pytest.mark.parametrize("kind", KINDS)
def test_reload_applies_a_key_changed_behind_orenvs_back(
        kind: str, daemon: str, keyed: DaemonCtl, shell_factory: ShellFactory) -> None:
    proj = keyed.policy("proj", POLICY)
    if daemon == "on":
        keyed.start()
    sh = shell_factory(kind, env={"ORENV_NO_DAEMON": "1"} if daemon == "off" else {})
    sh.cd(proj)
    assert which(sh.var("ANTHROPIC_AUTH_TOKEN")) == "old key"
    if daemon == "on":
        keyed.wait_shells(1)  # answered by the daemon, which now holds the key
    replace_key_behind_orenvs_back(keyed.home, KEY2)
    sh.run("true")
    assert which(sh.var("ANTHROPIC_AUTH_TOKEN")) == "old key"  # nothing orenv watches changed
    if daemon == "on":
        sh.cd(keyed.home.path)
        sh.cd(proj)
        assert which(sh.var("ANTHROPIC_AUTH_TOKEN")) == "old key"  # from the daemon's memory
    out = sh.run("orenv reload").replace("\r", "")
    flushed = ("the daemon dropped its cached keys and answers" if daemon == "on"
               else "no daemon was running")
    assert out.splitlines() == [
        f"reload: every shell in a project recomputes at its next prompt ({flushed})"], out
    env = sh.env()
    assert which(env.get("ANTHROPIC_AUTH_TOKEN")) == "new key"
    assert env.get("API_TIMEOUT_MS") == "600000"
    # And it stays: the daemon's cache now holds the new key.
    sh.cd(keyed.home.path)
    sh.cd(proj)
    assert which(sh.var("ANTHROPIC_AUTH_TOKEN")) == "new key"
