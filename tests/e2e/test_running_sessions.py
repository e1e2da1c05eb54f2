"""Issue 12 item 8: running Claude Code sessions keep their old setup.

The real Claude Code CLI is started from a real shell in an active project and
kept running (the stand-in holds its request). After a key rotation or a
policy change, ``orenv status`` (text and --json) names it as using an older
setup, the shell says so once at its next prompt (through the daemon), and a
session started afterwards is current. The key is never in any of it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import psutil
import pytest
from conftest import Home, run_orenv
from harness import Shell
from standin import StandIn

from .conftest import CLAUDE, MODEL, orenv

KINDS = ["zsh", "bash", "fish"]
NEWER = "anthropic/claude-opus-4.5"  # in the stand-in's catalogue
THIRD = "anthropic/claude-haiku-4.5"
NOTICE = re.compile(r"orenv: \d+ running claude sessions? in this project still")
ShellFactory = Callable[..., Shell]


class Project:
    """An export-mode project whose Claude Code sessions a test starts from *sh*."""

    def __init__(self, home: Home, standin: StandIn, sh: Shell, path: Path, logs: Path) -> None:
        self.home, self.standin, self.sh, self.path, self.logs = home, standin, sh, path, logs
        self.pids: list[int] = []
        self.outputs: list[str] = []
        self.keys = [standin.key]
        self.told = 0  # stale_sessions events of the daemon log already accounted for

    def stale_events(self) -> int:
        log = self.home.state / "orenv" / "daemon.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        return text.count('"event": "stale_sessions"')

    def safe(self, text: str) -> str:
        """*text* for an assert message: a key it might hold is never printed."""
        for key in self.keys:
            text = text.replace(key, "<KEY>")
        return text

    def claude(self, key: str) -> int:
        """Start `claude -p` in the background from the shell; return its pid once
        its request (with *key*) reached the stand-in, which holds it."""
        before = len(self.standin.messages_requests())
        log = self.logs / f"claude-{len(self.pids)}.log"
        script = '"$0" -p hi </dev/null >"$1" 2>&1 & echo "pid=$!"'
        out = self.sh.run(f"sh -c {self.sh.quote(script)} {self.sh.quote(CLAUDE)} "
                          f"{self.sh.quote(log)}")
        pid = int(re.findall(r"pid=(\d+)", out)[-1])
        self.pids.append(pid)
        deadline = time.monotonic() + 90
        while len(self.standin.messages_requests()) <= before:
            assert time.monotonic() < deadline, f"claude did not start: {log.read_text()}"
            assert psutil.pid_exists(pid), f"claude exited: {log.read_text()}"
            time.sleep(0.1)
        last = self.standin.messages_requests()[-1]
        assert last["headers"]["authorization"] == f"Bearer {key}"
        assert psutil.Process(pid).cwd() == str(self.path)
        return pid

    def status(self) -> tuple[str, dict[str, Any]]:
        text = run_orenv(self.home, "status", cwd=self.path, check=True).stdout
        raw = run_orenv(self.home, "status", "--json", cwd=self.path, check=True).stdout
        self.outputs += [text, raw]
        leaked = any(key in text or key in raw for key in self.keys)
        assert not leaked, "a key in the output of orenv status"
        return text, json.loads(raw)

    def has(self, text: str, *parts: str) -> None:
        found = all(part in text for part in parts)
        assert found, self.safe(text)

    def sessions(self) -> dict[int, dict[str, Any]]:
        _, data = self.status()
        entry = data["sessions"]
        assert entry["complete"] is True
        return {r["pid"]: r for r in entry["running"]}

    def stamp(self) -> Path:
        return self.home.runtime / "orenv" / "sessions" / f"{self.sh.pid}.stamp"

    def stamp_time(self) -> int:
        try:
            return self.stamp().stat().st_mtime_ns
        except FileNotFoundError:
            return -1

    def wait_reload_signal(self, before: int) -> None:
        """Until the daemon touched this shell's session stamp (a live reload)."""
        deadline = time.monotonic() + 20
        while self.stamp_time() == before:
            assert time.monotonic() < deadline, "the daemon did not signal the shell"
            time.sleep(0.05)


@pytest.fixture
def project(loopback_home: Home, standin: StandIn, shell_factory: ShellFactory,
            tmp_path: Path) -> Iterator[Project]:
    home = loopback_home
    home.env["ORENV_DAEMON_LINGER"] = "3"
    home.env["ORENV_DAEMON_KEYRING_TIMEOUT"] = "3"
    orenv(home, "key", "set", "work", input=standin.key)
    proj = home.path / "proj"
    proj.mkdir()
    (proj / ".orenv.toml").write_text(
        f'[openrouter]\nkey = "work"\nbase_url = "{standin.base_url}"\nmode = "export"\n'
        f'[models]\nsonnet = "{MODEL}"\ndefault = "sonnet"\n')
    orenv(home, "allow", str(proj))
    orenv(home, "daemon", "start")
    standin.delay = 600  # every Claude Code session stays alive, waiting for its answer
    logs = tmp_path / "logs"
    logs.mkdir()
    made: list[Project] = []

    def make(kind: str) -> Project:
        # Claude Code's own state goes to the test's temporary HOME; no telemetry or updates.
        sh = shell_factory(kind, env={"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"})
        sh.cd(proj)
        # Served by the daemon (on a loaded machine the first cd may have used
        # the daemon-less fallback): only then does it signal this shell.
        deadline = time.monotonic() + 30
        while not _registered(home, sh.pid):
            assert time.monotonic() < deadline, "the shell never reached the daemon"
            sh.cd(home.path)
            sh.cd(proj)
        made.append(Project(home, standin, sh, proj, logs))
        return made[-1]

    yield make  # type: ignore[misc]
    for p in made:
        for pid in p.pids:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    run_orenv(home, "daemon", "stop", "--quiet")


