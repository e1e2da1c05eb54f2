"""Daemon lifecycle: start/stop/status, idle exit, stale sockets, peer uid."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

from .conftest import KEY, DaemonCtl, daemon_procs, env_of


def test_start_status_stop_leaves_nothing(dctl: DaemonCtl) -> None:
    pid = dctl.start()
    assert dctl.sock.is_socket()
    assert (dctl.sock.stat().st_mode & 0o777) == 0o600
    assert (dctl.rt.stat().st_mode & 0o777) == 0o700
    st = dctl.status()
    assert st["running"] and st["pid"] == pid
    assert st["rss_bytes"] > 0 and st["uptime_s"] >= 0 and st["shells"] == []
    text = dctl.orenv("daemon", "status").stdout
    assert f"pid {pid}" in text and "uptime:" in text and "MiB RSS" in text and "shells:" in text
    # A second start is a no-op: one daemon per user.
    assert dctl.start() == pid
    assert [p.pid for p in daemon_procs(dctl.home.runtime)] == [pid]
    dctl.orenv("daemon", "stop")
    assert not dctl.sock.exists() and not dctl.pidfile.exists()
    assert daemon_procs(dctl.home.runtime) == []
    assert dctl.orenv("daemon", "status", check=False).returncode != 0


def test_run_refuses_a_second_instance(dctl: DaemonCtl) -> None:
    pid = dctl.start()
    second = dctl.orenv("daemon", "run", check=False, timeout=20)
    assert second.returncode == 0 and "already running" in second.stderr
    assert dctl.pid() == pid and dctl.status()["running"]


def test_exits_alone_when_no_shell_is_left(dctl: DaemonCtl) -> None:
    dctl.home.env["ORENV_DAEMON_LINGER"] = "0.5"
    pid = dctl.start()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(p.pid == pid for p in daemon_procs(
            dctl.home.runtime)):
        time.sleep(0.1)
    assert not any(p.pid == pid for p in daemon_procs(dctl.home.runtime))
    assert not dctl.sock.exists() and not dctl.pidfile.exists()
    log = (dctl.home.state / "orenv" / "daemon.log").read_text()
    assert '"reason": "idle"' in log


def test_stale_socket_of_killed_daemon_is_replaced(dctl: DaemonCtl) -> None:
    pid = dctl.start()
    os.kill(pid, signal.SIGKILL)
    dctl.wait_for(lambda: not daemon_procs(dctl.home.runtime), 5, "daemon dead")
    assert dctl.sock.exists()  # left behind by the kill
    assert not dctl.status()["running"]
    new = dctl.start()
    assert new != pid and dctl.status()["pid"] == new


def test_deleted_socket_is_recreated(dctl: DaemonCtl) -> None:
    pid = dctl.start()
    dctl.sock.unlink()
    dctl.wait_for(lambda: dctl.sock.exists(), 5, "socket recreated")
    assert dctl.status()["pid"] == pid


def test_stop_kills_a_hung_daemon(dctl: DaemonCtl) -> None:
    pid = dctl.start()
    os.kill(pid, signal.SIGSTOP)
    try:
        start = time.monotonic()
        dctl.orenv("daemon", "stop", timeout=20)
        assert time.monotonic() - start < 15
        assert not daemon_procs(dctl.home.runtime)
        assert not dctl.sock.exists()
    finally:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


def test_other_uid_gets_nothing(dctl: DaemonCtl) -> None:
    """A peer with another uid is refused even when it can reach the socket."""
    if os.getuid() != 0:
        import pytest

        pytest.skip("needs root to act as another uid")
    dctl.start()
    nobody = 65534
    probe = (
        "import os,socket,sys\n"
        "s=socket.socket(socket.AF_UNIX)\n"
        "s.settimeout(3)\n"
        "path=sys.argv[1]\n"
        "try:\n"
        "    if len(path)>100:  # a long TMPDIR: through the directory, as orenv does\n"
        "        fd=os.open(os.path.dirname(path),os.O_PATH|os.O_DIRECTORY)\n"
        "        path=f'/proc/self/fd/{fd}/'+os.path.basename(path)\n"
        "    s.connect(path)\n"
        "except OSError as e:\n"
        "    print('connect-failed', e.errno); sys.exit(0)\n"
        "try:\n"
        "    s.sendall(b'{\"op\": \"status\"}\\n')\n"
        "except OSError:\n"
        "    pass  # refused and closed before the request was sent\n"
        "data=b''\n"
        "while True:\n"
        "    try:\n"
        "        c=s.recv(4096)\n"
        "    except OSError:\n"
        "        break\n"
        "    if not c: break\n"
        "    data+=c\n"
        "print('got', len(data))\n"
    )
    as_nobody = ["setpriv", f"--reuid={nobody}", f"--regid={nobody}", "--clear-groups",
                 "/usr/bin/python3", "-I", "-S", "-c", probe]
    # 1. Through the real path: the 0700 directory keeps it out.
    out = subprocess.run([*as_nobody, str(dctl.sock)], capture_output=True, text=True,
                         timeout=20)
    assert out.stdout.startswith("connect-failed"), out
    # 2. Past the directory and the socket's mode (nobody with the capabilities
    #    to read and write anything, wherever TMPDIR lives): SO_PEERCRED still
    #    refuses, and nothing is answered.
    caps = "+dac_override,+dac_read_search"
    past = ["setpriv", f"--reuid={nobody}", f"--regid={nobody}", "--clear-groups",
            f"--inh-caps={caps}", f"--ambient-caps={caps}",
            "/usr/bin/python3", "-I", "-S", "-c", probe]
    out = subprocess.run([*past, str(dctl.sock)], capture_output=True, text=True, timeout=20)
    assert out.stdout.strip() == "got 0", out
    log = (dctl.home.state / "orenv" / "daemon.log").read_text()
    assert '"event": "peer_refused"' in log and f'"peer_uid": {nobody}' in log
    # The owner still gets answers.
    from orenv.daemon.client import request

    assert request(str(dctl.sock), {"op": "ping"})["ok"] is True


def test_doctor_reports_daemon_health(keyed: DaemonCtl) -> None:
    def daemon_finding() -> dict[str, str]:
        out = keyed.orenv("doctor", "--json", check=False).stdout
        return next(f for f in json.loads(out)["findings"] if f["code"].startswith("daemon"))

    assert daemon_finding()["code"] == "daemon-down"
    pid = keyed.start()
    found = daemon_finding()
    assert found["code"] == "daemon-running" and f"pid {pid}" in found["message"]


def test_daemon_inherits_no_secret_or_policy_variable(keyed: DaemonCtl) -> None:
    """Started from inside an active project, the daemon must not carry its values."""
    user_key = "sk-ant-api03-user-own-value"
    applied = {"ANTHROPIC_AUTH_TOKEN": KEY, "ANTHROPIC_API_KEY": "", "WHICH": "proj",
               "ORENV_ACTIVE": "/x/.orenv.toml",
               "ORENV_VARS": "ANTHROPIC_AUTH_TOKEN ANTHROPIC_API_KEY WHICH ORENV_ACTIVE"}
    keyed.home.env.update(applied)
    keyed.home.env["CLAUDE_CODE_EXTRA_BODY"] = "{}"
    keyed.home.env["OTHER_USER_VAR"] = "kept"
    try:
        pid = keyed.start()
    finally:
        for k in [*applied, "CLAUDE_CODE_EXTRA_BODY", "OTHER_USER_VAR"]:
            keyed.home.env.pop(k, None)
    env = env_of(pid)
    assert env.get("OTHER_USER_VAR") == "kept"
    for name in (*applied, "CLAUDE_CODE_EXTRA_BODY"):
        assert name not in env, name
    blob = "\0".join(f"{k}={v}" for k, v in env.items())
    assert KEY not in blob and user_key not in blob
