"""Tiny daemon client: standard library only, so it runs under ``python -I -S``.

Used three ways:

* bash and fish run it on a cd or change (one process, about 20 ms):
  ``python3 -I -S client.py SHELL SESSION WHY SOCKET CWD [fifo]`` prints the exact
  shell code ``orenv export`` would print and exits 0, or prints nothing and
  exits 1 (daemon down, slow, refusing or cut off): the hook then falls back to
  ``orenv export``. ``orenv hook`` writes this file's installed path into the
  hook, so it is as trustworthy as the orenv program itself (never a copy in a
  directory someone else could have written). bash adds ``fifo``: the answer
  then names a FIFO channel that its next requests use with builtins only
  (``orenv.daemon.fifo``); this check is what makes that channel trustworthy.
* ``orenv daemon`` imports ``request()`` for ping/status/stop.

Before anything is sent, the socket must be the user's own: in a real
directory owned by the user with no group/other permissions (in a parent that
is the user's or sticky, so nobody can swap it), and the process listening
must run as the user (``SO_PEERCRED``). Another user who created the runtime
directory first in a shared /tmp gets no request and no say.

A half answer is never printed: the code counts only when the end line with
this request's nonce arrived and the daemon then closed the connection.
"""

from __future__ import annotations

if __name__ == "__main__":
    # Run by a hook: a Ctrl-C during a slow cd must not print a traceback nor
    # leave half an answer; the cd completes within its second instead (bash
    # passes SIGINT ignored already; fish cannot). Ctrl-\ (SIGQUIT) would dump
    # core with the daemon's answer, the key, in it: ignored too (and
    # no_core_dumps() runs before the daemon is asked).
    import _signal  # type: ignore[import-not-found]  # the C module: no `signal` import cost

    _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
    _signal.signal(_signal.SIGQUIT, _signal.SIG_IGN)

# Only C modules on the cd path: `socket`, `json` and `typing` would pull in
# enum, re and selectors and triple the client's start-up time.
import _socket
import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = ["ENV_PASSED", "check_private_socket", "export", "main", "no_core_dumps", "request",
           "sun_path"]

END = "__orenv_end"
ENV_PASSED = ("CLAUDE_CODE_EXTRA_BODY", "ANTHROPIC_CUSTOM_HEADERS", "CLAUDE_CONFIG_DIR",
              "HOME", "CLAUDE_CODE_USE_COWORK_PLUGINS", "ORENV_QUIET")
DEADLINE = float(os.environ.get("ORENV_DAEMON_DEADLINE", "0.45"))


_PR_SET_DUMPABLE = 4


def no_core_dumps() -> None:
    """No core dump of this process, which receives the key (orenv._harden, standalone).

    The soft core limit goes to 0 and, on Linux, the process becomes
    non-dumpable (which also covers a ``core_pattern`` pipe and keeps other
    processes of the user out of its memory). ``prctl`` is called through the
    ``_ctypes`` C module: the ``ctypes`` package would add milliseconds to
    every cd in bash and fish.
    """
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
    except (ImportError, ValueError, OSError):
        pass
    if not sys.platform.startswith("linux"):
        return
    try:
        import _ctypes

        # dlopen(NULL): the program itself, with libc's prctl.
        libc = _ctypes.dlopen(None)  # type: ignore[arg-type]  # the stub wants a path
        _ctypes.call_function(_ctypes.dlsym(libc, "prctl"), (_PR_SET_DUMPABLE, 0, 0, 0, 0))
    except Exception:  # a private helper gone in some Python: the slow way
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
        except Exception:  # noqa: S110  # best effort, as in orenv._harden
            pass


_S_IFMT, _S_IFDIR, _S_IFSOCK, _S_ISVTX = 0o170000, 0o040000, 0o140000, 0o1000


def check_private_socket(sock_path: str) -> None:
    """Raise PermissionError unless *sock_path* is the user's own socket in a private dir."""
    uid = os.getuid()
    directory = os.path.dirname(sock_path) or "."
    base = os.stat(os.path.dirname(directory) or "/")
    if base.st_mode & _S_IFMT != _S_IFDIR or (base.st_uid != uid
                                               and not base.st_mode & _S_ISVTX):
        raise PermissionError("runtime directory in an unsafe parent")
    st = os.lstat(directory)
    if st.st_mode & _S_IFMT != _S_IFDIR or st.st_uid != uid or st.st_mode & 0o077:
        raise PermissionError("runtime directory is not private")
    st = os.lstat(sock_path)
    if st.st_mode & _S_IFMT != _S_IFSOCK or st.st_uid != uid:
        raise PermissionError("socket is not the user's own")


