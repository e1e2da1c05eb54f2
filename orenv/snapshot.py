"""The reference time a shell may trust for an answer.

A hook asks again when a watched file is strictly newer than its reference
file. So the reference must come from *before* the answer's inputs were
read: stat'ed afterwards, a change made meanwhile (a policy edit, or
``orenv allow``/``key set``, which touch the global stamp after writing)
would look applied already, and the shell would keep the stale answer until
some later change.

``read_time()`` is taken before reading. It is on the kernel's coarse clock,
the floor of every file timestamp written afterwards, so ``read_time() - 1``
is older than any later change. A watched file already that new (written in
the same clock tick, just before the read) is "racy", as git calls it: the
answer is used, not cached, and the shell asks once more at its next prompt.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable

__all__ = ["FUTURE_NS", "mtimes", "read_time", "reference"]

# Linux's CLOCK_REALTIME_COARSE (Python 3.11 has no name for it). Elsewhere:
# the precise clock minus a margin wider than a timestamp tick.
_COARSE = 5 if sys.platform.startswith("linux") else None
_MARGIN_NS = 20_000_000
# An mtime this far ahead is from a clock that went back (or a `touch -d`):
# trusting it avoids reloading at every prompt, at the cost of missing edits
# until the next cd.
FUTURE_NS = 1_000_000_000


def read_time() -> int:
    """Now, no later than the timestamp of any file written from now on (ns)."""
    if _COARSE is not None:
        try:
            return time.clock_gettime_ns(_COARSE)
        except OSError:
            pass
    return time.time_ns() - _MARGIN_NS


def mtimes(files: Iterable[str]) -> dict[str, int]:
    """mtime in ns of each file; 0 for one that is missing or unreadable."""
    out = {}
    for f in files:
        try:
            out[f] = os.stat(f).st_mtime_ns
        except OSError:
            out[f] = 0
    return out


def reference(read_at: int, watch: Iterable[str],
              now: Callable[[], int] = time.time_ns) -> tuple[int, bool]:
    """(reference mtime, settled) for an answer whose inputs were read from *read_at* on.

    Not settled: a watched file is as new as the read (or from the future),
    so the answer must not be cached.
    """
    times = mtimes(watch).values()
    ref = read_at - 1
    # Against the clock now, not read_at: computing may take a while (a slow keyring).
    limit = now() + FUTURE_NS
    future = [m for m in times if m > limit]
    if future:
        ref = max(future)
    return ref, all(m < read_at for m in times)
