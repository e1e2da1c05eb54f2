"""The watcher never deadlocks with watchdog: its dispatch thread holds the observer's
lock while it delivers an event, and a request holds Watcher.lock while it schedules."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from conftest import Home

from orenv.daemon.watcher import Watcher


def test_a_directory_deleted_while_a_request_schedules_does_not_deadlock(
        home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in home.env.items():
        monkeypatch.setenv(name, value)
    seen: list[str] = []
    w = Watcher(lambda path, kind: seen.append(path))
    w.start()
    try:
        doomed = tmp_path / "doomed"
        doomed.mkdir()
        w.ensure([str(doomed)])
        other = tmp_path / "other"
        other.mkdir()
        # A request takes Watcher.lock and, inside it, schedules a watch (track());
        # meanwhile the directory is deleted, so the dispatch thread (holding the
        # observer's lock) delivers a "deleted" event for a watched directory.
        done = threading.Event()

        def request() -> None:
            with w.lock:
                doomed.rmdir()
                time.sleep(0.5)  # the event is dispatched now, under the observer's lock
                w._schedule(str(other), recursive=False)
            done.set()

        t = threading.Thread(target=request, daemon=True)
        t.start()
        assert done.wait(10), "deadlock between Watcher.lock and the observer's lock"
        # The deleted directory is forgotten, so it is watched again once it is back.
        deadline = time.monotonic() + 5
        while str(doomed) in w.watches and time.monotonic() < deadline:
            time.sleep(0.05)
        assert str(doomed) not in w.watches
    finally:
        stopper = threading.Thread(target=w.stop, daemon=True)
        stopper.start()
        stopper.join(10)
        assert not stopper.is_alive(), "the watcher did not stop"
