"""Where Claude Code, started in a directory, reads project settings, and who can change them.

Measured with Claude Code 2.1.332 (tests/e2e/test_hostile_settings.py): it
reads the start directory's ``.claude/settings.json`` and
``settings.local.json``, and the ``settings.local.json`` of its git root: the
nearest directory holding ``.git`` above its *physical* working directory
(``getcwd``, not ``$PWD``); when that ``.git`` is a file (``gitdir: G``, a
worktree or an unpacked archive) and ``G/commondir`` exists, the directory
above the common directory (the main checkout) instead.

orenv checks a superset: every directory from the start up to the ``.git``
holder, along both the logical and the physical path, plus the common root.
A ``.git`` or ``commondir`` it cannot read refuses the key rather than guess.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import stat
from dataclasses import dataclass, field

__all__ = ["Places", "git_root", "others_can_change", "places"]

_MAX_GIT_FILE = 64 * 1024


@dataclass
class Places:
    """What :func:`places` found for one start directory."""

    dirs: list[str]  # the start directory first; every one whose local settings may be read
    watch: list[str] = field(default_factory=list)  # a change here can move the git root
    problems: list[tuple[str, str]] = field(default_factory=list)  # (path, why unreadable)


def places(directory: str) -> Places:
    start = os.path.abspath(directory)
    out = Places([start])
    for begin in dict.fromkeys((start, os.path.realpath(start))):
        walked, holder = _walk_up(begin)
        out.watch += [os.path.join(d, ".git") for d in walked]
        if holder is None:
            continue  # not in a repository: only the start directory (a parent's .git is watched)
        out.dirs += walked
        for root in _common_roots(holder, out):
            out.dirs.append(root)
    out.dirs = list(dict.fromkeys(out.dirs))
    out.watch = list(dict.fromkeys(out.watch))
    return out


def git_root(directory: str) -> str | None:
    """The directory whose ``settings.local.json`` Claude Code started at or below
    *directory* reads as its git root (the main checkout for a worktree), or None."""
    _, holder = _walk_up(os.path.realpath(directory))
    if holder is None:
        return None
    roots = _common_roots(holder, Places([]))
    return roots[0] if roots else holder


def _walk_up(begin: str) -> tuple[list[str], str | None]:
    """Directories from *begin* up to the nearest holding ``.git`` (None: up to /)."""
    walked = []
    d = begin
    while True:
        walked.append(d)
        if os.path.lexists(os.path.join(d, ".git")):
            return walked, d
        parent = os.path.dirname(d)
        if parent == d:
            return walked, None
        d = parent


def _common_roots(holder: str, out: Places) -> list[str]:
    """The main checkout(s) a ``.git`` file leads to; problems go to *out*."""
    dotgit = os.path.join(holder, ".git")
    try:
        st = os.stat(dotgit)  # a link is followed: what it points to decides
    except OSError:
        return []  # a dangling link: Claude Code then keeps to the holder
    if stat.S_ISDIR(st.st_mode):
        gitdir = dotgit
    elif stat.S_ISREG(st.st_mode):
        text = _small_text(dotgit, out)
        if text is None:
            return []
        line = text.strip()
        if not line.startswith("gitdir:"):
            return []  # Claude Code ignores such a file; the holder stays the root
        gitdir = os.path.normpath(os.path.join(holder, line[7:].strip()))
    else:
        out.problems.append((dotgit, "is neither a file nor a directory"))
        return []
    commondir = os.path.join(gitdir, "commondir")
    out.watch.append(commondir)
    if gitdir != dotgit:
        out.watch.append(gitdir)
    if not os.path.lexists(commondir):
        return []
    if os.path.islink(commondir):
        out.problems.append((commondir, "is a symbolic link"))
        return []
    text = _small_text(commondir, out)
    if text is None:
        return []
    target = text.strip()
    if not target:
        out.problems.append((commondir, "is empty"))
        return []
    common = os.path.normpath(os.path.join(gitdir, target))
    # The main checkout is the directory above the common .git; a bare common
    # directory is checked as well, to be sure.
    return [os.path.dirname(common), common]


def _small_text(path: str, out: Places) -> str | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        out.problems.append((path, f"cannot be read ({exc.strerror})"))
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            out.problems.append((path, "is not a regular file"))
            return None
        raw = os.read(fd, _MAX_GIT_FILE + 1)
    except OSError as exc:
        out.problems.append((path, f"cannot be read ({exc.strerror})"))
        return None
    finally:
        os.close(fd)
    if len(raw) > _MAX_GIT_FILE:
        out.problems.append((path, "is too large"))
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        out.problems.append((path, "is not UTF-8"))
        return None


def others_can_change(path: str, _seen: dict[str, str | None] | None = None) -> str | None:
    """Why someone other than you (or root) could change what *path* holds, or None.

    *path* need not exist: then whoever can write its nearest existing
    directory can create it. Checked along the physical path, every directory
    up to ``/``, like ssh's StrictModes: each must be yours or root's and not
    writable by others, unless it is sticky (``/tmp``) and the entry below it
    is yours. A group-writable entry is fine when the group is your own user
    private group. *_seen* caches answers per directory within one check.
    """
    seen = {} if _seen is None else _seen
    p = path
    while not os.path.lexists(p):
        parent = os.path.dirname(p)
        if parent == p:
            return None
        p = parent
    # Whoever can write the directory holding a link can re-point it: both chains.
    if os.path.islink(p):
        link_dir = _chain(os.path.realpath(os.path.dirname(p)), seen, below_is_mine=True)
        if link_dir:
            return link_dir
    return _chain(os.path.realpath(p), seen, below_is_mine=False)


def _chain(p: str, seen: dict[str, str | None], *, below_is_mine: bool) -> str | None:
    key = f"{p}\0{below_is_mine}"
    if key in seen:
        return seen[key]
    try:
        st = os.stat(p)
    except OSError as exc:
        answer: str | None = f"{p} cannot be checked ({exc.strerror})"
        seen[key] = answer
        return answer
    answer = _entry_problem(p, st, below_is_mine)
    if answer is None:
        parent = os.path.dirname(p)
        if parent != p:
            # p is yours or root's by now: in a sticky parent nobody else can replace it.
            answer = _chain(parent, seen, below_is_mine=True)
    seen[key] = answer
    return answer


def _entry_problem(p: str, st: os.stat_result, below_is_mine: bool) -> str | None:
    me = os.getuid()
    if st.st_uid not in (me, 0):
        return f"{p} belongs to {_user(st.st_uid)}"
    sticky = stat.S_ISDIR(st.st_mode) and bool(st.st_mode & stat.S_ISVTX)
    if sticky and below_is_mine:
        return None  # others may add entries here, not replace yours or root's
    if st.st_mode & 0o002:
        return f"{p} is writable by everyone"
    if st.st_mode & 0o020 and not _own_private_group(st.st_gid):
        return f"{p} is writable by group {_group(st.st_gid)}"
    return None


def _own_private_group(gid: int) -> bool:
    """The user-private-group convention: your primary group, named after you, no members."""
    if gid != os.getgid():
        return False
    try:
        group = grp.getgrgid(gid)
        user = pwd.getpwuid(os.getuid())
    except KeyError:
        return False
    return group.gr_name == user.pw_name and set(group.gr_mem) <= {user.pw_name}


def _user(uid: int) -> str:
    with contextlib.suppress(KeyError):
        return f"user {pwd.getpwuid(uid).pw_name}"
    return f"uid {uid}"


def _group(gid: int) -> str:
    with contextlib.suppress(KeyError):
        return grp.getgrgid(gid).gr_name
    return str(gid)
