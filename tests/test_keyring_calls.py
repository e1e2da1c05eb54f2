"""No orenv process leaves a Secret Service call half done.

gnome-keyring crashes (a GLib assertion, "Bail out!" in its log) when a client
vanishes between a request and its answer; measured by killing keyring readers
at random: it fell within half a minute, and a restarted keyring comes back
locked. So the CLI holds SIGHUP/SIGTERM/SIGINT while a call is under way, and
the daemon never kills its keyring-reading child. The keyring daemon is
stopped (SIGSTOP) to hold a call open for as long as the test needs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import make_home
from keyringd import KeyringSession

from orenv.errors import KeyringUnavailableError
from orenv.keyreader import read_keys

KEY = "sk-or-v1-" + "e" * 64

READER = (
    "import sys\n"
    "from orenv import secrets\n"
    "print('calling', flush=True)\n"
    "value = secrets.get_key('held', 20, memory=False)\n"
    "print('read', len(value), flush=True)\n"
)


@pytest.fixture
def stored(private_keyring: KeyringSession, tmp_path: Path) -> Iterator[dict[str, str]]:
    """An env whose keyring (of this test's own) holds key ``held``; SIGCONT at the end."""
    env = {**os.environ, **make_home(tmp_path, private_keyring.env).env}
    subprocess.run([sys.executable, "-m", "orenv", "key", "set", "held", "--force"],
                   input=KEY + "\n", env=env, capture_output=True, text=True, timeout=60,
                   check=True)
    try:
        yield env
    finally:
        pid = private_keyring.keyring_pid
        if pid:
            os.kill(pid, signal.SIGCONT)


def _children() -> set[int]:
    """This process's live children (from /proc: no psutil)."""
    kids: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        try:
            kids.update(int(p) for p in (task / "children").read_text().split())
        except OSError:
            continue
    return kids


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_waits_for_the_call_in_flight(stored: dict[str, str],
                                               private_keyring: KeyringSession,
                                               sig: signal.Signals) -> None:
    pid = private_keyring.keyring_pid
    assert pid
    proc = subprocess.Popen([sys.executable, "-c", READER], env=stored, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "calling"
        os.kill(pid, signal.SIGSTOP)  # the call now waits on the keyring
        time.sleep(0.8)
        proc.send_signal(sig)
        time.sleep(0.8)
        assert proc.poll() is None, "the reader died with its keyring call in flight"
        os.kill(pid, signal.SIGCONT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    # The call finished first, then the signal had its usual effect.
    assert proc.returncode != 0
    assert "read" not in out
    assert KEY not in out + err
    if sig != signal.SIGINT:
        assert proc.returncode == -sig
    time.sleep(0.3)
    assert private_keyring.keyring_pid == pid, "gnome-keyring died"
    got = subprocess.run(["secret-tool", "lookup", "service", "orenv", "username", "held"],
                         env=stored, capture_output=True, text=True, timeout=30)
    assert got.stdout == KEY


def test_the_daemon_never_kills_its_keyring_reader(stored: dict[str, str],
                                                   private_keyring: KeyringSession,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in stored.items():
        monkeypatch.setenv(k, v)
    pid = private_keyring.keyring_pid
    assert pid
    before = _children()
    os.kill(pid, signal.SIGSTOP)
    started = time.monotonic()
    got = read_keys(["held", "other"], timeout=1.0)
    assert time.monotonic() - started < 5
    assert all(isinstance(v, KeyringUnavailableError) for v in got.values())
    reader = _children() - before
    assert reader, "the keyring reader was killed with its call in flight"
    os.kill(pid, signal.SIGCONT)
    deadline = time.monotonic() + 20
    while _children() & reader and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _children() & reader, "the reader did not end by itself"
    assert private_keyring.keyring_pid == pid, "gnome-keyring died"
    assert read_keys(["held"], timeout=5)["held"] == KEY


def _with_marker(marker: str) -> list[int]:
    """Pids whose command line holds *marker*."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_a_call_out_of_time_keeps_its_connection_past_exit(stored: dict[str, str],
                                                          private_keyring: KeyringSession,
                                                          tmp_path: Path) -> None:
    """The caller gets its error on time and is not held up; the connection is."""
    pid = private_keyring.keyring_pid
    assert pid
    marker = f"# held-{tmp_path.name}"
    code = ("from orenv import secrets\n"
            "try:\n"
            "    secrets.get_key('held', 1.0, memory=False)\n"
            "except secrets.KeyringUnavailableError as exc:\n"
            "    print('error:', exc.message)\n" + marker + "\n")
    os.kill(pid, signal.SIGSTOP)
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-c", code], env=stored, capture_output=True,
                         text=True, timeout=30)
    assert time.monotonic() - started < 10, "the caller waited for the keyring"
    assert "did not answer within 1 s" in out.stdout, out.stdout + out.stderr
    holders = _with_marker(marker)
    assert holders, "nothing kept the connection of the call in flight"
    os.kill(pid, signal.SIGCONT)
    deadline = time.monotonic() + 20
    while _with_marker(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _with_marker(marker), "the holder did not end when the answer came"
    time.sleep(0.3)
    assert private_keyring.keyring_pid == pid, "gnome-keyring died"


def test_a_signal_held_past_the_deadline_still_leaves_a_holder(
        stored: dict[str, str], private_keyring: KeyringSession, tmp_path: Path) -> None:
    """SIGTERM during a call that then runs out of time: the process ends at the deadline
    by the signal's default action (no atexit), and the connection is held all the same."""
    pid = private_keyring.keyring_pid
    assert pid
    marker = f"# term-{tmp_path.name}"
    code = ("from orenv import secrets\n"
            "print('calling', flush=True)\n"
            "secrets.get_key('held', 1.5, memory=False)\n" + marker + "\n")
    os.kill(pid, signal.SIGSTOP)
    proc = subprocess.Popen([sys.executable, "-c", code], env=stored, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "calling"
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGTERM
        holders = [p for p in _with_marker(marker) if p != proc.pid]
        assert holders, "the held SIGTERM ended the process with no holder"
    finally:
        if proc.poll() is None:
            proc.kill()
        os.kill(pid, signal.SIGCONT)
    deadline = time.monotonic() + 20
    while _with_marker(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _with_marker(marker)
    time.sleep(0.3)
    assert private_keyring.keyring_pid == pid, "gnome-keyring died"
