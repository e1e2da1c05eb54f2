"""`orenv helper on|off` keeps `.claude/settings.local.json` out of `git status`.

The line goes to the repository's own ``info/exclude`` (never the tracked
``.gitignore``), for a worktree the main repository's (git reads it from the
common directory), with a comment of orenv's; ``off`` takes back exactly that
pair. Real git checks the result. Nothing is written through a link, nor
into a git directory a ``.git`` file merely names (no back-link from git).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import Home, make_policy, run_orenv

POLICY = '[openrouter]\nkey = "work"\nmode = "helper"\n'
COMMENT = "# orenv helper: Claude Code's local settings (`orenv helper off` removes this)"


def git(*args: str | Path) -> str:
    return subprocess.run(["git", *map(str, args)], capture_output=True, text=True,
                          check=True, timeout=30).stdout


def repo(path: Path) -> Path:
    git("init", "-q", path)
    git("-C", path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q",
        "--allow-empty", "-m", "init")
    return path


def untracked(path: Path) -> list[str]:
    return git("-C", path, "status", "--porcelain", "--untracked-files=all").splitlines()


@pytest.fixture
def proj(home: Home) -> Path:
    return make_policy(home, "proj", POLICY)


def helper(home: Home, action: str, where: Path) -> list[str]:
    return run_orenv(home, "helper", action, "--dir", str(where), check=True).stdout.splitlines()


def test_subdirectory_and_special_characters(home: Home, proj: Path) -> None:
    main = repo(proj / "main")
    sub = main / "a b*[x]"
    sub.mkdir()
    exclude = main / ".git" / "info" / "exclude"
    before = exclude.read_text()
    out = helper(home, "on", sub)
    assert f"added .claude/settings.local.json to {exclude}, so `git status` does not show " \
        "it" in out
    assert exclude.read_text() == before + COMMENT + "\n/a b\\*\\[x]/.claude/settings.local.json\n"
    assert untracked(main) == []
    assert not (main / ".gitignore").exists()
    out = helper(home, "off", sub)
    assert out[-1] == f"removed .claude/settings.local.json from {exclude} (orenv had added it)"
    assert exclude.read_text() == before


def test_worktree_uses_the_common_exclude_and_shares_the_line(home: Home, proj: Path) -> None:
    main = repo(proj / "main")
    wt = proj / "wt"
    git("-C", main, "worktree", "add", "-q", wt)
    exclude = main / ".git" / "info" / "exclude"
    before = exclude.read_text()
    helper(home, "on", wt)
    assert exclude.read_text().endswith(COMMENT + "\n/.claude/settings.local.json\n")
    assert untracked(wt) == []
    # The main checkout's helper needs the same line: it is there already.
    out = helper(home, "on", main)
    assert not [ln for ln in out if "exclude" in ln]
    assert untracked(main) == []
    # off in the worktree leaves it for the main checkout; off there takes it back.
    out = helper(home, "off", wt)
    assert not [ln for ln in out if "exclude" in ln]
    assert untracked(main) == []
    helper(home, "off", main)
    assert exclude.read_text() == before


def test_a_line_the_user_had_is_left_alone(home: Home, proj: Path) -> None:
    main = repo(proj / "main")
    exclude = main / ".git" / "info" / "exclude"
    exclude.write_text("/.claude/settings.local.json\n")
    out = helper(home, "on", main)
    assert not [ln for ln in out if "exclude" in ln]
    helper(home, "off", main)
    assert exclude.read_text() == "/.claude/settings.local.json\n"


def test_no_repository_no_line(home: Home, proj: Path) -> None:
    out = helper(home, "on", proj)
    assert not [ln for ln in out if "exclude" in ln]
    assert (proj / ".claude" / "settings.local.json").exists()


def test_links_and_foreign_git_dirs_are_never_written(home: Home, proj: Path,
                                                      tmp_path: Path) -> None:
    victim = repo(tmp_path / "victim")
    v_exclude = victim / ".git" / "info" / "exclude"
    v_before = v_exclude.read_bytes()
    # A .git file naming another repository's git directory (no back-link there).
    named = proj / "named"
    named.mkdir()
    (named / ".git").write_text(f"gitdir: {victim / '.git'}\n")
    # A .git that is a link to another repository's.
    linked = proj / "linked"
    linked.mkdir()
    (linked / ".git").symlink_to(victim / ".git")
    for where in (named, linked):
        out = helper(home, "on", where)
        assert not [ln for ln in out if "exclude" in ln], where
        helper(home, "off", where)
    assert v_exclude.read_bytes() == v_before
    # info, or exclude itself, a link: nothing written through it.
    own = repo(proj / "own")
    info = own / ".git" / "info"
    (info / "exclude").unlink()
    target = tmp_path / "target"
    target.write_text("keep\n")
    (info / "exclude").symlink_to(target)
    out = helper(home, "on", own)
    assert not [ln for ln in out if "exclude" in ln]
    helper(home, "off", own)
    (info / "exclude").unlink()
    os.rmdir(info)
    (own / ".git" / "info").symlink_to(tmp_path)
    out = helper(home, "on", own)
    assert not [ln for ln in out if "exclude" in ln]
    assert target.read_text() == "keep\n" and not (tmp_path / "exclude").exists()
