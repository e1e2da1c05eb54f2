"""Trust records: a policy applies only after ``orenv allow``.

A record is kept per policy path (file name: SHA-256 of the path) and holds
the SHA-256 of the path plus the file's bytes, so any edit, a swapped symlink
target or a renamed parent directory revokes it. Records hold no secrets.

The path is the policy's *real directory* plus its name: a project reached as
``//home/me/proj`` (bash keeps a leading ``//``) or through a symlinked
directory is the same project, allowed once. The file itself is not resolved:
a ``.orenv.toml`` that is a link is judged by the content it points to now.
"""

from __future__ import annotations

import hashlib
import os
from enum import Enum
from pathlib import Path

from . import paths
from ._fsutil import atomic_write
from .errors import UntrustedPolicyError

__all__ = ["TrustStatus", "allow", "allowed_paths", "canonical", "check", "content_hash", "deny",
           "require", "status"]


class TrustStatus(Enum):
    ALLOWED = "allowed"
    NEW = "not allowed yet"
    CHANGED = "changed since it was allowed"
    DENIED = "denied"


def canonical(path: str) -> str:
    """The path trust is recorded for: the real directory, then the file's own name."""
    full = os.path.abspath(path)
    return os.path.join(os.path.realpath(os.path.dirname(full)), os.path.basename(full))


def _path_id(path: str) -> str:
    return hashlib.sha256(os.fsencode(canonical(path))).hexdigest()


def content_hash(path: str, content: bytes) -> str:
    h = hashlib.sha256(os.fsencode(canonical(path)))
    h.update(b"\0")
    h.update(content)
    return h.hexdigest()


def _allow_record(path: str) -> Path:
    return paths.trust_dir() / "allow" / _path_id(path)


def _deny_record(path: str) -> Path:
    return paths.trust_dir() / "deny" / _path_id(path)


def status(path: str, content: bytes) -> TrustStatus:
    try:
        recorded = _allow_record(path).read_bytes().split(b"\n", 1)[0].strip().decode("ascii")
    except (FileNotFoundError, NotADirectoryError):
        recorded = ""
    except (OSError, UnicodeDecodeError):
        recorded = ""
    if recorded:
        return (TrustStatus.ALLOWED if recorded == content_hash(path, content)
                else TrustStatus.CHANGED)
    if _deny_record(path).exists():
        return TrustStatus.DENIED
    return TrustStatus.NEW


def allowed_paths() -> list[str]:
    """Every policy path `orenv allow` recorded (the file may have changed or gone since)."""
    found = []
    try:
        records = sorted((paths.trust_dir() / "allow").iterdir())
    except OSError:
        return []
    for rec in records:
        try:
            lines = rec.read_bytes().split(b"\n")
        except OSError:
            continue
        if len(lines) > 1 and lines[1]:
            found.append(os.fsdecode(lines[1]))
    return sorted(found)


def check(path: str, content: bytes) -> bool:
    return status(path, content) is TrustStatus.ALLOWED


def require(path: str, content: bytes) -> None:
    st = status(path, content)
    if st is not TrustStatus.ALLOWED:
        raise UntrustedPolicyError(path, st.value)


def allow(path: str, content: bytes) -> None:
    path = canonical(path)
    paths.ensure_private_dir(paths.trust_dir() / "allow")
    # The path as the file system has it: bytes that are not UTF-8 stay as they are.
    atomic_write(_allow_record(path),
                 content_hash(path, content).encode() + b"\n" + os.fsencode(path) + b"\n")
    _deny_record(path).unlink(missing_ok=True)


def deny(path: str) -> None:
    path = canonical(path)
    _allow_record(path).unlink(missing_ok=True)
    paths.ensure_private_dir(paths.trust_dir() / "deny")
    atomic_write(_deny_record(path), os.fsencode(path) + b"\n")
