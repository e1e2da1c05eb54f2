"""The daemon: answers export requests from memory, reloads shells live.

One per user (an ``flock`` on ``daemon.lock`` in the 0700 runtime directory
decides; a socket left by a killed daemon is replaced). Peers are checked with
``SO_PEERCRED``: another uid gets nothing. A connection carries one JSON
request line and gets one answer (``protocol``).

Cache: an ``Entry`` per (directory, merged variables) holds the computed
``Activation`` and the reference time shells get with it (``snapshot``: from
before its inputs were read); keys read from the keyring are cached by name.
A watchdog event that can change an answer (a ``.orenv.toml`` above a known
directory, the trust store, config, the global stamp ``orenv`` touches on
allow/deny/key set) bumps a generation, which invalidates the entries; a
refresh pass then recomputes each live shell's answer and touches
``sessions/PID.stamp`` when it differs, which that shell's hook sees at its
next prompt with a builtin ``-nt`` test.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import os
import signal
import socket
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]

from .. import __version__, paths, shells, snapshot
from .. import sessions as claude_sessions
from .._fsutil import atomic_write, touch_at
from ..activation import Activation, compute
from ..commands.export import render
from ..config import Config, load_config
from ..errors import OrenvError
from ..log import get_logger
from . import protocol
from .client import sun_path
from .fifo import Channels
from .fifo import allowed as fifo_allowed
from .memkeys import MemoryKeys
from .watcher import Watcher, ancestors

__all__ = ["Daemon", "DaemonBusyError"]

KEYRING_TIMEOUT = float(os.environ.get("ORENV_DAEMON_KEYRING_TIMEOUT", "0.4"))
DEFAULT_LINGER = 10.0
MAX_ENTRIES = 256
DEBOUNCE = 0.03
NOTICE_WAIT = 0.15  # seconds an answer may wait for the refresher's session scan
PROMPT_SCAN = 0.2  # seconds a reload the shell noticed first may spend finding claude sessions
TICK = 1.0
REF_FILES_KEPT = 8  # reference files per shell (see _session_files)
_SESSION_OK = frozenset("0123456789")


class DaemonBusyError(OrenvError):
    """Another daemon already holds the lock."""


@dataclasses.dataclass
class Entry:
    act: Activation
    ref: int  # the reference mtime for shells given act (see snapshot)
    gen: int
    complete: bool = True  # False: a key could not be read (not cached)
    settled: bool = True  # False: a watched file is as new as the read (not cached)


@dataclasses.dataclass
class Session:
    pid: int
    created: float
    shell: str
    cwd: str
    env: dict[str, str]
    sig: tuple[Any, ...] = ()
    ref_mtime: int | None = None
    stamp_mtime: int = 0
    key_gen: int = 0
    # (policy path, line): said once, with the shell's next answer in that project
    notice: tuple[str, str] | None = None
    # Set while the refresher looks for Claude Code sessions for this shell's
    # new answer: a shell asking meanwhile waits (bounded) to say the notice now.
    pending: threading.Event | None = None
    retell: bool = False  # the shell's own scan stopped early: the refresher says it
    ref_seq: int = 0  # the newest reference file is sessions/PID.rSEQ


def _cache_key(cwd: str, env: Mapping[str, Any]) -> tuple[str | None, ...]:
    """A cached answer depends on the directory and the variables a shell passes."""
    return (cwd, *(v if isinstance(v := env.get(k), str) else None
                   for k in protocol.ENV_PASSED if k != "ORENV_QUIET"))


def _signature(act: Activation) -> tuple[Any, ...]:
    return (tuple(sorted(act.env.items())), act.message, act.state)


def _proc_created(pid: int) -> float | None:
    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.Error, ValueError):
        return None


class _Scan:
    """Running Claude Code processes, looked up once per refresh pass when first asked."""

    __slots__ = ("complete", "deadline", "procs")

    def __init__(self, deadline: float = claude_sessions.SCAN_SECONDS) -> None:
        self.deadline = deadline
        self.procs: list[claude_sessions.Running] | None = None
        self.complete = True

    def get(self) -> list[claude_sessions.Running]:
        if self.procs is None:
            try:
                self.procs, self.complete = claude_sessions.scan(self.deadline)
            except Exception:  # psutil trouble: no notice, never a failed reload
                self.procs, self.complete = [], False
        return self.procs


class Daemon:
    def __init__(self, linger: float | None = None) -> None:
        self.linger = linger if linger is not None else float(
            os.environ.get("ORENV_DAEMON_LINGER", DEFAULT_LINGER))
        self.runtime = paths.ensure_runtime_dir()
        self.sessions_dir = paths.ensure_private_dir(self.runtime / "sessions")
        self.sock_path = protocol.socket_path(self.runtime)
        self.pid_path = protocol.pid_path(self.runtime)
        self.stamp = self.runtime / "stamp"
        self.started = time.time()
        self.lock = threading.Lock()
        self.gen = 0
        self.key_gen = 0
        self.cache: OrderedDict[tuple[str | None, ...], Entry] = OrderedDict()
        self.keys: dict[str, str] = {}
        # Keys added with `orenv key add`: in this process's memory only (memkeys).
        self.memory = MemoryKeys()
        self._peer = threading.local()  # the pid of the peer being served (SO_PEERCRED)
        self.config: tuple[int, Config | None] = (-1, None)
        self.sessions: dict[int, Session] = {}
        self.dirty = threading.Event()
        self.stopping = threading.Event()
        self.last_active = time.monotonic()
        self.stats = {"requests": 0, "hits": 0, "misses": 0, "reloads": 0, "refused": 0}
        self.log = get_logger(component="daemon", pid=os.getpid())
        self.watcher = Watcher(self._on_event)
        self.lock_fd = -1
        self.server: socket.socket | None = None
        self.sock_ino = 0
        # bash's FIFO channels: made in run(), once this daemon holds the lock
        # (making them clears a killed daemon's leftovers).
        self.channels: Channels | None = None
        self.bash_fifo = False
        self.keys_file = paths.data_dir() / "keys.json"
        self.stamp_seen = self._mtime(self.stamp)
        self.keys_seen = self._mtime(self.keys_file)

    # ------------------------------------------------------------ lifecycle

    def acquire(self) -> None:
        fd = os.open(protocol.lock_path(self.runtime), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                     0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise DaemonBusyError("the orenv daemon is already running") from None
        self.lock_fd = fd

    def bind(self) -> None:
        """Bind the socket (replacing a stale one: we hold the lock) and write the pid file."""
        with contextlib.suppress(FileNotFoundError):
            self.sock_path.unlink()
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            path, dir_fd = sun_path(str(self.sock_path))  # any length (see sun_path)
            try:
                srv.bind(path)
            finally:
                if dir_fd >= 0:
                    os.close(dir_fd)
        except OSError:
            srv.close()
            raise
        finally:
            os.umask(old)
        os.chmod(self.sock_path, 0o600)
        srv.listen(256)
        old_srv, self.server = self.server, srv
        if old_srv is not None:
            # Wakes the accept loop, which then takes the new socket.
            with contextlib.suppress(OSError):
                old_srv.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                old_srv.close()
        self.sock_ino = os.stat(self.sock_path).st_ino
        atomic_write(self.pid_path, f"{os.getpid()}\n".encode(), mode=0o600)

    def prewarm(self) -> None:
        """Read the indexed keys before taking requests.

        Until the socket exists shells use ``orenv export``, so nobody waits
        for this.
        """
        self.prefetch_keys()

    def prefetch_keys(self) -> None:
        """Read every indexed key into the cache (in the background: no one waits).

        Keys are read by a child process (``orenv.keyreader``): the daemon
        never loads the keyring library, a third of its memory otherwise.
        """
        from .. import secrets
        from ..keyreader import read_keys

        with self.lock:
            key_gen = self.key_gen
        names = [n for n, meta in secrets._read_index().items()
                 if secrets.store_of(meta) == "keyring"]
        answers = read_keys(sorted(names)[:32], timeout=3.0)
        got = {name: value for name, value in answers.items() if isinstance(value, str)}
        failed = {type(v).__name__ for v in answers.values() if isinstance(v, OrenvError)}
        with self.lock:
            if self.key_gen == key_gen:
                self.keys.update(got)
        self.log.info("keys_prefetched", keys=len(got), errors=sorted(failed))

    def run(self) -> int:
        self.acquire()
        self.channels = Channels(self.runtime, self._channel_answer, self._is_cached, self.log)
        # Only where no sandbox of the user's looks (see fifo.allowed).
        self.bash_fifo = fifo_allowed(self.runtime)
        # Shells fall back to `orenv export` until the socket exists.
        self.prewarm()
        try:
            self.bind()
        except OSError as exc:
            raise OrenvError(  # one line, no traceback
                f"cannot listen on {self.sock_path} ({exc.strerror or exc}); "
                "set XDG_RUNTIME_DIR to a short directory of your own") from None
        self.watcher.start()
        signal.signal(signal.SIGTERM, lambda *_: self.stop("sigterm"))
        signal.signal(signal.SIGINT, lambda *_: self.stop("sigint"))
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        for target, name in ((self._housekeeping, "orenv-tick"),
                             (self._refresher, "orenv-refresh"),
                             (self.channels.run, "orenv-chan")):
            threading.Thread(target=target, name=name, daemon=True).start()
        self.log.info("daemon_started", socket=str(self.sock_path), version=__version__,
                      linger=self.linger, bash_fifo=self.bash_fifo)
        try:
            self._accept_loop()
        finally:
            self._cleanup()
        return 0

    def stop(self, why: str) -> None:
        if self.stopping.is_set():
            return
        self.stopping.set()
        self.dirty.set()
        self.log.info("daemon_stopping", reason=why)
        srv = self.server
        if srv is not None:
            with contextlib.suppress(OSError):
                srv.shutdown(socket.SHUT_RDWR)

    def _cleanup(self) -> None:
        with contextlib.suppress(OSError):
            if self.server is not None:
                self.server.close()
        with contextlib.suppress(OSError):
            if os.stat(self.sock_path).st_ino == self.sock_ino:
                self.sock_path.unlink()
        with contextlib.suppress(OSError, ValueError):
            if int(self.pid_path.read_text().strip()) == os.getpid():
                self.pid_path.unlink()
        # Shells watching a stamp that is gone re-check once, then use the
        # daemon-less watch list.
        for pid in list(self.sessions):
            with contextlib.suppress(OSError):
                (self.sessions_dir / f"{pid}.stamp").unlink()
        if self.channels is not None:
            self.channels.close_all()
        self.watcher.stop()
        self.memory.clear()  # wiped: memory keys end with the daemon
        self.log.info("daemon_stopped", uptime_s=round(time.time() - self.started, 1))
        if self.lock_fd >= 0:
            os.close(self.lock_fd)

    def _accept_loop(self) -> None:
        while not self.stopping.is_set():
            srv = self.server
            assert srv is not None
            try:
                conn, _ = srv.accept()
            except OSError as exc:
                if self.stopping.is_set():
                    return
                if exc.errno in (errno.EINVAL, errno.EBADF):
                    time.sleep(0.05)  # rebinding (socket file was deleted)
                continue
            if not self._serve_cached(conn):
                threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    # ------------------------------------------------------------- requests

    def _peer_ok(self, conn: socket.socket) -> bool:
        try:
            creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                    struct.calcsize("3i"))
            pid, uid, _gid = struct.unpack("3i", creds)
        except OSError:
            return False
        if uid != os.getuid():
            self.stats["refused"] += 1
            self.log.warning("peer_refused", peer_uid=uid, peer_pid=pid)
            return False
        self._peer.pid = pid
        return True

    def _serve_cached(self, conn: socket.socket) -> bool:
        """Answer a cd into a cached directory right in the accept loop.

        Starting a thread costs about as much as the whole cached answer, so a
        request that is already complete and is a cache hit is answered here.
        Anything else (False) goes to a thread, with nothing read yet.
        """
        try:
            head = conn.recv(protocol.MAX_REQUEST, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except OSError:
            return False
        if not head.endswith(b"\n") or head.count(b"\n") != 1:
            return False
        try:
            req = protocol.decode(head[:-1])
        except (ValueError, UnicodeDecodeError):
            return False
        if not self._is_cached(req):
            return False
        with conn:
            if not self._peer_ok(conn):
                return True
            try:
                conn.recv(len(head))  # consume what was peeked
                conn.settimeout(2.0)
                conn.sendall(self.handle(req))
            except (OSError, ValueError, UnicodeDecodeError) as exc:
                self.log.info("request_failed", error=type(exc).__name__)
        return True

    def _is_cached(self, req: Mapping[str, Any]) -> bool:
        if req.get("op") != "export" or req.get("why") == "change":
            return False
        cwd, raw_env = req.get("cwd"), req.get("env") or {}
        if not isinstance(cwd, str) or not os.path.isabs(cwd) or not isinstance(raw_env, dict):
            return False
        key = _cache_key(os.path.normpath(cwd), raw_env)
        with self.lock:
            hit = self.cache.get(key)
            return hit is not None and hit.gen == self.gen

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            if not self._peer_ok(conn):
                return
            conn.settimeout(2.0)
            try:
                line = self._read_line(conn)
                req = protocol.decode(line)
                answer = self.handle(req)
                conn.sendall(answer)
            except (OSError, ValueError, UnicodeDecodeError) as exc:
                self.log.info("request_failed", error=type(exc).__name__)

    @staticmethod
    def _read_line(conn: socket.socket) -> bytes:
        buf = b""
        while b"\n" not in buf:
            data = conn.recv(65536)
            if not data:
                raise ValueError("connection closed before a full request")
            buf += data
            if len(buf) > protocol.MAX_REQUEST:
                raise ValueError("request too large")
        return buf.split(b"\n", 1)[0]

    def handle(self, req: Mapping[str, Any]) -> bytes:
        op = req.get("op")
        self.stats["requests"] += 1
        self.last_active = time.monotonic()
        if op == "export":
            nonce = req.get("end")
            try:
                code = self.export(req)
            except (OrenvError, ValueError, KeyError, TypeError) as exc:
                if nonce is not None:
                    return b""  # no end line: the hook falls back
                return protocol.encode({"ok": False, "error": str(exc)})
            if nonce is not None and protocol.valid_nonce(nonce):
                return (code + protocol.end_line(str(nonce))).encode("utf-8", "surrogateescape")
            return protocol.encode({"ok": True, "code": code})
        if op == "ping":
            return protocol.encode({"ok": True, "pid": os.getpid(), "version": __version__})
        if op == "status":
            return protocol.encode({"ok": True, **self.status()})
        if op == "invalidate":  # `orenv reload`: nothing cached survives
            self.invalidate("request", keys=True, drop=True)
            return protocol.encode({"ok": True})
        if op == "stop":
            threading.Timer(0.05, self.stop, args=("request",)).start()
            return protocol.encode({"ok": True, "pid": os.getpid()})
        if op in ("key-add", "key-get", "key-rm", "key-list"):
            return protocol.encode(self.memory_op(str(op), req))
        return protocol.encode({"ok": False, "error": f"unknown op {op!r}"})

    def export(self, req: Mapping[str, Any]) -> str:
        shell = shells.get(str(req["shell"]))
        cwd = req["cwd"]
        if not isinstance(cwd, str) or not os.path.isabs(cwd) or "\0" in cwd:
            raise ValueError("cwd must be an absolute path")
        raw_env = req.get("env") or {}
        env = {k: v for k, v in raw_env.items()
               if k in protocol.ENV_PASSED and isinstance(v, str)}
        # The shell saw a newer file: do not trust the cache, nor wait for
        # file events still on their way.
        fresh = req.get("why", "cd") == "change"
        if fresh:
            self._catch_up()
        session = str(req.get("session") or "")
        pid = int(session) if session and set(session) <= _SESSION_OK and len(session) <= 10 else 0
        # Both before the answer is computed: a live reload signalled
        # meanwhile leaves the session stamp newer than the shell's reference,
        # and an invalidation meanwhile makes the shell ask again.
        stamp_before = self._session_stamp_time(pid) if pid else 0
        with self.lock:
            gen = self.gen
        entry = self.entry(os.path.normpath(cwd), env, fresh=fresh)
        quiet = bool(env.get("ORENV_QUIET"))
        if not quiet:
            cfg = self._config()
            quiet = bool(cfg and cfg.quiet)
        act = entry.act
        ref = ""
        notice = None
        if pid:
            ref, sstamp, reloaded = self._session_files(pid, shell.name, cwd, env, entry,
                                                        fresh, stamp_before, gen)
            act = dataclasses.replace(act, watch=(*act.watch, sstamp))
            notice = self._notice_for(pid, act, reloaded=reloaded, fresh=fresh)
        code = render(shell, act, ref, quiet)
        if notice:
            code += shell.notice(notice)
        if (pid and req.get("fifo") and shell.name == "bash" and self.bash_fifo
                and self.channels is not None):
            # The client's answer names this shell's channel: its next requests
            # need no process (see fifo).
            chan = self.channels.open(pid)
            if chan is not None:
                code += shell.call("__orenv_chan", str(chan.req_path), str(chan.ans_path)) + "\n"
        return code

    def _channel_answer(self, pid: int, req: dict[str, Any]) -> str | None:
        """A request that came through bash's FIFO channel: its code, or None (fall back)."""
        self.stats["requests"] += 1
        self.last_active = time.monotonic()
        try:
            return self.export(req)
        except (OrenvError, ValueError, KeyError, TypeError, OSError) as exc:
            self.log.info("request_failed", error=type(exc).__name__, session=pid)
            return None

    def _notice_for(self, pid: int, act: Activation, *, reloaded: bool, fresh: bool
                    ) -> str | None:
        """The stale-sessions line to say with this answer, if any (said once)."""
        fresh_notice = None
        if reloaded:
            # The shell saw the change before the refresher did: say it now
            # (a bounded scan, on such a reload only, never at a plain cd).
            running = _Scan(PROMPT_SCAN)
            fresh_notice = self._stale_notice(act, running, read_keys=False)
            if not running.complete and fresh_notice is None:  # loaded: the refresher looks
                with self.lock:
                    if (sess := self.sessions.get(pid)) is not None:
                        sess.retell = True
                self.dirty.set()
        with self.lock:
            sess = self.sessions.get(pid)
            waiter = sess.pending if sess is not None else None
        if waiter is not None and fresh:
            # The refresher is looking for sessions for this very reload: wait a
            # little, well within the client's deadline (0.45 s); if it takes
            # longer, the notice comes with this shell's next answer.
            waiter.wait(NOTICE_WAIT)
        with self.lock:
            sess = self.sessions.get(pid)
            if sess is None:
                return fresh_notice
            pending, sess.notice = sess.notice, None
        here = act.policy.path if act.policy is not None and act.state == "active" else None
        # A notice for a project the shell has left is not said elsewhere.
        return fresh_notice or (pending[1] if pending and pending[0] == here else None)

    # ---------------------------------------------------------------- cache

    @staticmethod
    def _mtime(path: Path) -> int:
        try:
            return os.stat(path).st_mtime_ns
        except OSError:
            return 0

    def _config(self) -> Config | None:
        gen, cfg = self.config
        if gen == self.gen:
            return cfg
        try:
            cfg = load_config()
        except OrenvError:
            cfg = None  # compute() reloads it and reports the error
        self.config = (self.gen, cfg)
        return cfg

    def _catch_up(self) -> None:
        """Invalidate for key and trust changes whose file events are still on their way."""
        stamp, keys = self._mtime(self.stamp), self._mtime(self.keys_file)
        with self.lock:
            keys_changed = keys != self.keys_seen
            changed = keys_changed or stamp != self.stamp_seen
            self.keys_seen, self.stamp_seen = keys, stamp
        if changed:
            self.invalidate("keys_changed" if keys_changed else "stamp", keys=keys_changed)

    def entry(self, cwd: str, env: dict[str, str], *, fresh: bool = False,
              key_timeout: float | None = None) -> Entry:
        key = _cache_key(cwd, env)
        read_at = snapshot.read_time()  # before any input is read: see snapshot
        with self.lock:
            gen = self.gen
            hit = self.cache.get(key)
            if hit is not None and hit.gen == gen and not fresh:
                self.cache.move_to_end(key)
                self.stats["hits"] += 1
                return hit
        self.stats["misses"] += 1
        # Watch first, so an event during the computation is not lost.
        self.watcher.ensure(ancestors(cwd))
        failed: list[str] = []
        key_gen = self.key_gen

        def read_key(name: str) -> str:
            try:
                memory = self._memory_key(name)
            except OrenvError:
                failed.append(name)
                raise
            if memory is not None:
                return memory
            with self.lock:
                value = self.keys.get(name)
            if value is not None:
                return value
            from ..keyreader import read_key as read_out_of_process

            try:
                value = read_out_of_process(name, key_timeout or KEYRING_TIMEOUT)
            except BaseException:
                failed.append(name)
                raise
            with self.lock:
                if self.key_gen == key_gen:
                    self.keys[name] = value
            return value

        base = {k: v for k, v in env.items() if k != "ORENV_QUIET"}
        act = compute(cwd, base, read_key=read_key,
                      config=None if fresh else self._config())
        ref, settled = snapshot.reference(read_at, act.watch)
        new = Entry(act=act, ref=ref, gen=gen, complete=not failed, settled=settled)
        self.watcher.track(act.watch, act.absent)
        with self.lock:
            if not failed and settled and self.gen == gen:
                self.cache[key] = new
                self.cache.move_to_end(key)
                while len(self.cache) > MAX_ENTRIES:
                    self.cache.popitem(last=False)
        self.log.info("computed", cwd=cwd, state=act.state, fresh=fresh)
        return new

    def invalidate(self, why: str, *, keys: bool = False, path: str = "",
                   drop: bool = False) -> None:
        """Make every cached answer stale; *keys*: forget the keys read; *drop*: free it all."""
        with self.lock:
            self.gen += 1
            if keys:
                self.keys.clear()
                self.key_gen += 1
            if drop:
                self.cache.clear()
                self.config = (-1, None)
        self.log.info("invalidated", reason=why, path=path, keys=keys)
        self.dirty.set()

    def _on_event(self, path: str, kind: str) -> None:
        with self.lock:
            if kind == "keys":
                self.keys_seen = self._mtime(self.keys_file)
            elif path == str(self.stamp):
                self.stamp_seen = self._mtime(self.stamp)
        self.invalidate("file_event", keys=kind == "keys", path=path)

    # ------------------------------------------------------------- sessions

    def _session_stamp_time(self, pid: int) -> int:
        with self.lock:
            sess = self.sessions.get(pid)
            if sess is not None:
                return sess.stamp_mtime
        return self._mtime(self.sessions_dir / f"{pid}.stamp")

    def _session_files(self, pid: int, shell: str, cwd: str, env: dict[str, str],
                       entry: Entry, fresh: bool, stamp_before: int, gen: int
                       ) -> tuple[str, str, bool]:
        """Record the session's answer and set its reference file (see ``snapshot``).

        Also says whether this answer is a reload the shell noticed first (a
        changed answer for the same shell, asked because a file changed).
        """
        stamp = self.sessions_dir / f"{pid}.stamp"
        with self.lock:
            sess = self.sessions.get(pid)
        if sess is None:
            created = _proc_created(pid)
            sess = Session(pid=pid, created=created or 0.0, shell=shell, cwd=cwd, env=env,
                           key_gen=self.key_gen)
            try:
                sess.stamp_mtime = os.stat(stamp).st_mtime_ns
            except FileNotFoundError:
                touch_at(stamp, 0, mode=0o600)
            with self.lock:
                self.sessions[pid] = sess
        sess.cwd, sess.env, sess.shell = cwd, env, shell
        sig = _signature(entry.act)
        with self.lock:  # the refresher claims a changed answer under the lock too
            moved = self.gen != gen
            # Not for an answer older than an invalidation: it may predate the change.
            reloaded = fresh and not moved and bool(sess.sig) and sess.sig != sig
            sess.sig = sig
        # Invalidated before the session was recorded: the answer may predate
        # the change, and the refresher may have looked at the old record, so
        # the shell asks again at its next prompt. Invalidated later: the
        # refresher compares with this record and signals the shell.
        newest = 0 if moved else max(entry.ref, stamp_before)
        # A reference file of this answer's own when its time differs: an answer the
        # shell never got (it gave up waiting and asked `orenv export`, which keeps
        # `sessions/PID`) must not move the reference the shell compares with, or
        # the shell would miss a change made since. Older ones go; a shell holding
        # one of those reloads (a file is newer than a missing reference).
        with self.lock:
            if fresh or sess.ref_mtime != newest or not sess.ref_seq:
                sess.ref_seq += 1
                made = sess.ref_seq
            else:
                made = 0
            ref = self.sessions_dir / f"{pid}.r{sess.ref_seq}"
        if made:
            touch_at(ref, newest, mode=0o600)
            sess.ref_mtime = newest
            with contextlib.suppress(OSError):
                (self.sessions_dir / f"{pid}.r{made - REF_FILES_KEPT}").unlink()
        return str(ref), str(stamp), reloaded

    def _alive(self, sess: Session) -> bool:
        created = _proc_created(sess.pid)
        return created is not None and (not sess.created or abs(created - sess.created) < 1)

    def _refresher(self) -> None:
        while not self.stopping.is_set():
            self.dirty.wait()
            if self.stopping.is_set():
                return
            time.sleep(DEBOUNCE)
            self.dirty.clear()
            with self.lock:
                sessions = list(self.sessions.values())
                keys_gone = not self.keys
            if keys_gone and sessions:
                self.prefetch_keys()
            running = _Scan()  # at most one process scan per pass, only if needed
            for sess in sessions:
                self.refresh_session(sess, running)

    def refresh_session(self, sess: Session, running: _Scan | None = None) -> None:
        """Recompute one shell's answer; touch its session stamp if it changed."""
        try:
            entry = self.entry(sess.cwd, sess.env, key_timeout=2.0)
        except Exception as exc:  # keep serving the other shells
            self.log.warning("refresh_failed", error=type(exc).__name__)
            return
        if not entry.complete:
            return  # keyring trouble: the shell finds out on its own
        sig = _signature(entry.act)
        # Exec mode: a new key changes nothing in the shell, but a session
        # started with `orenv exec` still holds the old one.
        exec_mode = entry.act.policy is not None and entry.act.policy.mode == "exec"
        with self.lock:  # claimed here or by the shell's own reload, not both
            old, changed = sess.sig, sig != sess.sig
            key_moved, sess.key_gen = sess.key_gen != self.key_gen, self.key_gen
            retell, sess.retell = sess.retell, False
            if not changed and not retell and not (key_moved and exec_mode):
                return
            sess.sig = sig
            waiter = sess.pending = threading.Event()
        notice = None
        try:
            notice = self._stale_notice(entry.act, running or _Scan())
        finally:
            with self.lock:
                if notice and entry.act.policy is not None:
                    sess.notice = (entry.act.policy.path, notice)
                if sess.pending is waiter:
                    sess.pending = None
            waiter.set()
        if not notice and not changed:
            return
        # Strictly newer than any reference a shell was given.
        now = max(time.time_ns(), sess.stamp_mtime + 1)
        try:
            stamp = self.sessions_dir / f"{sess.pid}.stamp"
            touch_at(stamp, now, mode=0o600)
        except OSError:
            with self.lock:
                if sess.sig == sig:
                    sess.sig = old  # the next pass tries again
            return
        sess.stamp_mtime = now
        self.stats["reloads"] += 1
        self.log.info("session_reload", session=sess.pid, state=entry.act.state)

    def _stale_notice(self, act: Activation, running: _Scan, *, read_keys: bool = True
                      ) -> str | None:
        """The line for a shell whose answer changed: Claude Code sessions running
        in its project that started with the previous key or models (or None).

        *read_keys* False (a prompt is waiting): a key not in memory is not read.
        """
        policy = act.policy
        if act.state != "active" or policy is None:
            return None
        procs = running.get()
        if not procs:
            return None

        def key() -> str | None:
            if "ANTHROPIC_AUTH_TOKEN" in act.env:
                return act.env["ANTHROPIC_AUTH_TOKEN"]
            if policy.key is None:
                return None
            if (memory := self.memory.get(policy.key)) is not None:
                return memory
            with self.lock:
                value = self.keys.get(policy.key)
            if value is not None or not read_keys:
                return value
            from ..keyreader import read_key

            try:
                return read_key(policy.key, KEYRING_TIMEOUT)
            except Exception:  # keyring trouble: the key is not compared
                return None

        try:
            reports = claude_sessions.check(procs, policy, key=key)
        except Exception as exc:  # never in the way of a reload
            self.log.warning("sessions_check_failed", error=type(exc).__name__)
            return None
        stale = [r.pid for r in reports if r.state == "stale"]
        if stale:
            self.log.info("stale_sessions", pids=stale)
        return claude_sessions.notice(reports)

    def _housekeeping(self) -> None:
        idle_since: float | None = None
        while not self.stopping.wait(TICK):
            self._check_socket()
            self._expire_keys()
            with self.lock:
                sessions = list(self.sessions.values())
            for sess in sessions:
                if not self._alive(sess):
                    with self.lock:
                        self.sessions.pop(sess.pid, None)
                    names = [str(sess.pid), f"{sess.pid}.stamp",
                             *(f"{sess.pid}.r{n}" for n in range(
                                 max(1, sess.ref_seq - REF_FILES_KEPT), sess.ref_seq + 1))]
                    for name in names:
                        with contextlib.suppress(OSError):
                            (self.sessions_dir / name).unlink()
                    if self.channels is not None:
                        self.channels.close_pid(sess.pid)
                    self.log.info("session_gone", session=sess.pid)
            if self.watcher.too_many():
                with self.lock:
                    self.cache.clear()
                    self.gen += 1
                    keep = {d for s in self.sessions.values() for d in ancestors(s.cwd)}
                self.watcher.drop_dirs(keep)
            now = time.monotonic()
            if self.sessions or self._holders_alive() or now - self.last_active < self.linger:
                idle_since = None
                continue
            idle_since = idle_since or now
            if now - idle_since >= 0:
                self.stop("idle")
                return

    def _check_socket(self) -> None:
        try:
            if os.stat(self.sock_path).st_ino == self.sock_ino:
                return
        except FileNotFoundError:
            pass
        except OSError:
            return
        self.log.warning("socket_replaced", socket=str(self.sock_path))
        try:
            self.bind()
        except OSError as exc:
            self.log.error("rebind_failed", error=str(exc))
            self.stop("socket_lost")

    # ---------------------------------------------------------- memory keys

    def _memory_key(self, name: str) -> str | None:
        """Key *name* from memory; None when its store is the keyring (or it is unknown);
        raises SecretNotFoundError, saying how to add it again, when it was a memory key."""
        value = self.memory.get(name)
        if value is not None:
            return value
        from .. import memstore, secrets

        meta = secrets._read_index().get(name)
        if meta is not None and secrets.store_of(meta) == memstore.STORE:
            from ..errors import SecretNotFoundError

            raise SecretNotFoundError(memstore.gone_message(name, meta))
        return None

    def memory_op(self, op: str, req: Mapping[str, Any]) -> dict[str, Any]:
        """``key-add|key-get|key-rm|key-list`` from a peer of our uid (checked before).

        Nothing here is logged but the operation and the name: never a value.
        """
        from .. import secrets

        if op == "key-list":
            return {"ok": True, "keys": self.memory.listing()}
        name = req.get("name")
        if not isinstance(name, str):
            return {"ok": False, "error": "no key name"}
        try:
            secrets.validate_name(name)
        except OrenvError as exc:
            return {"ok": False, "error": exc.message}
        if op == "key-get":
            value = self.memory.get(name)
            if value is None:
                return {"ok": False, "code": "not-found",
                        "error": f"key {name!r} is not held in memory"}
            return {"ok": True, "value": value}
        if op == "key-rm":
            if not self.memory.remove(name):
                return {"ok": False, "code": "not-found",
                        "error": f"key {name!r} is not held in memory"}
            self.log.info("memory_key_removed", name=name)
            self._memory_changed()
            return {"ok": True}
        value, lifetime = req.get("value"), req.get("lifetime")
        if not isinstance(value, str) or not value or "\n" in value or "\0" in value:
            return {"ok": False, "error": "the key is empty or spans lines"}
        if lifetime is not None and (isinstance(lifetime, bool)
                                     or not isinstance(lifetime, int | float) or lifetime <= 0):
            return {"ok": False, "error": "invalid lifetime"}
        try:
            key = self.memory.add(name, value, masked=secrets.mask(value),
                                  lifetime=float(lifetime) if lifetime else None,
                                  holder=self._holder(), management=bool(req.get("management")))
        except (ValueError, OSError) as exc:
            return {"ok": False, "error": f"cannot hold the key in memory ({exc})"}
        self.log.info("memory_key_added", name=name, lifetime_s=lifetime, locked=key.secret.locked)
        self._memory_changed()
        return {"ok": True, "expires": key.expires, "locked": key.secret.locked}

    def _holder(self) -> tuple[int, float] | None:
        """The login session of the peer adding a key: the daemon (and the key) stays while
        it lives, as a registered shell keeps it."""
        pid = getattr(self._peer, "pid", 0)
        if not pid:
            return None
        try:
            sid = os.getsid(pid)
        except OSError:
            return None
        created = _proc_created(sid)
        return (sid, created) if created is not None else None

    def _holders_alive(self) -> bool:
        for pid, created in self.memory.holders():
            now = _proc_created(pid)
            if now is not None and abs(now - created) < 1:
                return True
        return False

    def _expire_keys(self) -> None:
        gone = self.memory.expire()
        if gone:
            self.log.info("memory_keys_expired", names=gone)
            self._memory_changed()

    def _memory_changed(self) -> None:
        """Answers holding a removed key are dropped; every shell asks again at its next prompt."""
        self.invalidate("memory_keys", drop=True)
        from .._fsutil import touch_stamp

        with contextlib.suppress(OSError, OrenvError):
            touch_stamp()

    # --------------------------------------------------------------- status

    def status(self) -> dict[str, Any]:
        proc = psutil.Process()
        with self.lock:
            shells_alive = [{"pid": s.pid, "shell": s.shell, "cwd": s.cwd}
                            for s in self.sessions.values()]
            cached = len(self.cache)
        return {
            "pid": os.getpid(),
            "version": __version__,
            "uptime_s": round(time.time() - self.started, 1),
            "shells": shells_alive,
            "rss_bytes": proc.memory_info().rss,
            "cpu_s": round(sum(proc.cpu_times()[:2]), 3),
            "threads": proc.num_threads(),
            "cached_dirs": cached,
            "memory_keys": len(self.memory),
            "bash_channels": self.channels.count() if self.channels is not None else 0,
            "watched_dirs": self.watcher.watched(),
            "socket": str(self.sock_path),
            **self.stats,
        }
