"""File events for the daemon, from watchdog.

The daemon watches, non-recursively, every directory a cached activation
depends on (each ancestor of a known working directory: a ``.orenv.toml``
created or deleted there changes the answer), plus the trust store
(recursive), the runtime directory (the global stamp) and the config
directory. Only events that can change an answer reach the callback.

Locks: watchdog dispatches events while holding its observer's lock, and
``schedule``/``unschedule`` take that lock too. Requests take ``Watcher.lock``
and then schedule, so the dispatch thread must never wait for
``Watcher.lock`` (the two would deadlock, and the daemon could neither answer
nor exit): it only queues each event, and a thread of ours handles them.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterable
from typing import Any

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from .. import paths
from ..claude import EVENT_DIRS

__all__ = ["Watcher", "ancestors"]

# Only changes: opens, reads and closes without writing (very frequent in
# directories such as /tmp or $HOME) never reach the daemon.
_EVENTS: list[type[FileSystemEvent]] = [FileCreatedEvent, FileDeletedEvent, FileModifiedEvent,
                                        FileMovedEvent, FileClosedEvent, DirCreatedEvent,
                                        DirDeletedEvent, DirMovedEvent]
Callback = Callable[[str, str], None]  # (path, kind): policy | global | keys


def ancestors(directory: str) -> list[str]:
    """*directory* and every directory above it, nearest first."""
    out = []
    d = os.path.abspath(directory)
    while True:
        out.append(d)
        parent = os.path.dirname(d)
        if parent == d:
            return out
        d = parent


class _Handler(FileSystemEventHandler):
    """Runs on watchdog's dispatch thread, which holds the observer's lock: it only
    queues (see the module docstring); ``Watcher._drain`` does the work."""

    def __init__(self, owner: Watcher) -> None:
        self.owner = owner

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        self.owner.events.put(event)


def _handle(owner: Watcher, event: FileSystemEvent) -> None:
    if event.is_directory and event.event_type in ("deleted", "moved"):
        # A watched directory that is gone or renamed watches nothing any
        # more: drop it, so that it is watched again once it is back.
        owner.dropped(os.fsdecode(event.src_path))
    for p in (event.src_path, getattr(event, "dest_path", "")):
        if p:
            owner.classify(os.fsdecode(p))


class Watcher:
    """Directory watches on one watchdog observer; ``ensure()`` adds, ``trim()`` drops."""

    MAX_DIRS = 400

    def __init__(self, callback: Callback) -> None:
        self.callback = callback
        self.observer: Any = Observer(timeout=3)
        self.handler = _Handler(self)
        self.events: queue.SimpleQueue[FileSystemEvent | None] = queue.SimpleQueue()
        self._worker = threading.Thread(target=self._drain, name="orenv-events", daemon=True)
        self.lock = threading.Lock()
        self.watches: dict[str, Any] = {}
        # Paths an answer depends on (present or not), and directories whose
        # every entry does (.claude, managed-settings.d): from track().
        self.depends: set[str] = set()
        self.depend_dirs: set[str] = set()
        self.stamp = str(paths.stamp_file())
        self.trust = str(paths.trust_dir())
        self.config = str(paths.config_file())
        self.keys = str(paths.data_dir() / "keys.json")
        # Directories every answer depends on, and whether they are watched
        # recursively; each one's parent is watched too, so that a directory
        # deleted and made again (or renamed back) is watched again.
        self.globals: dict[str, bool] = {
            str(paths.runtime_dir()): False, self.trust: True,
            str(paths.config_dir()): False, str(paths.data_dir()): False,
        }

    def start(self) -> None:
        for d in (paths.trust_dir() / "allow", paths.trust_dir() / "deny", paths.config_dir(),
                  paths.data_dir()):
            try:
                paths.ensure_private_dir(d)
            except OSError:
                pass
        self.observer.daemon = True
        self._worker.start()
        self.observer.start()
        self.ensure_globals()

    def _drain(self) -> None:
        """Handle queued events in order, off watchdog's dispatch thread."""
        while (event := self.events.get()) is not None:
            try:
                _handle(self, event)
            except Exception:  # noqa: S112  # one bad event must not stop the watching
                continue

    def ensure_globals(self) -> None:
        """Watch the global directories that exist (again), and their parents."""
        with self.lock:
            for directory, recursive in self.globals.items():
                parent = os.path.dirname(directory)
                if os.path.isdir(parent):
                    self._schedule(parent, recursive=False)
                if os.path.isdir(directory):
                    self._schedule(directory, recursive=recursive)

    def dropped(self, directory: str) -> None:
        """*directory* was deleted or renamed: forget its watches."""
        with self.lock:
            for key in (directory, directory + "/**"):
                watch = self.watches.pop(key, None)
                if watch is not None:
                    try:
                        self.observer.unschedule(watch)
                    except (KeyError, OSError, RuntimeError):
                        pass

    def stop(self) -> None:
        try:
            self.observer.stop()
            self.observer.join(timeout=1)
        except RuntimeError:
            pass
        self.events.put(None)
        if self._worker.is_alive():
            self._worker.join(timeout=1)

    def classify(self, path: str) -> None:
        if path in self.globals:
            # A global directory appeared, went or was renamed: watch what exists now.
            self.ensure_globals()
            self.callback(path, "keys" if path == str(paths.data_dir()) else "global")
        elif path == self.keys:
            self.callback(path, "keys")
        elif path == self.stamp or path == self.config or path.startswith(self.trust + os.sep):
            self.callback(path, "global")
        elif (os.path.basename(path) == paths.POLICY_NAME or path in self.depends
              or os.path.dirname(path) in self.depend_dirs):
            self.callback(path, "policy")

    def _schedule(self, directory: str, *, recursive: bool) -> None:
        key = directory + ("/**" if recursive else "")
        if key in self.watches:
            return
        try:
            self.watches[key] = self.observer.schedule(self.handler, directory,
                                                       recursive=recursive,
                                                       event_filter=_EVENTS)
        except (OSError, FileNotFoundError):
            pass

    def ensure(self, directories: Iterable[str]) -> None:
        """Watch each of *directories* (non-recursively) from now on."""
        with self.lock:
            for d in directories:
                if d not in self.watches and os.path.isdir(d):
                    self._schedule(d, recursive=False)

    def track(self, present: Iterable[str], absent: Iterable[str]) -> None:
        """Report changes to *present* paths and the appearance of *absent* ones.

        Each path's nearest existing parent is watched; the missing paths in
        between count too (``~/.claude`` appearing before its settings.json).
        """
        with self.lock:
            for path in (*present, *absent):
                p = path
                while True:
                    self.depends.add(p)
                    parent = os.path.dirname(p)
                    if parent == p:
                        break
                    if os.path.isdir(parent):
                        self._schedule(parent, recursive=False)
                        break
                    p = parent
                if (os.path.basename(path) in EVENT_DIRS and os.path.isdir(path)
                        and not os.path.islink(path)):
                    self.depend_dirs.add(path)
                    self._schedule(path, recursive=False)

    def watched(self) -> int:
        return len(self.watches)

    def too_many(self) -> bool:
        return len(self.watches) > self.MAX_DIRS

    def drop_dirs(self, keep: Iterable[str]) -> None:
        """Unwatch plain directories not in *keep* (the global watches stay)."""
        keep_set = set(keep) | set(self.globals) | {os.path.dirname(d) for d in self.globals}
        with self.lock:
            self.depends.clear()  # re-tracked by the next computations
            self.depend_dirs.clear()
            for key in list(self.watches):
                if key.endswith("/**") or key in keep_set:
                    continue
                try:
                    self.observer.unschedule(self.watches.pop(key))
                except (KeyError, OSError):
                    pass
