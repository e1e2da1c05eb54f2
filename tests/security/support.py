"""Helpers of the security suite: recognisable secrets, a /proc watcher, scans.

Every test gets its own random OpenRouter keys and a random "user's own"
Anthropic key, so a hit can only come from this test, never from another test
or another engineer's process running on the same machine.
"""

from __future__ import annotations

import hashlib
import os
import secrets as _secrets
import subprocess
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conftest import Home, make_policy, run_orenv
from memkeyring import MemoryKeyring

__all__ = [
    "KINDS",
    "MemoryKeyring",
    "ProcWatch",
    "Secrets",
    "find_core_dumps",
    "new_secrets",
    "orenv",
    "parse_export",
    "policy_dir",
    "scan_files",
    "sha256_line",
]

KINDS = ("zsh", "bash", "fish")


@dataclass(frozen=True)
class Secrets:
    """The values that must never leak, and the substrings that betray them."""

    key: str
    key2: str
    user_key: str

    @property
    def needles(self) -> dict[str, bytes]:
        """name -> bytes; partial forms catch a key cut, masked too generously, or re-prefixed."""
        out: dict[str, bytes] = {}
        for label, value in (("key", self.key), ("key2", self.key2)):
            body = value[len("sk-or-v1-"):]
            out[label] = value.encode()
            out[f"{label}-body"] = body.encode()
            out[f"{label}-middle"] = body[16:40].encode()
        out["user_key"] = self.user_key.encode()
        out["user_key-body"] = self.user_key[len("sk-ant-api03-"):].encode()
        return out

    def hits(self, data: bytes | str) -> list[str]:
        raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
        return [name for name, needle in self.needles.items() if needle in raw]


def new_secrets() -> Secrets:
    return Secrets(
        key="sk-or-v1-" + _secrets.token_hex(32),
        key2="sk-or-v1-" + _secrets.token_hex(32),
        user_key="sk-ant-api03-" + _secrets.token_urlsafe(30).replace("-", "x") + "-USERSOWN",
    )


def sha256_line(value: str) -> str:
    """What `printenv X | sha256sum` prints first for X=value."""
    return hashlib.sha256((value + "\n").encode()).hexdigest()


# ------------------------------------------------------------------ /proc watcher


@dataclass
class ProcWatch:
    """Polls /proc/*/cmdline every few ms; keeps each process's argv and environ.

    An environ is read once per (pid, argv) pair, so a process that forks and
    then execs is seen with both environments.
    """

    interval: float = 0.003
    argvs: dict[tuple[int, bytes], bytes] = field(default_factory=dict)
    sweeps: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="proc-watch", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 5
        while self.sweeps == 0 and time.monotonic() < deadline:
            time.sleep(0.001)
        assert self.sweeps > 0, "the /proc watcher did not start"

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _loop(self) -> None:
        me = os.getpid()
        while not self._stop.is_set():
            for name in os.listdir("/proc"):
                if not name.isdigit():
                    continue
                pid = int(name)
                if pid == me:
                    continue
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as fh:
                        argv = fh.read()
                except OSError:
                    continue
                if not argv or (pid, argv) in self.argvs:
                    continue
                try:
                    with open(f"/proc/{pid}/environ", "rb") as fh:
                        environ = fh.read()
                except OSError:
                    environ = b""
                self.argvs[(pid, argv)] = environ
            self.sweeps += 1
            time.sleep(self.interval)

    def commands(self) -> list[str]:
        return [a.replace(b"\0", b" ").decode("utf-8", "replace") for _, a in self.argvs]

    def argv_hits(self, sec: Secrets) -> list[tuple[str, list[str]]]:
        out = []
        for (_, argv), _env in list(self.argvs.items()):
            found = sec.hits(argv)
            if found:
                out.append((argv.replace(b"\0", b" ").decode("utf-8", "replace"), found))
        return out

    def environ_hits(self, sec: Secrets) -> list[tuple[str, str, list[str]]]:
        """Environment entries holding a secret, except the two legitimate ones.

        ``ANTHROPIC_AUTH_TOKEN=<key>`` is how export/exec modes hand the key over;
        ``ANTHROPIC_API_KEY=<user key>`` is the user's own export outside projects.
        """
        allowed = {
            b"ANTHROPIC_AUTH_TOKEN=" + sec.key.encode(),
            b"ANTHROPIC_AUTH_TOKEN=" + sec.key2.encode(),
            b"ANTHROPIC_API_KEY=" + sec.user_key.encode(),
        }
        out = []
        for (_, argv), environ in list(self.argvs.items()):
            for entry in environ.split(b"\0"):
                if entry in allowed:
                    continue
                found = sec.hits(entry)
                if found:
                    cmd = argv.replace(b"\0", b" ").decode("utf-8", "replace")
                    out.append((cmd, entry.split(b"=", 1)[0].decode(errors="replace"), found))
        return out

    def processes_with(self, entry: bytes) -> set[tuple[int, str]]:
        """(pid, command) of processes whose environment held exactly *entry*."""
        return {(pid, a.replace(b"\0", b" ").decode("utf-8", "replace"))
                for (pid, a), env in list(self.argvs.items()) if entry in env.split(b"\0")}


