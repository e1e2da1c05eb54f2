"""Shared fixtures: an isolated HOME per test, one real gnome-keyring per session.

Nothing is skipped for a missing shell or tool: `make deps` installs them, and a
missing one fails loudly.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import REPO_ROOT, Shell, base_path, venv_bin
from keyringd import KeyringSession, start_keyring


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The suite runs real Linux parts (gnome-keyring in a private D-Bus session,
    /proc, strace, setpriv): elsewhere it is skipped with that reason, not failed."""
    if sys.platform.startswith("linux"):
        return
    skip = pytest.mark.skip(reason="the orenv suite needs Linux (gnome-keyring in a private "
                            "D-Bus session, /proc, strace, setpriv)")
    for item in items:
        item.add_marker(skip)


# Variables from the developer's environment that must never reach a test.
_SCRUB_PREFIXES = ("ORENV_", "ANTHROPIC_", "OPENROUTER_", "CLAUDE_", "DIRENV_")
_SCRUB = ("PYTHON_KEYRING_BACKEND", "DBUS_SESSION_BUS_ADDRESS", "ZDOTDIR", "PROMPT_COMMAND")


@dataclass
class Home:
    """A fresh home: ``path`` plus the ``env`` (HOME, XDG_*, keyring bus) for children."""

    path: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def config(self) -> Path:
        return Path(self.env["XDG_CONFIG_HOME"])

    @property
    def data(self) -> Path:
        return Path(self.env["XDG_DATA_HOME"])

    @property
    def state(self) -> Path:
        return Path(self.env["XDG_STATE_HOME"])

    @property
    def cache(self) -> Path:
        return Path(self.env["XDG_CACHE_HOME"])

    @property
    def runtime(self) -> Path:
        return Path(self.env["XDG_RUNTIME_DIR"])


