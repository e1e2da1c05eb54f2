"""`orenv daemon start|stop|status|run`: the per-user background daemon.

The hook starts it on demand (``orenv daemon start --quiet`` in the
background); it exits by itself a while after the last shell it served is
gone. Without it everything still works through ``orenv export``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from typing import Any

from .. import paths
from ..daemon import protocol
from ..daemon.client import request
from ..errors import ExitCode, OrenvError
from ._common import print_json, say

__all__ = ["ensure_running", "ping", "register"]


def _sock() -> str:
    return str(protocol.socket_path(paths.runtime_dir()))


def ping(timeout: float = 1.0) -> dict[str, Any] | None:
    try:
        answer = request(_sock(), {"op": "ping"}, timeout=timeout)
    except (OSError, ValueError):
        return None
    return answer if answer.get("ok") else None


def _pidfile_pid() -> int | None:
    try:
        return int(protocol.pid_path(paths.runtime_dir()).read_text().strip())
    except (OSError, ValueError):
        return None


def _is_our_daemon(pid: int) -> bool:
    import psutil  # type: ignore[import-untyped]

    try:
        cmd = psutil.Process(pid).cmdline()
    except psutil.Error:
        return False
    return "daemon" in cmd and "run" in cmd and any("orenv" in c for c in cmd)


def run_run(args: argparse.Namespace) -> int:
    from .. import log
    from ..daemon.server import Daemon, DaemonBusyError

    # Started by hand from an active shell: keep it out of the children at least.
    keep = daemon_environment(os.environ)
    for name in [k for k in os.environ if k not in keep]:
        del os.environ[name]
    log.configure(to_file=not args.foreground_log)
    try:
        return Daemon(linger=args.linger).run()
    except DaemonBusyError as exc:
        if not args.quiet:
            say(f"orenv: {exc.message}", file=sys.stderr)
        return 0


# The daemon outlives the shell that starts it, often from inside an active
# project: it must not inherit the key, a user's own API key, or anything else
# a policy set. It needs none of them (requests carry what they need).
_NOT_INHERITED = ("ANTHROPIC_", "CLAUDE_", "OPENROUTER_")


def daemon_environment(env: Mapping[str, str]) -> dict[str, str]:
    """*env* without what orenv applied and without Claude Code/OpenRouter settings."""
    applied = set(env.get("ORENV_VARS", "").split())
    return {k: v for k, v in env.items()
            if k not in applied and not k.startswith(_NOT_INHERITED)
            and k not in ("ORENV_ACTIVE", "ORENV_PROFILE", "ORENV_STATE", "ORENV_MODE",
                          "ORENV_VARS")}


def run_start(args: argparse.Namespace) -> int:
    found = ping()
    if found:
        if not args.quiet:
            say(f"orenv daemon running (pid {found['pid']})")
        return 0
    paths.ensure_runtime_dir()
    cmd = [sys.executable, "-m", "orenv", "daemon", "run", "--quiet"]
    if args.linger is not None:
        cmd += ["--linger", str(args.linger)]
    with open(os.devnull, "r+b") as null:
        subprocess.Popen(cmd, stdin=null, stdout=null, stderr=null, cwd="/",
                         start_new_session=True, close_fds=True,
                         env=daemon_environment(os.environ))
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline:
        found = ping(0.5)
        if found:
            if not args.quiet:
                say(f"orenv daemon started (pid {found['pid']})")
            return 0
        time.sleep(0.02)
    if args.wait > 0:
        raise OrenvError("the daemon did not come up; see `orenv daemon run` for the error")
    return 0


def ensure_running(wait: float = 5.0) -> None:
    """Start the daemon unless it answers already (as the hooks do); raises if it cannot."""
    run_start(argparse.Namespace(quiet=True, linger=None, wait=wait))
    if not ping(1.0):
        raise OrenvError("the orenv daemon did not come up; see `orenv daemon run` for the error")


def run_stop(args: argparse.Namespace) -> int:
    pid = None
    with contextlib.suppress(OSError, ValueError):
        answer = request(_sock(), {"op": "stop"}, timeout=1.0)
        pid = int(answer.get("pid") or 0) or None
    pid = pid or _pidfile_pid()
    if pid is None or not _is_our_daemon(pid):
        if not args.quiet:
            say("orenv daemon not running")
        return 0
    import psutil

    try:
        proc = psutil.Process(pid)
        try:
            proc.wait(timeout=2)
        except psutil.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=2)
            except psutil.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=2)
                # It could not clean up: remove what it left.
                for p in (protocol.socket_path(paths.runtime_dir()),
                          protocol.pid_path(paths.runtime_dir())):
                    with contextlib.suppress(OSError):
                        p.unlink()
    except psutil.NoSuchProcess:
        pass
    if not args.quiet:
        say(f"orenv daemon stopped (pid {pid})")
    return 0


def _fmt_uptime(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s" if s >= 3600 else (
        f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{seconds:.1f}s")


def run_status(args: argparse.Namespace) -> int:
    try:
        st = request(_sock(), {"op": "status"}, timeout=1.0)
    except (OSError, ValueError):
        st = {}
    if not st.get("ok"):
        if args.json:
            print_json({"running": False, "socket": _sock()})
        else:
            say("orenv daemon: not running (the hook starts it on the next cd)")
        return int(ExitCode.DAEMON)
    st.pop("ok", None)
    if args.json:
        print_json({"running": True, **st})
        return 0
    say(f"orenv daemon: running (pid {st['pid']}, version {st['version']})")
    say(f"uptime:    {_fmt_uptime(float(st['uptime_s']))}")
    say(f"memory:    {st['rss_bytes'] / 1048576:.1f} MiB RSS, {st['threads']} threads, "
          f"cpu {st['cpu_s']} s")
    say(f"shells:    {len(st['shells'])}")
    for s in st["shells"]:
        say(f"  {s['pid']:>7}  {s['shell']:<4}  {s['cwd']}")
    say(f"cache:     {st['cached_dirs']} dirs, {st['watched_dirs']} watches, "
          f"{st['hits']} hits, {st['misses']} misses, {st['reloads']} live reloads")
    say(f"socket:    {st['socket']}"
        + (f" (and {st['bash_channels']} bash FIFO channels)" if st.get("bash_channels") else ""))
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("daemon", help="the background daemon (fast cd, live reload)")
    ds = p.add_subparsers(dest="daemon_command", metavar="ACTION")
    s = ds.add_parser("start", help="start it in the background (no-op if running)")
    s.add_argument("--quiet", action="store_true",
                   help="print nothing (the hook starts it this way)")
    s.add_argument("--wait", type=float, default=3.0, help="seconds to wait for it (0: none)")
    s.add_argument("--linger", type=float, default=None,
                   help="seconds to stay up with no live shell")
    s.set_defaults(func=run_start)
    st = ds.add_parser("stop", help="stop it")
    st.add_argument("--quiet", action="store_true", help="print nothing")
    st.set_defaults(func=run_stop)
    ss = ds.add_parser("status", help="pid, uptime, shells, memory")
    ss.add_argument("--json", action="store_true", help="machine-readable output")
    ss.set_defaults(func=run_status)
    r = ds.add_parser("run", help="run in the foreground (what `start` launches)")
    r.add_argument("--quiet", action="store_true",
                   help="say nothing when another daemon already runs")
    r.add_argument("--linger", type=float, default=None,
                   help="seconds to stay up with no live shell")
    r.add_argument("--foreground-log", action="store_true", help="log to stderr, not the file")
    r.set_defaults(func=run_run)

    def no_action(_: argparse.Namespace) -> int:
        p.print_help(sys.stderr)
        return int(ExitCode.USAGE)

    p.set_defaults(func=no_action)
