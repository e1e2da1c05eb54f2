"""The reference time given to shells: never newer than a change made after the read."""

from __future__ import annotations

import os
import time
from pathlib import Path

from orenv import snapshot


def test_a_write_right_after_the_read_is_newer_than_the_reference(tmp_path: Path) -> None:
    # Many tries: a write in the same clock tick as the read is the case that matters.
    f = tmp_path / "policy"
    for i in range(300):
        read_at = snapshot.read_time()
        f.write_text(str(i))
        ref, settled = snapshot.reference(read_at, [str(f)])
        assert f.stat().st_mtime_ns > ref, i
        assert not settled, i


def test_a_write_just_before_the_read_is_seen_or_reported_racy(tmp_path: Path) -> None:
    f = tmp_path / "policy"
    racy = 0
    for i in range(300):
        f.write_text(str(i))
        read_at = snapshot.read_time()
        ref, settled = snapshot.reference(read_at, [str(f)])
        mtime = f.stat().st_mtime_ns
        # Settled means: already older than the reference, never re-asked.
        assert settled == (mtime <= ref), i
        racy += not settled
    print(f"racy answers: {racy}/300")


def test_old_files_settle(tmp_path: Path) -> None:
    f = tmp_path / "policy"
    f.write_text("x")
    old = time.time() - 60
    os.utime(f, (old, old))
    read_at = snapshot.read_time()
    ref, settled = snapshot.reference(read_at, [str(f), str(tmp_path / "missing")])
    assert settled and ref == read_at - 1


def test_a_file_from_the_future_does_not_mean_reload_forever(tmp_path: Path) -> None:
    f = tmp_path / "stamp"
    f.write_text("")
    future = time.time() + 10 * 365 * 86400
    os.utime(f, (future, future))
    ref, settled = snapshot.reference(snapshot.read_time(), [str(f)])
    assert ref == f.stat().st_mtime_ns and not settled


def test_read_time_is_not_ahead_of_file_times(tmp_path: Path) -> None:
    f = tmp_path / "x"
    for i in range(100):
        read_at = snapshot.read_time()
        f.write_text(str(i))
        assert f.stat().st_mtime_ns >= read_at


def test_a_slow_computation_is_not_mistaken_for_a_clock_jump(tmp_path: Path) -> None:
    # Regression: "from the future" was measured from the read time, so a
    # change made more than a second into a slow computation was trusted.
    f = tmp_path / "stamp"
    f.write_text("")
    read_at = snapshot.read_time()
    later = time.time_ns() + 2 * snapshot.FUTURE_NS  # written 2 s into the computation
    os.utime(f, ns=(later, later))
    ref, settled = snapshot.reference(read_at, [str(f)], now=lambda: later + 1000)
    assert f.stat().st_mtime_ns > ref and not settled
