"""FIFO channels: a bash shell asks the daemon with builtins, no process per cd.

bash cannot open a Unix socket. A bash session's first request goes through
the client (``client.py``), which checks the runtime directory's mode and the
daemon's uid; the daemon's answer then names a channel made for that shell
alone: two FIFOs, mode 0600, in ``chan/`` of the private runtime directory.
Later requests are one ``printf`` into ``NAME.req`` and a ``read -t`` from
``NAME.ans``, each opened by the shell for that request only (so no command
the shell runs inherits them).

A FIFO has no peer credentials: whoever can open it can read a request (and
its nonce) and write an answer. Permissions keep other users out; a sandbox
of the user's own (Claude Code's Bash tool runs in one) must not see the
directory either, or a command in it could answer in the daemon's place and
have the shell run its code. So channels are offered only where sandboxes do
not look (``allowed``): the runtime directory in ``$XDG_RUNTIME_DIR`` under
``/run`` (pam_systemd's ``/run/user/UID``, which Claude Code's sandbox shows
empty), or where the user says so with ``ORENV_BASH_FIFO=1``. Elsewhere (a
runtime directory under ``/tmp`` or the state directory) bash keeps the client.

Request: NUL-separated fields ``o1 NONCE WHY CWD NAME=VALUE...`` ended by an
empty field (a path or value holds no NUL). Answer: ``#orenv NONCE STATUS LEN``
on a line, then LEN bytes of shell code. STATUS ``ok``: the whole frame went
into the pipe in one write of at most PIPE_BUF bytes (atomic), so once its
first byte is there all of it is, and the shell reads it without a timeout (a
timeout costs bash a select per byte); ``big``: a larger frame, which the
shell reads with timeouts; ``fail``: fall back to ``orenv export``. A frame is
written whole or the channel is closed, so half a frame is never followed by
another; the shell drops the channel on any trouble and its next request goes
through the client again, which makes a new one. A closed channel's FIFOs are
replaced, atomically, by links to /dev/null (removed a little later): a shell
that checked a FIFO a moment before then writes nowhere, and never creates a
regular file holding its request.
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
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .. import paths
from . import protocol

__all__ = ["MAX_ANSWER", "MAX_CHANNELS", "Channel", "Channels", "allowed", "parse_requests"]

MAX_CHANNELS = 256
MAX_PENDING = 64 * 1024  # bytes of unparsed requests a channel may hold
MAX_ANSWER = 60 * 1024  # bigger answers: "fail", the shell asks `orenv export`
WRITE_DEADLINE = 0.5  # seconds a big frame may take to go out (the shell reads as it comes)
TOMBSTONE_SECONDS = 2.0  # how long a closed channel's /dev/null links stay
PIPE_BUF = getattr(select, "PIPE_BUF", 512)
MAGIC = b"o1"


def allowed(runtime: Path, environ: Mapping[str, str] | None = None) -> bool:
    """Whether bash may use FIFO channels in *runtime* (see the module's docstring)."""
    env = os.environ if environ is None else environ
    setting = env.get("ORENV_BASH_FIFO", "")
    if setting in ("0", "1"):
        return setting == "1"
    xdg = env.get("XDG_RUNTIME_DIR", "")
    if not xdg or not os.path.isabs(xdg):
        return False
    real = os.path.realpath(xdg)
    return (real.startswith("/run/")
            and os.path.realpath(runtime) == os.path.join(real, "orenv"))


class Channel:
    __slots__ = ("ans_fd", "ans_path", "buf", "busy", "closed", "name", "pid", "req_fd",
                 "req_path", "rlock", "wlock")

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
        self.busy = False  # a shell asks one thing at a time
        self.wlock = threading.Lock()  # writing a frame
        self.rlock = threading.Lock()  # reading, and closing the fds (numbers get reused)


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
        self.tombstones: list[tuple[float, Path]] = []
        self.sel = selectors.DefaultSelector()
        self.wake_r, self.wake_w = os.pipe()  # pipe2 is Linux-only; os.pipe is CLOEXEC
        for fd in (self.wake_r, self.wake_w):
            os.set_blocking(fd, False)
        self.sel.register(self.wake_r, selectors.EVENT_READ)
        self.stopped = threading.Event()

    # ------------------------------------------------------------ lifecycle

    def open(self, pid: int) -> Channel | None:
        """A new channel for shell *pid* (replacing its old one), or None (too many)."""
        self._bury()
        with self.lock:
            if len(self.by_pid) >= MAX_CHANNELS or self.stopped.is_set():
                return None
        name = f"b{pid}-{secrets.token_hex(8)}"
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
            old = self.by_pid.get(pid)
            self.by_pid[pid] = chan
            self.by_fd[chan.req_fd] = chan
        if old is not None:
            self._close(old)
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
            if self.by_fd.get(chan.req_fd) is chan:
                del self.by_fd[chan.req_fd]
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.sel.unregister(chan.req_fd)
        for path in (chan.req_path, chan.ans_path):
            self._tombstone(path)
        with chan.wlock, chan.rlock:  # not while a frame is written or a request read
            for fd in (chan.req_fd, chan.ans_fd):
                with contextlib.suppress(OSError):
                    os.close(fd)

    def _tombstone(self, path: Path) -> None:
        """Replace *path* by a link to /dev/null at once (never a moment without a name:
        bash's `1<>` would create a regular file there)."""
        link = path.with_name(path.name + ".x")
        try:
            with contextlib.suppress(FileNotFoundError):
                link.unlink()
            link.symlink_to(os.devnull)
            os.replace(link, path)
        except OSError:
            with contextlib.suppress(OSError):
                path.unlink()
            return
        with self.lock:
            self.tombstones.append((time.monotonic(), path))

    def _bury(self) -> None:
        """Remove the /dev/null links of channels closed a while ago."""
        now = time.monotonic()
        with self.lock:
            old = [p for t, p in self.tombstones if now - t >= TOMBSTONE_SECONDS]
            self.tombstones = [(t, p) for t, p in self.tombstones
                               if now - t < TOMBSTONE_SECONDS]
        for path in old:
            with contextlib.suppress(OSError):
                if path.is_symlink():
                    path.unlink()

    def close_all(self) -> None:
        """At exit: the links stay (the next daemon clears them), no shell makes a file."""
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
        """The selector loop (one thread) until ``close_all``; a failure closes one channel."""
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
                if chan is None:
                    continue
                try:
                    self._read(chan)
                except Exception as exc:  # a bug in one answer must not stop every shell's
                    self.log.error("channel_error", session=chan.pid, error=type(exc).__name__)
                    self._close(chan)
            if self.tombstones:
                self._bury()
        with contextlib.suppress(OSError):
            self.sel.close()
        for fd in (self.wake_r, self.wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _read(self, chan: Channel) -> None:
        with chan.rlock:
            if chan.closed:
                return
            try:
                data = os.read(chan.req_fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                data = None
        if data is None:
            self._close(chan)
            return
        chan.buf += data
        try:
            requests = parse_requests(chan.buf)
            if len(chan.buf) > MAX_PENDING or len(requests) > 1 or (requests and chan.busy):
                # A shell sends one request and waits: more is not a shell.
                raise ValueError("not one request at a time")
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
        chan.busy = True
        if self.cached(req):
            self._serve(chan, nonce, req)  # as the socket's accept loop does: no thread
        else:
            threading.Thread(target=self._serve, args=(chan, nonce, req), daemon=True,
                             name="orenv-chan").start()

    def _serve(self, chan: Channel, nonce: str, req: dict[str, Any]) -> None:
        try:
            code = self.answer(chan.pid, req)
            body = b"" if code is None else code.encode("utf-8", "surrogateescape")
            if len(body) > MAX_ANSWER:
                body, code = b"", None  # never a wait on a full pipe: `orenv export` instead
            status = "fail" if code is None else "ok"
            frame = f"#orenv {nonce} {status} {len(body)}\n".encode("ascii") + body
            if status == "ok" and len(frame) > PIPE_BUF:  # not one atomic write
                frame = f"#orenv {nonce} big {len(body)}\n".encode("ascii") + body
            self._write(chan, frame)
        finally:
            chan.busy = False

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
