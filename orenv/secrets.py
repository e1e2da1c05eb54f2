"""Keys in the OS keyring (service ``orenv``, user = key name).

Every keyring call runs with a deadline, so a locked or hung keyring gives a
one-line error instead of a stuck prompt. Backends that store plaintext or
nothing are refused. Key names (never values) are indexed in a small file so
``orenv key list`` can enumerate them; the keyring API cannot.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import importlib
import os
import re
import select
import signal
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from . import _namestore, paths
from ._fsutil import touch_stamp
from .errors import (
    InsecureKeyringError,
    KeyringLockedError,
    KeyringUnavailableError,
    NoSecretServiceError,
    SecretNotFoundError,
    UsageError,
)
from .policy import KEY_NAME_RE

__all__ = [
    "DEFAULT_TIMEOUT",
    "KEY_RE",
    "SERVICE",
    "KeyEntry",
    "check_backend",
    "delete_key",
    "get_key",
    "key_names",
    "list_keys",
    "looks_like_key",
    "mask",
    "missing_key_message",
    "secret_service_state",
    "set_key",
    "store_of",
    "validate_name",
]

SERVICE = "orenv"
KEY_RE = re.compile(r"^sk-or-v1-[0-9a-f]{64}\Z")
DEFAULT_TIMEOUT = float(os.environ.get("ORENV_KEYRING_TIMEOUT", "0.8"))
_INSECURE = (
    "keyring.backends.fail.",
    "keyring.backends.null.",
    "keyrings.alt.file.PlaintextKeyring",
    "keyrings.alt.",  # the "alt" backends are plaintext or weakly protected files
)

T = TypeVar("T")


@dataclass(frozen=True)
class KeyEntry:
    name: str
    masked: str
    management: bool
    store: str | None = None  # the keyring backend holding it (None: missing from it)
    expires: float | None = None  # memory keys (`orenv key add`): when the daemon drops it


def looks_like_key(value: str) -> bool:
    return bool(KEY_RE.match(value))


def mask(value: str) -> str:
    """``sk-or-v1-ab…9f``: enough to tell keys apart, never enough to use one."""
    if value.startswith("sk-or-v1-") and len(value) > 13:
        return f"sk-or-v1-{value[9:11]}…{value[-2:]}"
    if len(value) >= 12:
        return f"{value[:3]}…{value[-2:]}"
    return "…"


def validate_name(name: str) -> str:
    if not KEY_NAME_RE.match(name):
        raise UsageError(f"invalid key name {name!r}: use letters, digits, '.', '_' or '-' "
                         "(at most 64)")
    return name


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


# Backends worth trying on Linux/BSD, best first.
_UNIX_BACKENDS = (
    ("keyring.backends.SecretService", "Keyring"),
    ("keyring.backends.libsecret", "Keyring"),
    ("keyring.backends.kwallet", "DBusKeyring"),
)


def _detect() -> Any:
    """keyring's own choice, without its probe for macOS libraries elsewhere.

    keyring's discovery imports every backend; on Linux the macOS one calls
    ctypes.util.find_library, which runs ldconfig and gcc: ~40 processes and
    0.2-0.4 s per orenv start. The environment variable and keyringrc.cfg are
    honoured first, as keyring does; a backend set with keyring.set_keyring()
    (tests) is used as is.
    """
    from keyring import core

    if core._keyring_backend is not None or sys.platform in ("darwin", "win32"):
        return core.get_keyring()
    chosen = core.load_env() or core.load_config()
    if chosen is None:
        best: tuple[float, Any] | None = None
        for module_name, class_name in _UNIX_BACKENDS:
            try:
                cls = getattr(importlib.import_module(module_name), class_name)
                if not cls.viable:
                    continue
                priority = float(cls.priority)
            except Exception:  # noqa: S112 - an unusable backend is simply skipped
                continue
            if best is None or priority > best[0]:
                best = (priority, cls)
        if best is None:
            from keyring.backends import fail

            chosen = fail.Keyring()  # type: ignore[no-untyped-call]
        else:
            chosen = best[1]()
    core.set_keyring(chosen)
    return chosen


def _backend() -> Any:
    from keyring.backends import chainer

    kr = _detect()
    if isinstance(kr, chainer.ChainerBackend):
        kids = list(kr.backends)
        if not kids:
            raise InsecureKeyringError(
                "no usable keyring: install and start a Secret Service (gnome-keyring or "
                "KeePassXC) or use macOS Keychain; orenv does not store keys in files")
        for kid in kids:
            _refuse_insecure(kid)
        return kr
    _refuse_insecure(kr)
    return kr


def _refuse_insecure(kr: Any) -> None:
    name = _qualified(type(kr))
    if name == "keyring.backends.fail.Keyring":
        raise NoSecretServiceError(no_service_message())
    if name.startswith(_INSECURE) or name in _INSECURE:
        raise InsecureKeyringError(
            f"keyring backend {name} stores keys unprotected or not at all; "
            "install a Secret Service (gnome-keyring) or unset PYTHON_KEYRING_BACKEND")


def check_backend(timeout: float | None = None) -> str:
    """Name of the keyring backend in use (raises when it is refused)."""
    return _qualified(type(_deadline(_backend, timeout)))


def _deadline(fn: Callable[[], T], timeout: float | None = None) -> T:
    """Run *fn* in a thread; give up with a clear error after *timeout* seconds."""
    timeout = DEFAULT_TIMEOUT if timeout is None else timeout
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = _classify(exc)  # here: a probe of the bus is inside the deadline

    worker = threading.Thread(target=target, name="orenv-keyring", daemon=True)
    with _signals_held():
        worker.start()
        worker.join(timeout)
        if worker.is_alive():
            _abandon(worker)  # before a held signal ends the process (see _signals_held)
    if worker.is_alive():
        raise KeyringUnavailableError.no_answer(timeout)
    if "error" in box:
        raise _translate(box["error"]) from None
    return box["value"]  # type: ignore[no-any-return]


# Signals that end a process (a closed terminal, `kill`, Ctrl-C) wait while a call
# to the Secret Service is under way: a client that vanishes between a request and
# its answer can crash gnome-keyring (a GLib assertion, "Bail out!" in its log; seen
# by killing readers at random), and the restarted keyring comes back locked.
_HELD_SIGNALS = tuple(getattr(signal, n) for n in ("SIGHUP", "SIGTERM", "SIGINT")
                      if hasattr(signal, n))


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGHUP, SIGTERM and SIGINT until the block ends, then act on them as before.

    Only the main thread can set handlers; elsewhere the block runs as is. The
    block is bounded by the keyring deadline, so a signal waits at most that long.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[int] = []
    previous: dict[int, Any] = {}
    try:
        for sig in _HELD_SIGNALS:
            previous[sig] = signal.signal(sig, lambda signum, _frame: got.append(signum))
    except (ValueError, OSError):
        pass
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
        if any(previous.get(sig) in (signal.SIG_DFL, None) for sig in got):
            # A default action ends the process without atexit: a call that ran out
            # of time gets its holder first.
            _hold_after_exit()
        for sig in dict.fromkeys(got):
            signal.raise_signal(sig)  # its own handler, or its default action, now


_abandoned: list[threading.Thread] = []
_holding = False  # a holder was forked already
_HOLD_SECONDS = 30.0


def _abandon(worker: threading.Thread) -> None:
    """A call that ran out of time is still waiting for its answer: at exit, wait
    for it without holding anyone up (``_hold_after_exit``)."""
    if not _abandoned:
        atexit.register(_hold_after_exit)
    _abandoned.append(worker)


def finish_calls(limit: float = _HOLD_SECONDS) -> None:
    """Wait up to *limit* seconds for calls that ran out of time (a process nobody waits
    for: the daemon's keyring reader, after it has answered)."""
    end = time.monotonic() + limit
    for worker in _abandoned:
        worker.join(max(0.0, end - time.monotonic()))


def _hold_after_exit() -> None:
    """Keep the D-Bus connection of a call still under way open after this process ends.

    The caller (a shell's `$(...)`, a script) must not wait for the keyring, so a
    child in its own session, with nothing of the caller's but its sockets, keeps
    them until an answer arrives (up to 30 s), then closes them: the Secret Service
    never sees a client vanish with a request pending (see ``_signals_held``).
    """
    global _holding
    if _holding or not any(w.is_alive() for w in _abandoned) or not hasattr(os, "fork"):
        return
    try:
        pid = os.fork()
    except OSError:
        return
    if pid:
        _holding = True
        return
    try:  # the child: os-level calls only (other threads did not come along)
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        sockets = []
        for name in os.listdir("/proc/self/fd") if os.path.isdir("/proc/self/fd") else ():
            fd = int(name)
            if fd > 2:
                try:
                    if stat.S_ISSOCK(os.fstat(fd).st_mode):
                        sockets.append(fd)
                    else:
                        os.close(fd)  # a pipe of the caller's must see its end now
                except OSError:
                    continue
        if sockets:
            poller = select.poll()
            for fd in sockets:
                poller.register(fd, select.POLLIN)
            if poller.poll(int(_HOLD_SECONDS * 1000)):
                time.sleep(1.0)  # the answer, or a signal just before it: a moment more
    finally:
        os._exit(0)


def _translate(exc: BaseException) -> BaseException:
    """Map backend exceptions to one-line errors that carry no secret."""
    from keyring import errors as kerr

    if isinstance(exc, KeyringUnavailableError | SecretNotFoundError | UsageError):
        return exc
    if isinstance(exc, kerr.KeyringLocked):
        return KeyringLockedError(_LOCKED)
    if isinstance(exc, kerr.PasswordDeleteError):
        return SecretNotFoundError("no such key in the keyring")
    if isinstance(exc, kerr.NoKeyringError):
        return NoSecretServiceError(no_service_message())
    # InitError, secretstorage / jeepney / D-Bus errors: _classify has asked the bus
    # whether a Secret Service is there (locked, or a prompt it could not show) or not.
    return KeyringUnavailableError(
        f"the keyring is unavailable ({type(exc).__name__}); is the Secret Service "
        "running and DBUS_SESSION_BUS_ADDRESS set?")


_LOCKED = ("the Secret Service is running but its keyring is locked (the unlock prompt was "
           "dismissed or cannot be shown here): unlock it (log in to the desktop, or "
           "`gnome-keyring-daemon --unlock` on this terminal) and try again")


def _service_reachable() -> tuple[bool, str]:
    """Whether something answers as the Secret Service on the session bus, and if not why."""
    if sys.platform in ("darwin", "win32"):
        return True, ""
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return False, "DBUS_SESSION_BUS_ADDRESS is not set"
    try:
        import secretstorage

        with contextlib.closing(secretstorage.dbus_init()) as conn:
            if secretstorage.check_service_availability(conn):
                return True, ""
    except Exception:  # any failure to reach the bus means: not reachable
        return False, "the session bus cannot be reached"
    return False, "nothing answers as org.freedesktop.secrets on the session bus"


def no_service_message(name: str | None = None, why: str | None = None) -> str:
    """No Secret Service here (SSH, containers, WSL, CI): the way forward, never a file."""
    if why is None:
        why = _service_reachable()[1] or "it did not answer"
    what = f"key {name!r}: " if name else ""
    return (f"{what}no Secret Service is reachable in this session ({why}); orenv never "
            f"stores keys in files: hold the key in the orenv daemon's memory with "
            f"`orenv key add {name or 'NAME'}` (see README: SSH, containers, WSL), or start a "
            "Secret Service (gnome-keyring, KeePassXC)")


def _classify(exc: BaseException) -> BaseException:
    """A keyring failure as one of our errors, telling "locked" from "not there"."""
    from keyring import errors as kerr

    if isinstance(exc, kerr.KeyringLocked):
        return KeyringLockedError(_LOCKED)
    if isinstance(exc, kerr.PasswordDeleteError | kerr.NoKeyringError) or isinstance(
            exc, KeyringUnavailableError | SecretNotFoundError | UsageError):
        return _translate(exc)
    if not isinstance(exc, Exception):
        return exc
    reachable, why = _service_reachable()
    if reachable:
        # gnome-keyring running with its login keyring locked (an SSH login with a key,
        # no desktop): opening the collection fails, or its unlock prompt is dismissed.
        return KeyringLockedError(_LOCKED)
    return NoSecretServiceError(no_service_message(why=why))


def secret_service_state(timeout: float | None = None) -> str:
    """``ok``, ``locked``, ``absent`` (no Secret Service reachable) or ``refused`` (a
    plaintext backend); asks the bus, never opens an unlock prompt."""
    def probe() -> str:
        kr = _backend()
        if "SecretService" not in _qualified(type(kr)):
            return "ok"
        import secretstorage

        with contextlib.closing(secretstorage.dbus_init()) as conn:
            try:
                return "locked" if secretstorage.get_default_collection(conn).is_locked() \
                    else "ok"
            except secretstorage.exceptions.ItemNotFoundException:
                return "ok"  # no default collection yet: the first `key set` makes one

    try:
        return _deadline(probe, timeout)
    except NoSecretServiceError:
        return "absent"
    except KeyringLockedError:
        return "locked"
    except InsecureKeyringError:
        return "refused"
    except KeyringUnavailableError:
        return "locked"  # there, but it did not answer in time


def store_of(meta: dict[str, Any]) -> str:
    """The store an index entry names: ``memory`` (`orenv key add`) or ``keyring``."""
    return "memory" if meta.get("store") == "memory" else "keyring"


def get_key(name: str, timeout: float | None = None, *, memory: bool = True) -> str:
    """Key *name*, whichever store holds it.

    The index says where each key is: a memory key (``orenv key add``) is asked of
    the daemon only, and when it is gone the error says how to add it again; a
    keyring key is read from the keyring only. A name the index does not know is
    looked up in the daemon's memory first, then in the keyring. *memory* False:
    the keyring only (the daemon's keyring-reading child).
    """
    validate_name(name)
    meta = _read_index().get(name)
    if memory and (meta is None or store_of(meta) == "memory"):
        from . import memstore

        held = memstore.lookup(name, timeout=max(timeout or DEFAULT_TIMEOUT, 0.2),
                               strict=meta is not None)
        if held is not None:
            return held
        if meta is not None:
            raise SecretNotFoundError(memstore.gone_message(name, meta))

    def read() -> str | None:
        return _backend().get_password(SERVICE, name)  # type: ignore[no-any-return]

    try:
        value = _deadline(read, timeout)
    except NoSecretServiceError as exc:
        why = exc.message.partition("(")[2].partition(")")[0] or None
        raise NoSecretServiceError(no_service_message(name, why)) from None
    if not value:
        raise SecretNotFoundError(missing_key_message(name, probe=False))
    return value


def missing_key_message(name: str, *, probe: bool = True) -> str:
    """Key *name* is not stored: the nearest stored name if it looks like a typo,
    else the names that exist (from the index; the keyring is not asked again).

    *probe*: when no Secret Service can be reached here, say how to hold the key
    in memory (`orenv key add`) instead of the keyring command that would fail.
    """
    from ._text import did_you_mean

    if probe and secret_service_state() == "absent":
        return no_service_message(name)

    try:
        stored = [n for n, meta in _read_index().items() if not meta.get("management")]
    except Exception:  # an unreadable index: no suggestion, the message stands
        stored = []
    hint = did_you_mean(name, stored, listing="stored keys")
    if "did you mean" in hint:
        return (f"key {name!r} is not in the keyring{hint}: fix the name, or store a key "
                f"under it with `orenv key set {name}`")
    return f"key {name!r} is not in the keyring{hint}; store it with `orenv key set {name}`"


def set_key(name: str, value: str, *, management: bool = False,
            timeout: float | None = None) -> None:
    validate_name(name)
    if not value or "\n" in value or "\x00" in value:
        raise UsageError("the key is empty or spans lines; paste just the key")
    if store_of(_read_index().get(name, {})) == "memory":
        raise UsageError(f"key {name!r} is held in the orenv daemon's memory; a name lives in "
                         f"one store: `orenv key rm {name}` first, then store it again")

    def write() -> None:
        _backend().set_password(SERVICE, name, value)

    _deadline(write, timeout if timeout is not None else max(DEFAULT_TIMEOUT, 5.0))
    index = _read_index()
    index[name] = {"management": management}
    _write_index(index)
    touch_stamp()


def delete_key(name: str, timeout: float | None = None) -> str:
    """Remove key *name* from the store holding it; that store's name (memory, keyring)."""
    validate_name(name)
    index = _read_index()
    if name not in index or store_of(index[name]) == "memory":
        from . import memstore

        held = memstore.remove(name)
        if held or name in index:
            index.pop(name, None)
            _write_index(index)
            touch_stamp()
            return "memory"

    def remove() -> bool:
        from keyring.errors import PasswordDeleteError

        try:
            _backend().delete_password(SERVICE, name)
        except PasswordDeleteError:
            return False
        return True

    existed = _deadline(remove, timeout if timeout is not None else max(DEFAULT_TIMEOUT, 5.0))
    if not existed and name not in index:
        from ._text import did_you_mean

        raise SecretNotFoundError(f"no key named {name!r}"
                                  f"{did_you_mean(name, index, listing='stored keys')}")
    index.pop(name, None)
    _write_index(index)
    touch_stamp()
    return "keyring"


def add_memory_key(name: str, value: str, *, lifetime: float | None, lifetime_text: str = "",
                   management: bool = False) -> dict[str, Any]:
    """Hand key *name* to the daemon's memory (``orenv key add``) and index it (no value).

    The daemon must be running (``orenv key add`` starts it). Returns its answer:
    ``expires`` (or None) and ``locked`` (held in locked memory).
    """
    validate_name(name)
    if not value or "\n" in value or "\x00" in value:
        raise UsageError("the key is empty or spans lines; paste just the key")
    index = _read_index()
    if name in index and store_of(index[name]) == "keyring":
        raise UsageError(f"key {name!r} is stored in the keyring; a name lives in one store: "
                         f"use another name, or `orenv key rm {name}` first")
    from . import memstore

    answer = memstore.add(name, value, lifetime=lifetime, management=management)
    entry: dict[str, Any] = {"management": management, "store": "memory"}
    expires = answer.get("expires")
    if isinstance(expires, int | float) and not isinstance(expires, bool):
        entry["expires"] = float(expires)
        entry["lifetime"] = lifetime_text
    index = _read_index()
    index[name] = entry
    _write_index(index)
    touch_stamp()
    return answer


def key_names() -> list[str]:
    """The names in the key index, sorted; reads only that file (never the keyring)."""
    return sorted(_read_index())


def _store_name(kr: Any) -> str:
    """A backend as people know it: ``SecretService Keyring``, ``macOS Keyring``…"""
    name = getattr(kr, "name", None)
    return name if isinstance(name, str) and name else type(kr).__name__


def _read_with_store(name: str) -> tuple[str | None, str | None]:
    """(value, name of the backend holding it); with several backends, the one that has it."""
    from keyring.backends import chainer

    kr = _backend()
    kids = list(kr.backends) if isinstance(kr, chainer.ChainerBackend) else [kr]
    for kid in kids:
        value = kid.get_password(SERVICE, name)
        if value:
            return value, _store_name(kid)
    return None, None


def list_keys(timeout: float | None = None) -> list[KeyEntry]:
    out = []
    index = _read_index()
    held = None
    if any(store_of(m) == "memory" for m in index.values()):
        from . import memstore

        held = memstore.listing() or {}
    for name, meta in sorted(index.items()):
        if store_of(meta) == "memory":
            from . import memstore

            got = (held or {}).get(name)
            expires = got.get("expires") if got else meta.get("expires")
            gone = ("(" + memstore.describe_expiry(float(meta["expires"])) + ")"
                    if isinstance(meta.get("expires"), int | float)
                    and float(meta["expires"]) <= time.time()
                    else "(gone: the daemon stopped)")
            masked = str(got["masked"]) if got else gone
            out.append(KeyEntry(name=name, masked=masked, management=bool(meta.get("management")),
                                store="memory", expires=expires if isinstance(
                                    expires, int | float) else None))
            continue
        value, store = _deadline(functools.partial(_read_with_store, name), timeout)
        masked = mask(value) if value else "(missing from keyring)"
        out.append(KeyEntry(name=name, masked=masked, management=bool(meta.get("management")),
                            store=store))
    return out


def is_management(name: str) -> bool:
    return bool(_read_index().get(name, {}).get("management"))


def _index_path() -> Any:
    return paths.data_dir() / "keys.json"


def _read_index() -> dict[str, dict[str, Any]]:
    return _namestore.read(_index_path())


def _write_index(index: dict[str, dict[str, Any]]) -> None:
    _namestore.write(_index_path(), index)
