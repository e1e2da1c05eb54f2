"""Process hardening for everything that may hold a key.

A core dump of a process holding a key writes the key to disk (a dump of the
daemon held it 8 times). Processes that read or carry keys (the daemon, the
keyring-reading child, ``orenv export``/``exec``/``token``/``key``…) call
``no_core_dumps()`` first: the soft core limit goes to 0 (kept across exec,
so ``orenv exec`` children inherit it) and, on Linux, the process becomes
non-dumpable, which also covers a ``core_pattern`` pipe (systemd-coredump,
apport) and keeps other processes of the same user from attaching to it or
reading its memory and environment through /proc.
"""

from __future__ import annotations

import contextlib
import sys

__all__ = ["no_core_dumps"]

_PR_SET_DUMPABLE = 4


def no_core_dumps() -> None:
    """No core dump of this process, ever (best effort where the OS has no such knob)."""
    with contextlib.suppress(ImportError, ValueError, OSError):
        import resource

        _soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
        resource.setrlimit(resource.RLIMIT_CORE, (0, hard))
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