def _check_peer(s: _socket.socket) -> None:
    """The daemon must run as this user (Linux: SO_PEERCRED; elsewhere the path checks)."""
    opt = getattr(_socket, "SO_PEERCRED", None)
    if opt is None:
        return
    creds = s.getsockopt(_socket.SOL_SOCKET, opt, 12)  # struct ucred: pid, uid, gid
    if int.from_bytes(creds[4:8], sys.byteorder) != os.getuid():
        raise PermissionError("the daemon runs as another user")


# sun_path holds 108 bytes on Linux (104 on macOS) with the final NUL.
MAX_SUN_PATH = 103


def sun_path(sock_path: str) -> tuple[str, int]:
    """A path *sock_path* can be bound or reached by, and a directory fd to close (or -1).

    A path longer than a Unix socket allows (a long TMPDIR or home) is reached
    through its directory: ``/proc/self/fd/N/NAME`` with N an ``O_PATH``
    descriptor of the directory (Linux); gpg-agent and tmux work around the
    limit in the same spirit. Raises OSError when the OS offers no way.
    """
    if len(os.fsencode(sock_path)) <= MAX_SUN_PATH:
        return sock_path, -1
    o_path = getattr(os, "O_PATH", 0)
    if not o_path or not os.path.isdir("/proc/self/fd"):
        raise OSError(36, "socket path too long for this system; use a shorter "
                      "XDG_RUNTIME_DIR")
    fd = os.open(os.path.dirname(sock_path) or ".", o_path | os.O_DIRECTORY | os.O_CLOEXEC)
    short = f"/proc/self/fd/{fd}/{os.path.basename(sock_path)}"
    if len(os.fsencode(short)) > MAX_SUN_PATH:
        os.close(fd)
        raise OSError(36, "socket name too long")
    return short, fd


def _exchange(sock_path: str, payload: bytes, timeout: float) -> bytes:
    """Send *payload*, read until the daemon closes; raise on any trouble or deadline."""
    deadline = time.monotonic() + timeout
    check_private_socket(sock_path)
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        path, dir_fd = sun_path(sock_path)
        try:
            s.connect(path)
        finally:
            if dir_fd >= 0:
                os.close(dir_fd)
        _check_peer(s)
        s.sendall(payload)
        chunks: list[bytes] = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("daemon too slow")
            s.settimeout(left)
            data = s.recv(65536)
            if not data:
                return b"".join(chunks)
            chunks.append(data)
    finally:
        s.close()


def _jstr(value: str) -> str:
    """*value* as a JSON string (what json.dumps gives, without importing json)."""
    out = ['"']
    for ch in value:
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ch < " " or "\ud800" <= ch <= "\udfff":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def request(sock_path: str, obj: dict[str, Any], timeout: float = 2.0) -> dict[str, Any]:
    """One JSON request, one JSON answer (raises OSError/ValueError on trouble)."""
    import json

    raw = _exchange(sock_path, (json.dumps(obj) + "\n").encode(), timeout)
    if not raw.endswith(b"\n"):
        raise ValueError("incomplete answer")
    answer = json.loads(raw)
    if not isinstance(answer, dict):
        raise ValueError("bad answer")
    return answer


def export(shell: str, session: str, why: str, sock_path: str, cwd: str,
           env: Mapping[str, str] | None = None, timeout: float = DEADLINE,
           fifo: bool = False) -> str | None:
    """The shell code for *cwd*, or None if the daemon did not answer in full.

    *fifo*: bash asks for a FIFO channel for its next requests (daemon.fifo).
    """
    source: Mapping[str, str] = os.environ if env is None else env
    nonce = os.urandom(8).hex()
    fields = {"op": "export", "shell": shell, "session": session, "why": why, "cwd": cwd}
    if fifo:
        fields["fifo"] = "1"
    env_json = ",".join(f"{_jstr(k)}:{_jstr(source[k])}" for k in ENV_PASSED if k in source)
    req = ("{" + ",".join(f"{_jstr(k)}:{_jstr(v)}" for k, v in fields.items())
           + ',"env":{' + env_json + '},"end":' + _jstr(nonce) + "}")
    try:
        raw = _exchange(sock_path, (req + "\n").encode("utf-8", "surrogatepass"), timeout)
    except (OSError, ValueError):
        return None
    tail = f"{END} {nonce}\n".encode()
    if not raw.endswith(tail) or not (len(raw) == len(tail) or raw[:-len(tail)].endswith(b"\n")):
        return None
    return raw[: -len(tail)].decode("utf-8", "surrogateescape")


def main(argv: list[str]) -> int:
    if len(argv) not in (5, 6) or argv[5:] not in ([], ["fifo"]):
        return 2
    shell, session, why, sock_path, cwd = argv[:5]
    code = export(shell, session, why, sock_path, cwd, fifo=argv[5:] == ["fifo"])
    if code is None:
        return 1
    sys.stdout.write(code)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    no_core_dumps()  # first: the answer holds the key
    sys.exit(main(sys.argv[1:]))