def run_orenv(home: Home, *args: str, input: str | None = None, cwd: Path | None = None,
              env: dict[str, str] | None = None, check: bool = False,
              timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run the installed `orenv` as the user of *home* would (a key, if any, on stdin).

    With *check*, a failure raises (with orenv's stderr, which never holds a key).
    """
    full = {"PATH": base_path(), "LANG": "C.UTF-8", **home.env, **(env or {})}
    proc = subprocess.run(["orenv", *args], input=input, capture_output=True, text=True,
                          env=full, cwd=cwd or home.path, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"orenv {' '.join(args)} failed ({proc.returncode}): "
                             f"{proc.stderr}")
    return proc


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    """stdout of a run that must have succeeded."""
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The single `orenv: ...` line of a run that must have failed cleanly."""
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("orenv:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def make_policy(home: Home, rel: str, text: str, *, allow: bool = True) -> Path:
    """``home/rel/.orenv.toml`` with *text*, allowed unless told not to."""
    d = home.path / rel
    d.mkdir(parents=True, exist_ok=True)
    (d / ".orenv.toml").write_text(text)
    if allow:
        run_orenv(home, "allow", str(d), check=True)
    return d


# [env] names the tests' policies use as markers. A repository may set only
# names known to be harmless, or those the user lists in allow_env; every test
# home's config lists these (tests of the allowlist itself use other names).
TEST_ENV_NAMES = ("MARK", "WHICH", "TAG", "OTHER", "NEAR", "WEIRD", "SPACES", "X", "A", "B",
                  "MY_VAR", "PROBE")


def write_config(home: Home, *, hosts: tuple[str, ...] = ("openrouter.ai",),
                 allow_env: tuple[str, ...] = TEST_ENV_NAMES, extra: str = "") -> Path:
    """The user's config.toml: *hosts* as allowed_hosts (name a port for loopback)."""
    path = home.config / "orenv" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"allowed_hosts = {list(hosts)!r}\nallow_env = {list(allow_env)!r}\n"
                    + extra)
    return path


def loopback_host(base_url: str) -> str:
    """``127.0.0.1:PORT`` of a stand-in's base URL (allowed_hosts names the port)."""
    from urllib.parse import urlsplit

    return urlsplit(base_url).netloc


def make_home(root: Path, extra_env: dict[str, str] | None = None) -> Home:
    """HOME and XDG dirs under *root* (XDG_RUNTIME_DIR 0700), with a test config.toml."""
    home = root / "home"
    env = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_RUNTIME_DIR": str(root / "run"),
    }
    for value in env.values():
        Path(value).mkdir(parents=True, exist_ok=True)
    runtime = root / "run"
    runtime.chmod(0o700)
    # The product's keyring deadline is 0.8 s (a prompt must never wait
    # longer); a test machine under full load can be slower than that for a
    # healthy keyring. Tests of the deadline itself set their own.
    env["ORENV_KEYRING_TIMEOUT"] = "5"
    # bash's FIFO channel is offered by default only in a runtime directory
    # under /run (where sandboxes do not look); a test's is a temp directory.
    # Tests of that rule drop this.
    env["ORENV_BASH_FIFO"] = "1"
    env.update(extra_env or {})
    made = Home(path=home, env=env)
    write_config(made)
    return made


@pytest.fixture(autouse=True)
def _isolate_process_env(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Point this process's HOME/XDG at a temp dir and drop leaky variables."""
    root = tmp_path_factory.mktemp("proc-home")
    home = make_home(root)
    for key, value in home.env.items():
        monkeypatch.setenv(key, value)
    for key in list(os.environ):
        if key.startswith(_SCRUB_PREFIXES) or key in _SCRUB:
            monkeypatch.delenv(key, raising=False)
    yield home.path


@pytest.fixture(scope="session")
def keyring_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeyringSession]:
    """One real gnome-keyring (private D-Bus) for the test session, unlocked.

    Tests that lock or kill it must restore it (``ks.unlock()`` /
    ``ks.start_service()``), or use ``private_keyring`` instead.
    """
    session = start_keyring(tmp_path_factory.mktemp("keyring"))
    try:
        yield session
    finally:
        session.stop()


@pytest.fixture
def private_keyring(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeyringSession]:
    """A keyring of this test's own (for tests that lock or kill it)."""
    session = start_keyring(tmp_path_factory.mktemp("keyring-private"))
    try:
        yield session
    finally:
        session.stop()


@pytest.fixture
def home(tmp_path: Path, keyring_session: KeyringSession) -> Iterator[Home]:
    """A fresh HOME (with XDG dirs) whose env also reaches the session keyring.

    The keyring is shared by the worker's tests, so orenv's entries are cleared
    first: every test starts with no keys, as its HOME starts empty.
    """
    if not keyring_session.keyring_pid:
        keyring_session.start_service()
    subprocess.run(["secret-tool", "clear", "service", "orenv"], env={
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), **keyring_session.env},
        capture_output=True, timeout=30, check=False)
    yield make_home(tmp_path, keyring_session.env)


@pytest.fixture
def orenv_bin() -> Path:
    """The `orenv` console script of the project venv."""
    path = venv_bin() / "orenv"
    assert path.exists(), f"{path} missing: run `make deps` (pip install -e '.[test]')"
    return path


@pytest.fixture
def shell_factory(home: Home) -> Iterator[Callable[..., Shell]]:
    """``shell_factory(kind, cwd=None, env=None, **kw)``: shells in ``home``, closed at the end."""
    shells: list[Shell] = []

    def make(
        kind: str,
        cwd: Path | None = None,
        env: dict[str, str | None] | None = None,
        **kwargs: object,
    ) -> Shell:
        full: dict[str, str | None] = {**home.env, **(env or {})}
        sh = Shell(kind, env=full, cwd=cwd or home.path, **kwargs)  # type: ignore[arg-type]
        shells.append(sh)
        return sh

    yield make
    for sh in shells:
        sh.close()


__all__ = ["REPO_ROOT", "TEST_ENV_NAMES", "Home", "base_path", "loopback_host", "make_home",
           "write_config"]
