"""Keyring wrapper: refusal of insecure backends, deadlines, masking, index."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail, null
from memkeyring import MemoryKeyring

from orenv import secrets
from orenv.errors import (
    InsecureKeyringError,
    KeyringUnavailableError,
    SecretNotFoundError,
    UsageError,
)

KEY = "sk-or-v1-" + "d" * 64


class SlowKeyring(MemoryKeyring):
    def get_password(self, service: str, username: str) -> str | None:
        time.sleep(3)
        return None


class LockedKeyring(MemoryKeyring):
    def get_password(self, service: str, username: str) -> str | None:
        from keyring.errors import KeyringLocked

        raise KeyringLocked("Failed to unlock the collection!")


@pytest.fixture
def mem() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    kr = MemoryKeyring()
    keyring.set_keyring(kr)
    yield kr
    keyring.set_keyring(previous)


def test_set_get_list_rm(mem: MemoryKeyring) -> None:
    secrets.set_key("work", KEY)
    assert secrets.get_key("work") == KEY
    assert mem.store[("orenv", "work")] == KEY
    [entry] = secrets.list_keys()
    assert entry.name == "work" and entry.masked == "sk-or-v1-dd…dd" and not entry.management
    secrets.delete_key("work")
    with pytest.raises(SecretNotFoundError, match="orenv key set work"):
        secrets.get_key("work")
    with pytest.raises(SecretNotFoundError):
        secrets.delete_key("work")


def test_index_holds_no_secret(mem: MemoryKeyring) -> None:
    secrets.set_key("work", KEY, management=True)
    text = secrets._index_path().read_text()
    assert KEY not in text and KEY[9:20] not in text
    assert secrets.is_management("work")


@pytest.mark.parametrize("backend,error", [(null.Keyring, InsecureKeyringError),
                                           (fail.Keyring, KeyringUnavailableError)])
def test_insecure_or_missing_backends_refused(backend: type, error: type) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(backend())
    try:
        with pytest.raises(error, match="Secret Service"):
            secrets.get_key("work")
    finally:
        keyring.set_keyring(previous)


def test_backend_detection_starts_no_process(tmp_path: Path) -> None:
    """keyring's own discovery runs ldconfig and gcc on Linux; orenv's must not."""
    script = ("from orenv import secrets\n"
              "try:\n    secrets.check_backend(5)\nexcept Exception:\n    pass\n")
    log = tmp_path / "strace.txt"
    subprocess.run(["strace", "-f", "-qq", "-e", "trace=execve", "-o", str(log),
                    sys.executable, "-c", script], check=True, timeout=60,
                   env={k: v for k, v in os.environ.items() if k != "PYTHON_KEYRING_BACKEND"})
    execs = [ln for ln in log.read_text().splitlines() if "execve(" in ln]
    assert len(execs) == 1, execs  # the interpreter itself, nothing else


def test_hung_keyring_times_out() -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(SlowKeyring())
    try:
        start = time.monotonic()
        with pytest.raises(KeyringUnavailableError, match="did not answer"):
            secrets.get_key("work", timeout=0.5)
        assert time.monotonic() - start < 1.5
    finally:
        keyring.set_keyring(previous)


def test_locked_keyring_message() -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(LockedKeyring())
    try:
        with pytest.raises(KeyringUnavailableError, match="locked"):
            secrets.get_key("work")
    finally:
        keyring.set_keyring(previous)


@pytest.mark.parametrize("name", ["", "a b", "../x", "x" * 65, "-x", "a/b"])
def test_bad_names(name: str) -> None:
    with pytest.raises(UsageError):
        secrets.validate_name(name)


def test_mask() -> None:
    assert secrets.mask(KEY) == "sk-or-v1-dd…dd"
    assert secrets.mask("short") == "…"
    assert "abcdefghijkl" not in secrets.mask("abcdefghijklmnop")
    assert secrets.looks_like_key(KEY) and not secrets.looks_like_key(KEY + "0")
