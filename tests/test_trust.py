"""Trust records: path + content hash; edits, renames and symlink swaps revoke."""

from __future__ import annotations

from pathlib import Path

import pytest

from orenv import paths, trust
from orenv.errors import UntrustedPolicyError
from orenv.trust import TrustStatus


@pytest.fixture(autouse=True)
def _data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


def test_lifecycle(tmp_path: Path) -> None:
    p = str(tmp_path / ".orenv.toml")
    assert trust.status(p, b"a") is TrustStatus.NEW
    trust.allow(p, b"a")
    assert trust.status(p, b"a") is TrustStatus.ALLOWED
    assert trust.status(p, b"a ") is TrustStatus.CHANGED
    trust.deny(p)
    assert trust.status(p, b"a") is TrustStatus.DENIED
    trust.allow(p, b"a")
    assert trust.check(p, b"a")


def test_require_names_fix(tmp_path: Path) -> None:
    p = str(tmp_path / "dir with space" / ".orenv.toml")
    with pytest.raises(UntrustedPolicyError) as info:
        trust.require(p, b"x")
    assert "orenv allow '" in str(info.value) and "not allowed yet" in str(info.value)


def test_renamed_parent_revokes(tmp_path: Path) -> None:
    a = tmp_path / "a"
    a.mkdir()
    (a / ".orenv.toml").write_bytes(b"x")
    trust.allow(str(a / ".orenv.toml"), b"x")
    a.rename(tmp_path / "b")
    assert trust.status(str(tmp_path / "b" / ".orenv.toml"), b"x") is TrustStatus.NEW


def test_records_are_private_and_hold_no_content(tmp_path: Path) -> None:
    p = str(tmp_path / ".orenv.toml")
    trust.allow(p, b"SECRET-CONTENT")
    rec = paths.trust_dir() / "allow"
    assert oct(rec.stat().st_mode & 0o777) == "0o700"
    for f in rec.iterdir():
        assert b"SECRET-CONTENT" not in f.read_bytes()
        assert f.stat().st_mode & 0o077 == 0


def test_hash_distinguishes_path_and_content() -> None:
    assert trust.content_hash("/a", b"b") != trust.content_hash("/a", b"c")
    assert trust.content_hash("/a", b"b") != trust.content_hash("/b", b"b")
