"""Trust attacks, in real zsh, bash and fish: every one is refused, nothing applied.

* a policy edited after `orenv allow`;
* `.orenv.toml` swapped for a symlink to another file, or its symlink target edited;
* a parent directory renamed (the record is for the old path);
* a base URL on a host not in allowed_hosts, or plain http on a non-loopback host;
* `[env]` names that change how programs run (PATH, LD_PRELOAD, NODE_OPTIONS, ...);
* a cloned repository's policy that was never allowed never reads the keyring:
  with the keyring locked or gone, the only message is "not allowed".

Each runs with the daemon off (the hook runs `orenv export`) and on.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Home
from harness import Shell
from keyringd import KeyringSession

from .support import KINDS, Secrets, orenv, policy_dir

GOOD = '[openrouter]\nkey = "work"\n[models]\nopus = "good-opus"\n[env]\nMARK = "good"\n'
EVIL = '[openrouter]\nkey = "work"\n[models]\nopus = "evil-opus"\n[env]\nMARK = "evil"\n'
DAEMON = ["off", "on"]


def _nothing(env: dict[str, str]) -> None:
    leaked = [k for k in env if k.startswith("ANTHROPIC_") or k == "MARK"]
    assert leaked == [], leaked


def _bump(path: Path) -> None:
    """Make sure an edit is seen even on a coarse-mtime file system."""
    future = time.time() + 2
    os.utime(path, (future, future), follow_symlinks=False)


@pytest.fixture
def start(home: Home, secret_values: Secrets, shell_factory: Callable[..., Shell]
          ) -> Callable[[str, str], Shell]:
    orenv(home, "key", "set", "work", input=secret_values.key)

    shells: list[Shell] = []

    def make(kind: str, daemon: str) -> Shell:
        env = {"ORENV_NO_DAEMON": "1"} if daemon == "off" else {}
        sh = shell_factory(kind, env=env)
        shells.append(sh)
        return sh

    yield make  # type: ignore[misc]
    orenv(home, "daemon", "stop", check=False)


@pytest.mark.parametrize("daemon", DAEMON)
@pytest.mark.parametrize("kind", KINDS)
def test_edit_swap_rename_all_refused(kind: str, daemon: str, home: Home,
                                      secret_values: Secrets,
                                      start: Callable[[str, str], Shell]) -> None:
    sh = start(kind, daemon)
    # 1. edited after allow
    proj = policy_dir(home, "edit", GOOD)
    sh.cd(proj)
    assert sh.env()["MARK"] == "good"
    (proj / ".orenv.toml").write_text(EVIL)
    _bump(proj / ".orenv.toml")
    out = sh.run("true")
    assert "changed since it was allowed" in out, out
    _nothing(sh.env())
    sh.cd(home.path)

    # 2. swapped for a symlink to another file
    swap = policy_dir(home, "swap", GOOD)
    evil_file = home.path / "evil.toml"
    evil_file.write_text(EVIL)
    (swap / ".orenv.toml").unlink()
    os.symlink(evil_file, swap / ".orenv.toml")
    out = sh.cd(swap)
    assert "changed since it was allowed" in out, out
    _nothing(sh.env())
    sh.cd(home.path)

    # 3. allowed through a symlink, then the target edited
    target = home.path / "target.toml"
    target.write_text(GOOD)
    linked = home.path / "linked"
    linked.mkdir()
    os.symlink(target, linked / ".orenv.toml")
    orenv(home, "allow", str(linked))
    sh.cd(linked)
    assert sh.env()["MARK"] == "good"
    target.write_text(EVIL)
    _bump(target)
    out = sh.run("true")
    assert "changed since it was allowed" in out, out
    _nothing(sh.env())
    sh.cd(home.path)

    # 4. a parent directory renamed: the record was for the old path
    parent = home.path / "parent"
    policy_dir(home, "parent/proj", GOOD)
    os.rename(parent, home.path / "renamed")
    out = sh.cd(home.path / "renamed" / "proj")
    assert "not allowed yet" in out, out
    _nothing(sh.env())
    # ... and a new directory at the old path with other content is not trusted either
    policy_dir(home, "parent/proj", EVIL, allow=False)
    out = sh.cd(parent / "proj")
    assert "changed since it was allowed" in out or "not allowed" in out, out
    _nothing(sh.env())
    sh.cd(home.path)
    assert sh.run("echo alive").strip() == "alive"


URLS = {
    "https://evil.example/api": "not in allowed_hosts",
    "https://openrouter.ai.evil.example/api": "not in allowed_hosts",
    "https://openrouter.ai@evil.example/api": "user name or password",
    "http://openrouter.ai/api": "plain http",
    "http://10.0.0.1/api": "plain http",
    "http://127.0.0.1.evil.example/api": "plain http",
    "https://evil.example/api#@openrouter.ai": "query or fragment",
    "https://evil.example/api?@openrouter.ai": "query or fragment",
    "ftp://openrouter.ai/api": "https URL",
    "file:///etc/passwd": "https URL",
    "https://OPENROUTER.AI.evil.example": "not in allowed_hosts",
    "https://evil.example\\@openrouter.ai/api": "",
}
BAD_ENV = ["PATH", "LD_PRELOAD", "LD_LIBRARY_PATH", "NODE_OPTIONS", "HTTPS_PROXY",
           "https_proxy", "BASH_ENV", "ENV", "PYTHONPATH", "PROMPT_COMMAND",
           "DYLD_INSERT_LIBRARIES", "NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "GIT_SSH_COMMAND",
           "ZDOTDIR", "fish_user_paths", "path", "PS1", "PS0", "IFS", "HOME",
           "ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY"]


@pytest.mark.parametrize("daemon", DAEMON)
@pytest.mark.parametrize("kind", KINDS)
def test_bad_hosts_and_env_names_refused(kind: str, daemon: str, home: Home,
                                         start: Callable[[str, str], Shell]) -> None:
    dirs = []
    for i, url in enumerate(URLS):
        d = policy_dir(home, f"url{i}", '[openrouter]\nkey = "work"\nbase_url = "'
                       + url.replace("\\", "\\\\") + '"\n', allow=False)
        orenv(home, "allow", str(d), check=False)  # the user allows it anyway
        dirs.append((d, URLS[url]))
    for i, name in enumerate(BAD_ENV):
        d = policy_dir(home, f"env{i}", f'[openrouter]\nkey = "work"\n[env]\n{name} = "x"\n',
                       allow=False)
        orenv(home, "allow", str(d), check=False)
        dirs.append((d, f"env.{name}"))
    sh = start(kind, daemon)
    before = sh.env()
    for d, expect in dirs:
        out = sh.cd(d)
        lines = [ln for ln in out.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("orenv: "), (d, out)
        assert expect in lines[0], (expect, lines[0])
        env = sh.env()
        _nothing(env)
        for name in BAD_ENV:
            assert env.get(name) == before.get(name), name
    sh.cd(home.path)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fault", ["locked", "killed"])
def test_cloned_repo_never_reads_keyring(kind: str, fault: str, home: Home,
                                         private_keyring: KeyringSession,
                                         shell_factory: Callable[..., Shell],
                                         secret_values: Secrets) -> None:
    home.env.update(private_keyring.env)
    orenv(home, "key", "set", "work", input=secret_values.key)
    clone = policy_dir(home, "clone", GOOD, allow=False)
    (clone / "sub").mkdir()
    if fault == "locked":
        private_keyring.lock()
    else:
        private_keyring.kill_service()
    sh = shell_factory(kind, env={**private_keyring.env, "ORENV_NO_DAEMON": "1"})
    out = sh.cd(clone)
    assert "not allowed yet" in out and "keyring" not in out.lower(), out
    _nothing(sh.env())
    assert sh.cd(clone / "sub").strip() == ""
    out = sh.run("orenv status")
    assert "keyring" not in out.lower() or "not allowed" in out, out
    _nothing(sh.env())
    # The control: an allowed policy does reach the (broken) keyring.
    orenv(home, "allow", str(clone))
    out = sh.run("true")
    assert "keyring" in out.lower(), out


@pytest.mark.parametrize("kind", KINDS)
def test_unallowed_policy_sets_nothing_not_even_its_name(
    kind: str, home: Home, start: Callable[[str, str], Shell],
) -> None:
    """A cloned repo's `name` must not reach ORENV_PROFILE (prompt themes show it)."""
    evil_name = "$(touch pwned)`touch pwned2`%{\\e]0;x\\a%}"
    clone = policy_dir(home, "clone", f"name = '{evil_name}'\n" + GOOD, allow=False)
    sh = start(kind, "off")
    out = sh.cd(clone)
    assert "not allowed yet" in out
    env = sh.env()
    _nothing(env)
    assert env.get("ORENV_PROFILE") == "clone (blocked)", env.get("ORENV_PROFILE")
    assert "touch" not in " ".join(f"{k}={v}" for k, v in env.items())
