"""Keys held in the daemon's memory (`orenv key add`), with no Secret Service at all.

The machines of issue 14: SSH sessions, containers, WSL, CI. The test home has
no D-Bus session (``DBUS_SESSION_BUS_ADDRESS`` unset), so the keyring cannot be
reached, and orenv must neither fall back to a file nor leave the user stuck.
In real zsh, bash and fish:

* ``orenv key set`` fails and says to use ``orenv key add``; ``orenv key add``
  (key on stdin) starts the daemon and hands it the key over its socket;
* activation, ``exec``, helper mode's ``orenv token`` and ``doctor`` work as
  with the keyring; ``key list`` shows the store and the expiry;
* a key whose lifetime ends is gone at the shell's next prompt, which says
  how to add it again; the daemon killed (SIGSEGV) and started again has no
  key, and the shell says so at its next cd;
* the key page is locked in RAM (``VmLck``), the daemon's core limit is 0 and
  the crash wrote no core; no file under HOME, the XDG and runtime dirs, the
  system temp dirs or ``/dev/shm`` (the daemon's log included), no argv and no
  environment entry but ``ANTHROPIC_AUTH_TOKEN`` ever holds the key.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import Home, base_path, make_home, make_policy, run_orenv
from harness import Shell

from .support import KINDS, ProcWatch, Secrets, find_core_dumps, scan_files

POLICY = """\
[openrouter]
key = "{key}"
mode = "{mode}"
[models]
sonnet = "anthropic/claude-sonnet-4.5"
"""


def _daemon_pid(home: Home) -> int | None:
    try:
        return int((home.runtime / "orenv" / "daemon.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def _wait_daemon(home: Home, old: int | None = None, timeout: float = 10) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = _daemon_pid(home)
        if pid and pid != old and (home.runtime / "orenv" / "daemon.sock").exists():
            return pid
        time.sleep(0.05)
    raise AssertionError("no daemon came up")


def _status_field(pid: int, field: str) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def _soft_core_limit(pid: int) -> str:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max core file size"):
            return line.split()[4]
    raise AssertionError("no core limit line")


def _stop_daemons(home: Home) -> None:
    run_orenv(home, "daemon", "stop", "--quiet", check=False)
    pid = _daemon_pid(home)
    if pid:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture
def headless(tmp_path: Path) -> Home:
    """A home with no D-Bus session and so no Secret Service (nothing of a keyring)."""
    home = make_home(tmp_path)
    assert "DBUS_SESSION_BUS_ADDRESS" not in home.env
    return home


@pytest.mark.parametrize("kind", KINDS)
def test_memory_store_end_to_end_without_secret_service(
        kind: str, headless: Home, secret_values: Secrets, proc_watch: ProcWatch,
        tmp_path: Path) -> None:
    home, sec = headless, secret_values
    started = time.time()
    roots = [home.path, home.runtime, tmp_path, Path("/dev/shm")]
    roots += [Path(d) for d in {"/tmp", "/var/tmp", os.environ.get("TMPDIR", "/tmp")}]
    shells: list[Shell] = []
    try:
        # The keyring is not there: `key set` fails and points to `key add` instead.
        failed = run_orenv(home, "key", "set", "work", input=sec.key)
        assert failed.returncode != 0
        assert "no Secret Service is reachable" in failed.stderr
        assert "`orenv key add work`" in failed.stderr
        assert not sec.hits(failed.stderr)

        # `key add` starts the daemon and hands it the keys over its socket.
        added = run_orenv(home, "key", "add", "work", input=sec.key + "\n", check=True)
        assert "orenv daemon's memory" in added.stdout and "never written" in added.stdout
        assert not sec.hits(added.stdout + added.stderr)
        daemon = _wait_daemon(home)
        proj = make_policy(home, "proj", POLICY.format(key="work", mode="export"))
        brief = make_policy(home, "brief", POLICY.format(key="brief", mode="export"))
        execp = make_policy(home, "execp", POLICY.format(key="work", mode="exec"))
        helper = make_policy(home, "helper", POLICY.format(key="work", mode="helper"))
        sh = Shell(kind, env=home.env, cwd=home.path)
        shells.append(sh)

        # A key with a lifetime (ssh-add -t), as long as a loaded machine needs for what
        # follows; the shell sees it go at its next prompt after that.
        lifetime = 15
        run_orenv(home, "key", "add", "brief", "--lifetime", f"{lifetime}s", input=sec.key2,
                  check=True)
        expires_by = time.time() + lifetime

        listed = json.loads(run_orenv(home, "key", "list", "--json", check=True).stdout)
        stores = {e["name"]: (e["store"], e["expires"]) for e in listed}
        assert stores["work"] == ("memory", None)
        assert stores["brief"][0] == "memory" and stores["brief"][1] <= expires_by
        table = run_orenv(home, "key", "list", check=True).stdout
        assert "memory, until the daemon ends" in table and not sec.hits(table)

        # Locked in RAM (one page per key), never in a core dump.
        assert int(_status_field(daemon, "VmLck").split()[0]) >= 8
        assert _soft_core_limit(daemon) == "0"

        out = sh.cd(brief)
        assert "orenv: loaded brief" in out, out
        assert sh.var("ANTHROPIC_AUTH_TOKEN") == sec.key2

        # exec and helper mode get the key from memory too; the shell holds none there.
        token = run_orenv(home, "token", cwd=helper, check=True).stdout.strip()
        assert token == sec.key
        execd = run_orenv(home, "exec", "--", "sh", "-c",
                          'printf %s "$ANTHROPIC_AUTH_TOKEN" | sha256sum', cwd=execp, check=True)
        assert execd.stdout.split()[0] == hashlib.sha256(sec.key.encode()).hexdigest()
        out = sh.cd(execp)
        assert "exec mode" in out and sh.var("ANTHROPIC_AUTH_TOKEN") is None

        # doctor: no Secret Service is explained, not an error; the key is found in memory.
        doc = json.loads(run_orenv(home, "doctor", "--json", cwd=proj).stdout)
        codes = {f["code"]: f for f in doc["findings"]}
        assert codes["keyring-absent"]["severity"] == "info"
        assert "orenv key add" in codes["keyring-absent"]["fix"]
        assert "held in memory" in codes["key-present"]["message"]
        assert "key-missing" not in codes and "keyring" not in codes

        # The end of a lifetime: gone at the next prompt, and the line says how to add it again.
        sh.cd(brief)
        assert sh.var("ANTHROPIC_AUTH_TOKEN") == sec.key2
        time.sleep(max(0.0, expires_by - time.time()) + 2.5)  # the daemon checks each second
        out = sh.run("true")
        assert "orenv: key 'brief' was held in memory by the orenv daemon and expired at" in out
        assert f"add it again with `orenv key add brief --lifetime {lifetime}s`" in out
        assert sh.var("ANTHROPIC_AUTH_TOKEN") is None
        assert int(_status_field(daemon, "VmLck").split()[0]) >= 4  # 'work' still locked

        out = sh.cd(proj)
        assert "orenv: loaded proj" in out
        assert sh.var("ANTHROPIC_AUTH_TOKEN") == sec.key

        # The daemon crashes: no core, and the keys are gone with it.
        os.kill(daemon, signal.SIGSEGV)
        deadline = time.monotonic() + 10
        while Path(f"/proc/{daemon}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        sh.cd(home.path)
        out = sh.cd(proj)
        assert ("orenv: key 'work' is no longer in memory (the orenv daemon stopped or the "
                "machine restarted") in out, out
        assert "add it again with `orenv key add work`" in out
        assert sh.var("ANTHROPIC_AUTH_TOKEN") is None
        gone = run_orenv(home, "token", cwd=helper)
        assert gone.returncode != 0 and "orenv key add work" in gone.stderr
        assert not sec.hits(gone.stdout + gone.stderr)
    finally:
        for s in shells:
            s.close()
        _stop_daemons(home)
    transcript = "".join(text for s in shells for _, text in s.transcript)
    assert "Traceback" not in transcript
    # Nothing on disk (the daemon's log included), in argv or in any other variable.
    log = home.state / "orenv" / "daemon.log"
    assert "memory_key_added" in log.read_text()
    assert scan_files(roots, sec, since=started) == []
    assert find_core_dumps([home.path, home.runtime, tmp_path]) == []
    core = Path("/core")  # core_pattern "core" and the daemon's working directory "/"
    assert not (core.exists() and core.stat().st_mtime >= started)
    assert proc_watch.argv_hits(sec) == []
    assert proc_watch.environ_hits(sec) == []


def test_the_daemon_keeps_a_memory_key_while_the_login_that_added_it_lives(
        headless: Home, secret_values: Secrets) -> None:
    """No shell registered, a linger of 1 s: the login session (its leader) that ran
    `orenv key add` keeps the daemon, and the key, until it ends (as ssh-agent lives
    with its login); then the daemon goes within its linger."""
    home = headless
    env = {"PATH": base_path(), "LANG": "C.UTF-8", **home.env, "ORENV_DAEMON_LINGER": "1"}
    # The login: a session leader whose child adds the key, then waits to be ended.
    login = subprocess.Popen(
        [sys.executable, "-c",
         "import subprocess, sys, time\n"
         "subprocess.run(['orenv', 'key', 'add', 'work'], input=sys.stdin.read(), text=True,"
         " check=True, capture_output=True)\n"
         "print('added', flush=True)\n"
         "time.sleep(600)\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
        start_new_session=True)
    try:
        assert login.stdin is not None and login.stdout is not None
        login.stdin.write(secret_values.key + "\n")
        login.stdin.close()
        assert login.stdout.readline().strip() == "added"
        daemon = _wait_daemon(home)
        time.sleep(4)  # four lingers, several ticks: still there, key and all
        assert Path(f"/proc/{daemon}").exists()
        listed = json.loads(run_orenv(home, "key", "list", "--json", check=True).stdout)
        assert any(k["name"] == "work" and k["store"] == "memory" for k in listed), listed
        login.kill()
        login.wait(10)
        deadline = time.monotonic() + 15
        while Path(f"/proc/{daemon}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not Path(f"/proc/{daemon}").exists(), "the daemon outlived the login"
    finally:
        if login.poll() is None:
            login.kill()
        _stop_daemons(home)
