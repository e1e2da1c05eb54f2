"""The daemon's in-memory key store (``orenv key add``): like ssh-agent.

A key added with ``orenv key add`` reaches the daemon over its private socket
and lives only here: never in a file, a log line, the environment or argv.
Each value sits in a page of its own (anonymous ``mmap``) that is locked in
RAM (``mlock``: never swapped out), left out of core dumps
(``MADV_DONTDUMP``; the daemon is non-dumpable anyway) and of forked children
(``MADV_DONTFORK``), and zeroed before it is unmapped when the key is removed
or expires. Where the OS refuses a knob (``RLIMIT_MEMLOCK``, not Linux) the
key is still kept, and ``locked`` says so.

What the page cannot cover: answers that carry the key (a shell's export
code, ``orenv token``) are ordinary Python strings while they are built and
sent; the daemon drops every cached answer holding a key when that key goes.
"""

from __future__ import annotations

import contextlib
import ctypes
import mmap
import sys
import threading
import time
from dataclasses import dataclass

__all__ = ["LockedSecret", "MemoryKey", "MemoryKeys"]

MAX_VALUE = 2048  # bytes; an OpenRouter key is 73


class LockedSecret:
    """One secret in a private page: locked in RAM where allowed, never dumped, wiped on close."""

    __slots__ = ("_len", "_mm", "locked")

    def __init__(self, value: str) -> None:
        raw = value.encode("utf-8")
        if not raw or len(raw) > MAX_VALUE:
            raise ValueError("the key is empty or too long")
        size = max(mmap.PAGESIZE, len(raw))
        self._mm: mmap.mmap | None = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE
                                               | mmap.MAP_ANONYMOUS)
        for advice in ("MADV_DONTDUMP", "MADV_DONTFORK"):
            flag = getattr(mmap, advice, None)
            if flag is not None:
                with contextlib.suppress(OSError):
                    self._mm.madvise(flag)
        self.locked = self._mlock(size)
        self._mm[:len(raw)] = raw
        self._len = len(raw)

    def _mlock(self, size: int) -> bool:
        if not sys.platform.startswith(("linux", "darwin", "freebsd")):
            return False
        assert self._mm is not None
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            anchor = ctypes.c_char.from_buffer(self._mm)
            try:
                return bool(libc.mlock(ctypes.c_void_p(ctypes.addressof(anchor)),
                                       ctypes.c_size_t(size)) == 0)
            finally:
                del anchor  # the buffer export must end before the map can be closed
        except (OSError, AttributeError, TypeError, ValueError):
            return False

    def reveal(self) -> str:
        if self._mm is None:
            raise ValueError("the key was wiped")
        return self._mm[:self._len].decode("utf-8")

    def wipe(self) -> None:
        """Zero the page, then unmap it (munmap also ends the lock)."""
        mm, self._mm = self._mm, None
        if mm is None:
            return
        mm[:] = b"\0" * len(mm)
        mm.close()


@dataclass
class MemoryKey:
    name: str
    secret: LockedSecret
    masked: str
    added: float
    expires: float | None  # wall-clock time (time.time()); None: until the daemon ends
    holder: tuple[int, float] | None  # (session leader pid, its start time) that added it
    management: bool = False

    def expired(self, now: float | None = None) -> bool:
        return self.expires is not None and (now if now is not None else time.time()) \
            >= self.expires


class MemoryKeys:
    """Name -> key, with lifetimes. Thread-safe; never logs or returns a value but by ``get``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, MemoryKey] = {}

    def add(self, name: str, value: str, *, masked: str, lifetime: float | None,
            holder: tuple[int, float] | None, management: bool = False) -> MemoryKey:
        now = time.time()
        key = MemoryKey(name=name, secret=LockedSecret(value), masked=masked, added=now,
                        expires=now + lifetime if lifetime else None, holder=holder,
                        management=management)
        with self._lock:
            old = self._keys.pop(name, None)
            self._keys[name] = key
        if old is not None:
            old.secret.wipe()
        return key

    def get(self, name: str) -> str | None:
        with self._lock:
            key = self._keys.get(name)
            if key is None or key.expired():
                return None
            return key.secret.reveal()

    def has(self, name: str) -> bool:
        with self._lock:
            key = self._keys.get(name)
            return key is not None and not key.expired()

    def remove(self, name: str) -> bool:
        with self._lock:
            key = self._keys.pop(name, None)
        if key is None:
            return False
        key.secret.wipe()
        return True

    def expire(self, now: float | None = None) -> list[str]:
        """Remove (and wipe) every key whose lifetime is over; their names."""
        now = time.time() if now is None else now
        with self._lock:
            gone = [k for k in self._keys.values() if k.expired(now)]
            for key in gone:
                del self._keys[key.name]
        for key in gone:
            key.secret.wipe()
        return [k.name for k in gone]

    def clear(self) -> None:
        with self._lock:
            keys, self._keys = list(self._keys.values()), {}
        for key in keys:
            key.secret.wipe()

    def listing(self) -> list[dict[str, object]]:
        """Names, masked values, times and lock state: never a value."""
        with self._lock:
            keys = [k for k in self._keys.values() if not k.expired()]
        return [{"name": k.name, "masked": k.masked, "added": k.added, "expires": k.expires,
                 "locked": k.secret.locked, "management": k.management}
                for k in sorted(keys, key=lambda k: k.name)]

    def holders(self) -> list[tuple[int, float]]:
        with self._lock:
            return [k.holder for k in self._keys.values() if k.holder and not k.expired()]

    def __len__(self) -> int:
        with self._lock:
            return sum(not k.expired() for k in self._keys.values())
