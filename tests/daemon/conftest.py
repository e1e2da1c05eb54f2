"""Fixtures for daemon tests: a daemon of the test's own, always killed at the end.

Every test runs in its own HOME/XDG_RUNTIME_DIR (the ``home`` fixture), so the
daemon a shell starts on demand is that test's alone. ``dctl`` stops it at
the end and fails the test if any orenv daemon of this home is still alive
afterwards (a leak), after killing it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
from conftest import Home, make_policy, run_orenv

from orenv.daemon import server

KEY = "sk-or-v1-" + "0123456789abcdef" * 4
KEY2 = "sk-or-v1-" + "fedcba9876543210" * 4
KINDS = ["zsh", "bash", "fish", "nu"]

POLICY = """\
[openrouter]
key = "work"
[models]
opus = "anthropic/claude-opus-4.5"
[env]
API_TIMEOUT_MS = "600000"
"""


def daemon_procs(runtime: Path) -> list[psutil.Process]:
    """Live `orenv daemon run` processes serving *runtime* (XDG_RUNTIME_DIR)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info.get("cmdline") or []
        if "daemon" not in cmd or "run" not in cmd or not any("orenv" in c for c in cmd):
            continue
        try:
            if proc.environ().get("XDG_RUNTIME_DIR") == str(runtime):
                found.append(proc)
        except psutil.Error:
            continue
    return found


@dataclass
class DaemonCtl:
    home: Home

    @property
    def rt(self) -> Path:
        return self.home.runtime / "orenv"

    @property
    def sock(self) -> Path:
        return self.rt / "daemon.sock"

    @property
    def pidfile(self) -> Path:
        return self.rt / "daemon.pid"

    def orenv(self, *args: str, check: bool = True,
              **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return run_orenv(self.home, *args, check=check, **kwargs)

    def policy(self, rel: str, text: str = POLICY, allow: bool = True) -> Path:
        return make_policy(self.home, rel, text, allow=allow)

    def start(self) -> int:
        self.orenv("daemon", "start")
        return self.pid()

    def pid(self) -> int:
        return int(self.pidfile.read_text().strip())

    def status(self) -> dict[str, object]:
        import json

        proc = self.orenv("daemon", "status", "--json", check=False)
        data: dict[str, object] = json.loads(proc.stdout)
        return data

    def wait_for(self, cond: object, timeout: float = 10, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond():  # type: ignore[operator]
                return
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what or cond}")

    def wait_up(self, timeout: float = 10) -> None:
        self.wait_for(lambda: self.status().get("running"), timeout, "daemon up")

    def wait_shells(self, n: int, timeout: float = 10) -> None:
        def enough() -> bool:
            st = self.status()
            return bool(st.get("running")) and len(st.get("shells") or []) >= n  # type: ignore[arg-type]

        self.wait_for(enough, timeout, f"{n} shells registered")

    def session_stamp(self, pid: int) -> Path:
        return self.rt / "sessions" / f"{pid}.stamp"

    def wait_stamp_touched(self, pid: int, before: int, timeout: float = 10) -> None:
        """Wait until the daemon touched shell *pid*'s session stamp (live reload)."""
        stamp = self.session_stamp(pid)

        def touched() -> bool:
            try:
                return stamp.stat().st_mtime_ns != before
            except FileNotFoundError:
                return False

        self.wait_for(touched, timeout, f"session stamp of {pid} touched")

    def stamp_mtime(self, pid: int) -> int:
        try:
            return self.session_stamp(pid).stat().st_mtime_ns
        except FileNotFoundError:
            return -1


@pytest.fixture
def dctl(home: Home) -> Iterator[DaemonCtl]:
    """Daemon control for this test's home; stops it and checks nothing leaked."""
    home.env["ORENV_DAEMON_LINGER"] = "3"
    home.env["ORENV_DAEMON_KEYRING_TIMEOUT"] = "3"
    ctl = DaemonCtl(home)
    yield ctl
    leaked = []
    for proc in daemon_procs(home.runtime):
        with contextlib.suppress(psutil.Error):
            if proc.status() == psutil.STATUS_STOPPED:
                proc.send_signal(signal.SIGCONT)
    ctl.orenv("daemon", "stop", "--quiet", check=False)
    deadline = time.monotonic() + 5
    while daemon_procs(home.runtime) and time.monotonic() < deadline:
        time.sleep(0.05)
    for proc in daemon_procs(home.runtime):
        leaked.append(proc.pid)
        with contextlib.suppress(psutil.Error):
            proc.kill()
    assert not leaked, f"daemon processes left running: {leaked}"


@pytest.fixture
def keyed(dctl: DaemonCtl) -> DaemonCtl:
    dctl.orenv("key", "set", "work", input=KEY)
    return dctl


def env_of(pid: int) -> dict[str, str]:
    return dict(psutil.Process(pid).environ())


__all__ = ["KEY", "KEY2", "KINDS", "POLICY", "DaemonCtl", "daemon_procs", "env_of"]


@pytest.fixture
def daemon(keyed: DaemonCtl, monkeypatch: pytest.MonkeyPatch) -> server.Daemon:
    """A Daemon object in this process, for the user of *keyed* (no socket, no thread)."""
    for k, v in keyed.home.env.items():
        monkeypatch.setenv(k, v)
    # As the dctl daemons have (ORENV_DAEMON_KEYRING_TIMEOUT): a loaded test
    # machine can take longer than the product's 0.4 s to read a key.
    monkeypatch.setattr(server, "KEYRING_TIMEOUT", 3.0)
    return server.Daemon(linger=1)


def export_request(cwd: Path, why: str = "cd") -> dict[str, Any]:
    """What bash's hook asks the daemon on a cd (or a change) in *cwd*, as this process."""
    return {"op": "export", "shell": "bash", "cwd": str(cwd), "env": {}, "why": why,
            "session": str(os.getpid())}
