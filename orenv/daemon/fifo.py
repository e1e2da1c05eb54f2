"""FIFO channels: a bash shell asks the daemon with builtins, no process per cd.

bash cannot open a Unix socket. A bash session's first request goes through
the client (``client.py``), which checks the runtime directory's mode and the
daemon's uid; the daemon's answer then names a channel made for that shell
alone: two FIFOs, mode 0600, in ``chan/`` of the private runtime directory.
Later requests are one ``printf`` into ``NAME.req`` and a ``read -t`` from
``NAME.ans``, each opened by the shell for that request only (so no command
the shell runs inherits them).

Request: NUL-separated fields ``o1 NONCE WHY CWD NAME=VALUE...`` ended by an
empty field (a path or value holds no NUL). Answer: ``#orenv NONCE ok LEN`` or
``#orenv NONCE fail 0`` on a line, then LEN bytes of shell code. A frame is
written whole or the channel is closed, so a half frame is never followed by
another; one of up to PIPE_BUF bytes arrives at once (a single write into an
empty pipe), which lets the shell wait with a timeout for its first byte only.
The shell drops the channel on any trouble and its next request goes through
the client again, which makes a new one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import select
import selectors
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import paths
from . import protocol

__all__ = ["MAX_CHANNELS", "Channel", "Channels", "parse_requests"]

MAX_CHANNELS = 256
MAX_PENDING = 64 * 1024  # bytes of unparsed requests a channel may hold
WRITE_DEADLINE = 0.5  # seconds a frame may take to go out (the shell reads as it comes)
MAGIC = b"o1"


class Channel:
    __slots__ = ("ans_fd", "ans_path", "buf", "closed", "name", "pid", "req_fd", "req_path",
                 "wlock")

    def __init__(self, pid: int, name: str, req_path: Path, ans_path: Path,
                 req_fd: int, ans_fd: int) -> None:
        self.pid = pid
        self.name = name
        self.req_path = req_path
        self.ans_path = ans_path
        self.req_fd = req_fd
        self.ans_fd = ans_fd
        self.buf = bytearray()
        self.closed = False
        self.wlock = threading.Lock()


def parse_requests(buf: bytearray) -> list[list[bytes]]:
    """Complete requests taken from the front of *buf* (each a list of fields).

    A request is fields ended by an empty field. Anything not starting with the
    magic field is garbage from a confused writer: the caller closes the channel
    (ValueError), as it does for a request that never ends.
    """
    out: list[list[bytes]] = []
    while True:
        end = buf.find(b"\0\0")
        if end < 0:
            if buf and not MAGIC.startswith(bytes(buf[:len(MAGIC)])):
                raise ValueError("not a request")
            return out
        fields = bytes(buf[:end]).split(b"\0")
        del buf[:end + 2]
        if fields[0] != MAGIC or len(fields) < 4:
            raise ValueError("not a request")
        out.append(fields[1:])


class Channels:
    """The daemon's bash channels: made on request, read by one selector thread."""

    def __init__(self, runtime: Path, answer: Callable[[int, dict[str, Any]], str | None],
                 cached: Callable[[dict[str, Any]], bool], log: Any) -> None:
        self.dir = paths.ensure_private_dir(runtime / "chan")
        # A killed daemon's channels: the shells holding their names drop them.
        for leftover in os.listdir(self.dir):
            with contextlib.suppress(OSError):
                os.unlink(self.dir / leftover)
        self.answer = answer
        self.cached = cached
        self.log = log
        self.lock = threading.Lock()
        self.by_pid: dict[int, Channel] = {}
        self.by_fd: dict[int, Channel] = {}
        self.sel = selectors.DefaultSelector()
        self.wake_r, self.wake_w = os.pipe()  # pipe2 is Linux-only; os.pipe is CLOEXEC
        for fd in (self.wake_r, self.wake_w):
            os.set_blocking(fd, False)
        self.sel.register(self.wake_r, selectors.EVENT_READ)
        self.stopped = threading.Event()

    # ------------------------------------------------------------ lifecycle

    def open(self, pid: int) -> Channel | None:
        """A new channel for shell *pid* (replacing its old one), or None (too many)."""
        self.close_pid(pid)
        with self.lock:
            if len(self.by_pid) >= MAX_CHANNELS or self.stopped.is_set():
                return None
        name = f"b{pid}-{secrets.token_hex(6)}"
        req_path, ans_path = self.dir / f"{name}.req", self.dir / f"{name}.ans"
        fds: list[int] = []
        try:
            for path in (req_path, ans_path):
                os.mkfifo(path, 0o600)
                # Read-write: opening never blocks, and writes to the answer FIFO
                # never fail for want of a reader between two requests.
                fds.append(os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC))
        except OSError as exc:
            for fd in fds:
                os.close(fd)
            for path in (req_path, ans_path):
                with contextlib.suppress(OSError):
                    path.unlink()
            self.log.warning("channel_failed", error=exc.strerror or str(exc))
            return None
        chan = Channel(pid, name, req_path, ans_path, fds[0], fds[1])
        with self.lock:
            self.by_pid[pid] = chan
            self.by_fd[chan.req_fd] = chan
        self.sel.register(chan.req_fd, selectors.EVENT_READ)
        self._wake()
        return chan

    def close_pid(self, pid: int) -> None:
        with self.lock:
            chan = self.by_pid.get(pid)
        if chan is not None:
            self._close(chan)

    def _close(self, chan: Channel) -> None:
        with self.lock:
            if chan.closed:
                return
            chan.closed = True
            if self.by_pid.get(chan.pid) is chan:
                del self.by_pid[chan.pid]
            self.by_fd.pop(chan.req_fd, None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.sel.unregister(chan.req_fd)
        for path in (chan.req_path, chan.ans_path):
            with contextlib.suppress(OSError):
                path.unlink()
        with chan.wlock:  # not while a frame is being written
            for fd in (chan.req_fd, chan.ans_fd):
                with contextlib.suppress(OSError):
                    os.close(fd)

    def close_all(self) -> None:
        self.stopped.set()
        with self.lock:
            chans = list(self.by_pid.values())
        for chan in chans:
            self._close(chan)
        self._wake()

    def count(self) -> int:
        with self.lock:
            return len(self.by_pid)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self.wake_w, b"x")

    # -------------------------------------------------------------- serving

    def run(self) -> None:
        """The selector loop (one thread) until ``close_all``."""
        while not self.stopped.is_set():
            try:
                events = self.sel.select(timeout=1.0)
            except OSError:  # a fd closed under us: look again
                time.sleep(0.01)
                continue
            for key, _ in events:
                if key.fd == self.wake_r:
                    with contextlib.suppress(OSError):
                        while os.read(self.wake_r, 4096):
                            pass
                    continue
                with self.lock:
                    chan = self.by_fd.get(int(key.fd))
                if chan is not None:
                    self._read(chan)
        with contextlib.suppress(OSError):
            self.sel.close()
        for fd in (self.wake_r, self.wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _read(self, chan: Channel) -> None:
        try:
            data = os.read(chan.req_fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            self._close(chan)
            return
        chan.buf += data
        try:
            requests = parse_requests(chan.buf)
            if len(chan.buf) > MAX_PENDING:
                raise ValueError("request too large")
        except ValueError:
            self.log.info("channel_garbage", session=chan.pid)
            self._close(chan)
            return
        for fields in requests:
            self._dispatch(chan, fields)

    def _dispatch(self, chan: Channel, fields: list[bytes]) -> None:
        try:
            nonce = fields[0].decode("ascii")
            why = fields[1].decode("ascii")
            cwd = os.fsdecode(fields[2])
            env: dict[str, str] = {}
            for item in fields[3:]:
                name, sep, value = os.fsdecode(item).partition("=")
                if sep and name in protocol.ENV_PASSED:
                    env[name] = value
        except (UnicodeDecodeError, IndexError):
            self._close(chan)
            return
        if not protocol.valid_nonce(nonce) or why not in ("cd", "change"):
            self._close(chan)
            return
        req = {"op": "export", "shell": "bash", "session": str(chan.pid), "why": why,
               "cwd": cwd, "env": env}
        if self.cached(req):
            self._serve(chan, nonce, req)  # as the socket's accept loop does: no thread
        else:
            threading.Thread(target=self._serve, args=(chan, nonce, req), daemon=True,
                             name="orenv-chan").start()

    def _serve(self, chan: Channel, nonce: str, req: dict[str, Any]) -> None:
        code = self.answer(chan.pid, req)
        body = b"" if code is None else code.encode("utf-8", "surrogateescape")
        head = f"#orenv {nonce} {'fail' if code is None else 'ok'} {len(body)}\n"
        self._write(chan, head.encode("ascii") + body)

    def _write(self, chan: Channel, frame: bytes) -> None:
        """The whole frame, or the channel is closed (the shell then drops it too)."""
        with chan.wlock:
            if chan.closed:
                return
            view = memoryview(frame)
            deadline = time.monotonic() + WRITE_DEADLINE
            ok = True
            while view:
                try:
                    view = view[os.write(chan.ans_fd, view):]
                except BlockingIOError:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        ok = False
                        break
                    poller = select.poll()
                    poller.register(chan.ans_fd, select.POLLOUT)
                    poller.poll(int(left * 1000) + 1)
                except OSError as exc:
                    ok = exc.errno == errno.EINTR
                    if not ok:
                        break
        if not ok:
            self.log.info("channel_stuck", session=chan.pid)
            self._close(chan)
