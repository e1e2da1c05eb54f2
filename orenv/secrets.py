"""Keys in the OS keyring (service ``orenv``, user = key name).

Every keyring call runs with a deadline, so a locked or hung keyring gives a
one-line error instead of a stuck prompt. Backends that store plaintext or
nothing are refused. Key names (never values) are indexed in a small file so
``orenv key list`` can enumerate them; the keyring API cannot.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from . import _namestore, paths
from ._fsutil import touch_stamp
from .errors import (
    InsecureKeyringError,
    KeyringUnavailableError,
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
    "set_key",
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
        raise KeyringUnavailableError(
            "no keyring available: start a Secret Service (gnome-keyring or KeePassXC) "
            "in this session (is DBUS_SESSION_BUS_ADDRESS set?); orenv never stores keys "
            "in files")
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
            box["error"] = exc

    worker = threading.Thread(target=target, name="orenv-keyring", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise KeyringUnavailableError(
            f"the keyring did not answer within {timeout:g} s (locked or hung?); "
            "unlock it and try again")
    if "error" in box:
        raise _translate(box["error"]) from None
    return box["value"]  # type: ignore[no-any-return]


def _translate(exc: BaseException) -> BaseException:
    """Map backend exceptions to one-line errors that carry no secret."""
    from keyring import errors as kerr

    if isinstance(exc, KeyringUnavailableError | SecretNotFoundError | UsageError):
        return exc
    if isinstance(exc, kerr.KeyringLocked):
        return KeyringUnavailableError("the keyring is locked; unlock it and try again")
    if isinstance(exc, kerr.NoKeyringError | kerr.InitError):
        return KeyringUnavailableError(
            "no keyring available: start a Secret Service (gnome-keyring) in this session")
    if isinstance(exc, kerr.PasswordDeleteError):
        return SecretNotFoundError("no such key in the keyring")
    # secretstorage / jeepney / dbus errors: the service is not reachable.
    return KeyringUnavailableError(
        f"the keyring is unavailable ({type(exc).__name__}); is the Secret Service "
        "running and DBUS_SESSION_BUS_ADDRESS set?")


def get_key(name: str, timeout: float | None = None) -> str:
    validate_name(name)

    def read() -> str | None:
        return _backend().get_password(SERVICE, name)  # type: ignore[no-any-return]

    value = _deadline(read, timeout)
    if not value:
        raise SecretNotFoundError(
            f"key {name!r} is not in the keyring; store it with `orenv key set {name}`")
    return value


def set_key(name: str, value: str, *, management: bool = False,
            timeout: float | None = None) -> None:
    validate_name(name)
    if not value or "\n" in value or "\x00" in value:
        raise UsageError("the key is empty or spans lines; paste just the key")

    def write() -> None:
        _backend().set_password(SERVICE, name, value)

    _deadline(write, timeout if timeout is not None else max(DEFAULT_TIMEOUT, 5.0))
    index = _read_index()
    index[name] = {"management": management}
    _write_index(index)
    touch_stamp()


def delete_key(name: str, timeout: float | None = None) -> None:
    validate_name(name)
    index = _read_index()

    def remove() -> bool:
        from keyring.errors import PasswordDeleteError

        try:
            _backend().delete_password(SERVICE, name)
        except PasswordDeleteError:
            return False
        return True

    existed = _deadline(remove, timeout if timeout is not None else max(DEFAULT_TIMEOUT, 5.0))
    if not existed and name not in index:
        raise SecretNotFoundError(f"no key named {name!r}; see `orenv key list`")
    index.pop(name, None)
    _write_index(index)
    touch_stamp()


def key_names() -> list[str]:
    """The names in the key index, sorted; reads only that file (never the keyring)."""
    return sorted(_read_index())


def list_keys(timeout: float | None = None) -> list[KeyEntry]:
    out = []
    for name, meta in sorted(_read_index().items()):
        try:
            masked = mask(get_key(name, timeout))
        except SecretNotFoundError:
            masked = "(missing from keyring)"
        out.append(KeyEntry(name=name, masked=masked, management=bool(meta.get("management"))))
    return out


def is_management(name: str) -> bool:
    return bool(_read_index().get(name, {}).get("management"))


def _index_path() -> Any:
    return paths.data_dir() / "keys.json"


def _read_index() -> dict[str, dict[str, Any]]:
    return _namestore.read(_index_path())


def _write_index(index: dict[str, dict[str, Any]]) -> None:
    _namestore.write(_index_path(), index)
