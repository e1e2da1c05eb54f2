"""orenv.places: where Claude Code reads project settings, and who could change them.

The layouts are the ones measured with Claude Code 2.1.332 (module docstring);
tests/e2e/test_hostile_settings.py runs the real CLI against the dangerous ones.
"""

from __future__ import annotations

import grp
import os
import pwd
import subprocess
from pathlib import Path

import pytest

from orenv.places import others_can_change, places

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
           "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent", "PATH": os.environ["PATH"]}
NOBODY = pwd.getpwnam("nobody").pw_uid


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True)


def test_plain_directory_is_only_itself(tmp_path: Path) -> None:
    d = tmp_path / "a" / "b"
    d.mkdir(parents=True)
    found = places(str(d))
    assert found.dirs == [str(d)] and not found.problems
    # A .git appearing in any parent would move the root there: all watched.
    assert str(tmp_path / "a" / ".git") in found.watch and "/.git" in found.watch


def test_repository_walks_up_to_the_git_root(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    sub = tmp_path / "src" / "pkg"
    sub.mkdir(parents=True)
    assert places(str(sub)).dirs == [str(sub), str(tmp_path / "src"), str(tmp_path)]


def test_worktree_reads_the_main_checkout(tmp_path: Path) -> None:
    main = tmp_path / "main"
    main.mkdir()
    git("init", "-q", cwd=main)
    (main / "f").write_text("x")
    git("add", "f", cwd=main)
    git("commit", "-qm", "x", cwd=main)
    git("worktree", "add", "-q", str(tmp_path / "wt"), cwd=main)
    (tmp_path / "wt" / "sub").mkdir()
    found = places(str(tmp_path / "wt" / "sub"))
    assert str(main) in found.dirs and str(tmp_path / "wt") in found.dirs
    assert str(main / ".git" / "worktrees" / "wt" / "commondir") in found.watch
    assert not found.problems


def test_unpacked_archive_with_a_git_file(tmp_path: Path) -> None:
    """No git command needed: a tarball can carry the .git file and its target."""
    t = tmp_path / "t"
    wt = t / "x" / ".git" / "worktrees" / "wt"
    wt.mkdir(parents=True)
    (t / ".git").write_text("gitdir: x/.git/worktrees/wt\n")
    (wt / "commondir").write_text("../..\n")
    (t / "sub").mkdir()
    assert str(t / "x") in places(str(t / "sub")).dirs


def test_git_file_without_commondir_keeps_its_holder(tmp_path: Path) -> None:
    """A submodule, or a gitdir that is not there: the holder is the root."""
    s = tmp_path / "s"
    (s / ".git" / "modules" / "sub").mkdir(parents=True)
    (s / "sub" / "deep").mkdir(parents=True)
    (s / "sub" / ".git").write_text("gitdir: ../.git/modules/sub\n")
    assert places(str(s / "sub" / "deep")).dirs == [str(s / "sub" / "deep"), str(s / "sub")]
    (s / "sub" / ".git").write_text("gitdir: /nonexistent/.git\n")
    assert not places(str(s / "sub" / "deep")).problems


def test_physical_path_is_walked_too(tmp_path: Path) -> None:
    """Claude Code uses getcwd(): a symlinked directory leads into another repository."""
    evil = tmp_path / "evil"
    (evil / ".git").mkdir(parents=True)
    (evil / "deep").mkdir()
    clone = tmp_path / "clone"
    clone.mkdir()
    (clone / "vendored").symlink_to(evil / "deep")
    assert str(evil) in places(str(clone / "vendored")).dirs


@pytest.mark.parametrize("what", ["link", "fifo", "not-utf8", "empty"])
def test_commondir_that_cannot_be_read_is_a_problem(tmp_path: Path, what: str) -> None:
    t = tmp_path / "t"
    g = t / "g"
    g.mkdir(parents=True)
    (t / ".git").write_text("gitdir: g\n")
    c = g / "commondir"
    if what == "link":
        c.symlink_to(tmp_path)
    elif what == "fifo":
        os.mkfifo(c)
    elif what == "not-utf8":
        c.write_bytes(b"\xff\xfe")
    else:
        c.write_text("  \n")
    (path, _), = places(str(t)).problems
    assert path == str(c)


def test_own_files_are_fine(tmp_path: Path) -> None:
    (tmp_path / "p" / ".claude").mkdir(parents=True)
    assert others_can_change(str(tmp_path / "p" / ".claude" / "settings.json")) is None


def test_another_users_file_behind_a_link(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    target = theirs / "settings.json"
    target.write_text("{}")
    os.chown(theirs, NOBODY, -1)
    os.chown(target, NOBODY, -1)
    link = tmp_path / "p" / ".claude" / "settings.json"
    link.parent.mkdir(parents=True)
    link.symlink_to(target)
    assert "belongs to user nobody" in (others_can_change(str(link)) or "")


@pytest.mark.parametrize(("mode", "sticky_ok"), [(0o777, False), (0o1777, True)])
def test_a_directory_others_can_write(tmp_path: Path, mode: int, sticky_ok: bool) -> None:
    shared = tmp_path / "shared"
    proj = shared / "proj"
    proj.mkdir(parents=True)
    shared.chmod(mode)
    # Absent, in a directory only you can write, below a sticky one: fine.
    assert (others_can_change(str(proj / ".claude" / "settings.json")) is None) == sticky_ok
    # Right in the shared directory, anyone may create it.
    assert "writable by everyone" in (others_can_change(str(shared / ".claude")) or "")


def test_group_writable_only_for_your_private_group(tmp_path: Path) -> None:
    d = tmp_path / "p"
    d.mkdir()
    d.chmod(0o775)
    mine = grp.getgrgid(os.getgid())
    private = mine.gr_name == pwd.getpwuid(os.getuid()).pw_name and not set(mine.gr_mem) - {
        mine.gr_name}
    assert (others_can_change(str(d / "x")) is None) == private
    other = next(g for g in grp.getgrall() if g.gr_gid != os.getgid())
    os.chown(d, -1, other.gr_gid)
    assert f"writable by group {other.gr_name}" in (others_can_change(str(d / "x")) or "")