# ------------------------------------------------------------------ helpers


def orenv(home: Home, *args: str, check: bool = True,
          **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """``run_orenv`` that fails the test unless told ``check=False``."""
    return run_orenv(home, *args, check=check, **kwargs)


policy_dir = make_policy


def scan_files(roots: Iterable[Path], sec: Secrets, *, since: float | None = None,
               max_bytes: int = 64 << 20) -> list[tuple[str, list[str]]]:
    """Regular files under *roots* (not following links) that hold a secret."""
    hits = []
    seen: set[tuple[int, int]] = set()
    for root in roots:
        for dirpath, dirnames, files in os.walk(root, followlinks=False):
            for name in files:
                p = os.path.join(dirpath, name)
                try:
                    st = os.lstat(p)
                except OSError:
                    continue
                if not os.path.isfile(p) or os.path.islink(p) or st.st_size > max_bytes:
                    continue
                if (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
                if since is not None and st.st_mtime < since and st.st_ctime < since:
                    continue
                try:
                    with open(p, "rb") as fh:
                        data = fh.read()
                except OSError:
                    continue
                found = sec.hits(data)
                if found:
                    hits.append((p, found))
            dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
    return hits


def find_core_dumps(roots: Sequence[Path]) -> list[str]:
    out = []
    for root in roots:
        for dirpath, _, files in os.walk(root):
            out.extend(os.path.join(dirpath, f) for f in files
                       if f == "core" or f.startswith("core.") or f.endswith(".core"))
    return out


_HOOK_CALLS = {"__orenv_set", "__orenv_unset", "__orenv_watching", "__orenv_msg"}


def parse_export(kind: str, out: str) -> list[tuple[str, list[str]]]:
    """Parse `orenv export KIND` output; fail on anything but quoted hook calls.

    zsh/bash: each argument is '...' pieces joined by \\' (POSIX quoting);
    fish: '...' where only \\\\ and \\' are escapes.
    """
    calls: list[tuple[str, list[str]]] = []
    i, n = 0, len(out)
    while i < n:
        j = i
        while j < n and (out[j].isalnum() or out[j] == "_"):
            j += 1
        name = out[i:j]
        if name not in _HOOK_CALLS:
            raise AssertionError(f"not a hook call at {i}: {out[i:i + 60]!r}")
        args: list[str] = []
        i = j
        while i < n and out[i] == " ":
            i += 1
            arg: list[str] = []
            if i >= n or out[i] not in "'\\":
                raise AssertionError(f"unquoted argument at {i}: {out[i:i + 60]!r}")
            while i < n and out[i] in "'\\":
                if kind != "fish" and out.startswith("\\'", i):
                    arg.append("'")
                    i += 2
                    continue
                if out[i] != "'":
                    raise AssertionError(f"bad quoting at {i}: {out[i:i + 60]!r}")
                i += 1
                while True:
                    if i >= n:
                        raise AssertionError("unterminated quote")
                    c = out[i]
                    if c == "'":
                        i += 1
                        break
                    if kind == "fish" and c == "\\":
                        nxt = out[i + 1:i + 2]
                        if nxt in ("\\", "'"):
                            arg.append(nxt)
                            i += 2
                            continue
                    arg.append(c)
                    i += 1
            args.append("".join(arg))
        if i >= n or out[i] != "\n":
            raise AssertionError(f"junk after a call at {i}: {out[i:i + 60]!r}")
        i += 1
        calls.append((name, args))
    return calls
