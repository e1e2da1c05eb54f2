"""The daemon's notice about Claude Code sessions with an older setup (issue 12 item 8).

A real process named ``claude`` (``sleep`` under that name) runs in the
project with the environment orenv gave it; the daemon object answers the
shell's requests directly (no refresher thread: each test does its steps in
the order it is testing). Whoever sees the change first, the shell's own
reload or the refresher, the notice comes with the next answer, once.
Answers hold the key: asserts look only at the notice lines.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from orenv import sessions
from orenv.activation import compute
from orenv.daemon.server import Daemon

from .conftest import KEY, KEY2, DaemonCtl, export_request

POLICY = ('[openrouter]\nkey = "work"\nmode = "{mode}"\n'
          '[models]\nopus = "anthropic/claude-opus-4.5"\n')


@pytest.fixture
def claude(tmp_path: Path) -> Iterator[Callable[[Path, str], int]]:
    """Start a process named ``claude`` in a project, with the environment orenv's
    answer there gives (plus the key, as ``orenv exec`` adds it, in exec mode)."""
    exe = tmp_path / "bin" / "claude"
    exe.parent.mkdir()
    sleep = shutil.which("sleep")
    assert sleep is not None
    os.symlink(sleep, exe)
    procs: list[subprocess.Popen[bytes]] = []

    def start(proj: Path, key: str) -> int:
        act = compute(str(proj), {}, read_key=lambda name: key)
        env = {"PATH": "/usr/bin:/bin", **act.env}
        if act.policy is not None and act.policy.mode == "exec":
            env["ANTHROPIC_AUTH_TOKEN"] = key
        proc = subprocess.Popen([str(exe), "300"], cwd=proj, env=env)
        procs.append(proc)
        deadline = time.monotonic() + 10
        while not any(p.pid == proc.pid and p.cwd == str(proj)
                      for p in sessions.scan(2.0)[0]):
            assert time.monotonic() < deadline, "scan does not find it"
            time.sleep(0.05)
        return proc.pid

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


def _notices(code: str) -> list[str]:
    """The notice lines of an answer (never the rest: it holds the key)."""
    return [line for line in code.splitlines() if "running claude session" in line]


def _line(text: str) -> str:
    return f"builtin printf '%s\\n' '{text}' >&2"


def test_shell_sees_a_policy_change_first(keyed: DaemonCtl, daemon: Daemon,
                                          claude: Callable[[Path, str], int]) -> None:
    proj = keyed.policy("proj", POLICY.format(mode="export"))
    assert _notices(daemon.export(export_request(proj))) == []
    pid = claude(proj, KEY)
    keyed.orenv("set", "models.opus", "anthropic/claude-opus-4.6", cwd=proj)
    assert _notices(daemon.export(export_request(proj, "change"))) == [_line(
        f"orenv: 1 running claude session in this project still uses the previous models "
        f"(pid {pid}): restart it")]
    assert _notices(daemon.export(export_request(proj, "change"))) == []
    # The refresher comes later: the shell has this answer and has been told.
    daemon.refresh_session(daemon.sessions[os.getpid()])
    assert _notices(daemon.export(export_request(proj, "change"))) == []


def test_refresher_sees_a_key_rotation_first(keyed: DaemonCtl, daemon: Daemon,
                                             claude: Callable[[Path, str], int]) -> None:
    proj = keyed.policy("proj", POLICY.format(mode="export"))
    daemon.export(export_request(proj))
    pid = claude(proj, KEY)
    stamp = daemon.sessions_dir / f"{os.getpid()}.stamp"
    before = stamp.stat().st_mtime_ns
    keyed.orenv("key", "set", "--force", "work", input=KEY2)
    daemon._on_event(str(daemon.keys_file), "keys")  # what the file event does
    daemon.refresh_session(daemon.sessions[os.getpid()])
    assert stamp.stat().st_mtime_ns > before  # the shell asks at its next prompt
    code = daemon.export(export_request(proj, "change"))
    assert KEY2 in code and KEY not in code
    assert _notices(code) == [_line(
        f"orenv: 1 running claude session in this project still uses the previous key "
        f"(pid {pid}): restart it")]
    assert _notices(daemon.export(export_request(proj, "change"))) == []
    assert _notices(daemon.export(export_request(proj))) == []
    log = (keyed.home.state / "orenv" / "daemon.log")
    if log.exists():
        assert KEY not in log.read_text() and KEY2 not in log.read_text()


def test_shell_asking_while_the_refresher_scans_gets_the_notice_once(
    keyed: DaemonCtl, daemon: Daemon, claude: Callable[[Path, str], int],
    monkeypatch: pytest.MonkeyPatch
) -> None:
    proj = keyed.policy("proj", POLICY.format(mode="export"))
    daemon.export(export_request(proj))
    pid = claude(proj, KEY)
    real = sessions.scan
    scanning = threading.Event()

    def slow_scan(deadline: float = sessions.SCAN_SECONDS) -> Any:
        scanning.set()
        time.sleep(0.4)  # a loaded machine
        return real(min(deadline, 0.2))

    monkeypatch.setattr(sessions, "scan", slow_scan)
    keyed.orenv("key", "set", "--force", "work", input=KEY2)
    daemon._on_event(str(daemon.keys_file), "keys")
    refresher = threading.Thread(target=daemon.refresh_session,
                                 args=(daemon.sessions[os.getpid()],))
    refresher.start()
    assert scanning.wait(10)
    # The shell's reload, while the refresher looks for sessions for that answer:
    # it waits a little (never past the client's deadline), and a notice the scan
    # finds later comes with the next answer, once.
    code = daemon.export(export_request(proj, "change"))
    refresher.join()
    said = _notices(code) + _notices(daemon.export(export_request(proj, "change")))
    assert said == [_line(
        f"orenv: 1 running claude session in this project still uses the previous key "
        f"(pid {pid}): restart it")]
    assert _notices(daemon.export(export_request(proj, "change"))) == []


def test_exec_mode_key_rotation(keyed: DaemonCtl, daemon: Daemon,
                                claude: Callable[[Path, str], int]) -> None:
    """The shell's answer has no key, so it does not change; `orenv exec -- claude` does."""
    proj = keyed.policy("proj", POLICY.format(mode="exec"))
    first = daemon.export(export_request(proj))
    pid = claude(proj, KEY)
    keyed.orenv("key", "set", "--force", "work", input=KEY2)
    daemon._on_event(str(daemon.keys_file), "keys")
    daemon.refresh_session(daemon.sessions[os.getpid()])
    code = daemon.export(export_request(proj, "change"))
    assert KEY not in code and KEY2 not in code
    assert _notices(code) == [_line(
        f"orenv: 1 running claude session in this project still uses the previous key "
        f"(pid {pid}): restart it")]
    assert _notices(first) == []
    assert _notices(daemon.export(export_request(proj, "change"))) == []


def test_no_notice_for_a_current_session_or_elsewhere(
    keyed: DaemonCtl, daemon: Daemon, claude: Callable[[Path, str], int]
) -> None:
    proj = keyed.policy("proj", POLICY.format(mode="export"))
    other = keyed.policy("other", POLICY.format(mode="export"))
    daemon.export(export_request(proj))
    claude(other, KEY)  # another project's session
    keyed.orenv("set", "models.opus", "anthropic/claude-opus-4.6", cwd=proj)
    assert _notices(daemon.export(export_request(proj, "change"))) == []
    claude(proj, KEY)  # started after the change: current
    keyed.orenv("set", "env.API_TIMEOUT_MS", "600000", cwd=other)
    daemon.export(export_request(other))
    assert _notices(daemon.export(export_request(proj, "change"))) == []