def _registered(home: Home, pid: int) -> bool:
    status = json.loads(run_orenv(home, "daemon", "status", "--json").stdout or "{}")
    return any(s["pid"] == pid for s in status.get("shells") or [])


def _no_key_anywhere(p: Project, *keys: str) -> None:
    said = [p.sh.startup_output, *(out for _, out in p.sh.transcript), *p.outputs]
    logs = [f for f in p.home.path.rglob("*.log") if f.is_file()]
    assert any(f.name == "daemon.log" for f in logs), logs
    for key in keys:  # booleans only: a failing assert must not print a key
        in_output = any(key in text for text in said)
        assert not in_output, "a key in the shell's transcript or in orenv status"
        for f in logs:
            in_log = key in f.read_text(errors="replace")
            assert not in_log, f
        for f in p.home.path.rglob("*"):
            if f.is_file() and not f.is_symlink() and f.stat().st_size < 5_000_000:
                in_file = key.encode() in f.read_bytes()
                assert not in_file, f


def _said_once(p: Project, out: str, expected: str) -> None:
    """*expected* said at this prompt, once, and not at the following one.

    On a loaded machine the daemon can miss the prompt's 0.45 s, and the hook
    then answers without it (no notice, and no live-reload signal until the
    shell asks the daemon again): the next answer the daemon gives in the
    project (a cd below it) says it instead, still once.
    """
    if not NOTICE.search(out):
        deadline = time.monotonic() + 20  # until the daemon has looked (its log says so)
        while p.stale_events() <= p.told:
            assert time.monotonic() < deadline, "the daemon found no stale session"
            time.sleep(0.1)
        sub = p.path / "sub"
        sub.mkdir(exist_ok=True)
        out = p.sh.cd(sub)
        p.sh.cd(p.path)
    p.told = p.stale_events()
    counts = (out.count(expected), len(NOTICE.findall(out)))
    assert counts == (1, 1), p.safe(out)
    again = p.sh.run("true")
    said_again = bool(NOTICE.search(again))
    assert not said_again, p.safe(again)


@pytest.mark.parametrize("kind", KINDS)
def test_key_rotation(kind: str, project: Callable[[str], Project], standin: StandIn) -> None:
    p = project(kind)
    old = p.claude(standin.key)
    assert p.sessions()[old]["state"] == "current"
    assert not NOTICE.search(p.sh.run("true"))  # nothing changed yet

    new_key = standin.add_key(name="rotated")
    p.keys.append(new_key)
    before = p.stamp_time()
    orenv(p.home, "key", "set", "work", "--force", input=new_key)
    p.wait_reload_signal(before)  # the shell's next prompt reloads
    _said_once(p, p.sh.run("true"),
               f"orenv: 1 running claude session in this project still uses the previous key "
               f"(pid {old}): restart it")

    text, data = p.status()
    p.has(text, f"running:   claude pid {old} (started ",
          f", in {p.path}): uses an older setup\n             key changed\n"
          "  fix: restart it: /exit in that session, then run claude again\n")
    [entry] = data["sessions"]["running"]
    assert entry["pid"] == old and entry["state"] == "stale"
    assert entry["changes"] == ["key changed"] and entry["cwd"] == str(p.path)
    assert data["sessions"]["stale"] == 1

    # One started after the rotation has the new key: current.
    fresh = p.claude(new_key)
    running = p.sessions()
    assert running[old]["state"] == "stale" and running[fresh]["state"] == "current"
    assert running[fresh]["changes"] == []
    text, _ = p.status()
    p.has(text, f"claude pid {fresh} (started ", f"{p.path}): current")
    _no_key_anywhere(p, standin.key, new_key)


@pytest.mark.parametrize("kind", KINDS)
def test_policy_change(kind: str, project: Callable[[str], Project], standin: StandIn) -> None:
    p = project(kind)
    old = p.claude(standin.key)
    # Changed from the shell itself: said at the very next prompt.
    out = p.sh.run(f"orenv set models.sonnet {NEWER}")
    p.has(out, f"set models.sonnet in {p.path / '.orenv.toml'}")
    _said_once(p, out, f"orenv: 1 running claude session in this project still uses the "
                       f"previous models (pid {old}): restart it")
    running = p.sessions()
    assert running[old]["state"] == "stale"
    assert running[old]["changes"] == [f"models.sonnet changed: {MODEL} -> {NEWER}"]
    text, _ = p.status()
    p.has(text, f"uses an older setup\n             models.sonnet changed: {MODEL} -> {NEWER}\n")

    fresh = p.claude(standin.key)
    assert standin.messages_requests()[-1]["body"]["model"] == NEWER
    running = p.sessions()
    assert running[fresh]["state"] == "current" and running[old]["state"] == "stale"
    # A second change (from elsewhere): both are named, once.
    before = p.stamp_time()
    orenv(p.home, "set", "models.sonnet", THIRD, cwd=p.path)
    p.wait_reload_signal(before)
    _said_once(p, p.sh.run("true"),
               f"orenv: 2 running claude sessions in this project still use the previous "
               f"models (pids {old}, {fresh}): restart them")
    running = p.sessions()
    assert running[old]["changes"] == [f"models.sonnet changed: {MODEL} -> {THIRD}"]
    assert running[fresh]["changes"] == [f"models.sonnet changed: {NEWER} -> {THIRD}"]
    _no_key_anywhere(p, standin.key)
