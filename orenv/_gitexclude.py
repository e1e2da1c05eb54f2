"""Keep a file orenv writes out of ``git status``: a line in the repository's ``info/exclude``.

``.git/info/exclude`` is the repository's own, untracked ignore list (git
reads it for every worktree from the common git directory), so nothing
tracked (``.gitignore``) changes. orenv adds its line under a comment of its
own, only when the pattern is not there yet, and removes exactly that pair.

Only the repository's own git directory is ever written: a ``.git``
directory, or for a worktree a ``.git`` file whose ``gitdir`` points back to
it (git's own link from ``worktrees/NAME/gitdir``) and whose ``commondir``
leads to the main one. A ``.git`` file leading anywhere else (an unpacked
archive, a submodule, a hostile repository), a link at any step (``.git``,
``gitdir``, ``commondir``, ``info``, ``exclude``), a directory or file of
another user: nothing is written.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat

__all__ = ["COMMENT", "add", "entry", "remove", "repository"]

COMMENT = b"# orenv helper: Claude Code's local settings (`orenv helper off` removes this)"
_MAX = 1024 * 1024
_FLAGS = os.O_NOFOLLOW | os.O_CLOEXEC


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError:
        return None


def _small_file(path: str) -> bytes | None:
    """A small regular file (not a link) of ours, or None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | _FLAGS)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid():
            return None
        return os.read(fd, 64 * 1024)
    finally:
        os.close(fd)


def _pointer(path: str, key: bytes = b"") -> str | None:
    """The path a git pointer file holds (``gitdir: X`` or a bare path), made absolute."""
    raw = _small_file(path)
    if raw is None:
        return None
    text = raw.strip()
    if key:
        if not text.startswith(key):
            return None
        text = text[len(key):].strip()
    if not text or b"\n" in text:
        return None
    return os.path.normpath(os.path.join(os.path.dirname(path), os.fsdecode(text)))


def _own_dir(path: str) -> bool:
    st = _lstat(path)
    return st is not None and stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid()


def _git_dir(path: str) -> bool:
    """A git directory of ours, as git tells one: a real directory with a HEAD file."""
    head = _lstat(os.path.join(path, "HEAD"))
    return _own_dir(path) and head is not None and stat.S_ISREG(head.st_mode)


def repository(directory: str) -> tuple[str, str] | None:
    """(work tree root, common git directory) of *directory*'s repository, or None."""
    d = os.path.realpath(directory)
    while not os.path.lexists(os.path.join(d, ".git")):
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent
    dotgit = os.path.join(d, ".git")
    st = _lstat(dotgit)
    if st is None or stat.S_ISLNK(st.st_mode):
        return None
    if stat.S_ISDIR(st.st_mode):
        return (d, dotgit) if _git_dir(dotgit) else None
    # A worktree: .git names its git directory, which must name it back.
    gitdir = _pointer(dotgit, b"gitdir:")
    if gitdir is None or not _own_dir(gitdir) or os.path.realpath(gitdir) != gitdir:
        return None
    if _pointer(os.path.join(gitdir, "gitdir")) != dotgit:
        return None
    common = _pointer(os.path.join(gitdir, "commondir"))
    if common is None or not _git_dir(common) or os.path.realpath(common) != common:
        return None
    if os.path.dirname(os.path.dirname(gitdir)) != common:  # common/worktrees/NAME
        return None
    return d, common


def _pattern(root: str, directory: str, name: str) -> bytes | None:
    """The anchored ignore pattern for *directory*/*name* in the work tree at *root*."""
    rel = os.path.relpath(os.path.realpath(directory), root)
    if rel.startswith(".."):
        return None
    raw = os.fsencode(name if rel == "." else os.path.join(rel, name))
    if b"\n" in raw or b"\r" in raw:
        return None  # no ignore pattern can name it
    for ch in (b"\\", b"*", b"?", b"["):
        raw = raw.replace(ch, b"\\" + ch)
    if raw.endswith(b" "):
        raw = raw[:-1] + b"\\ "
    return b"/" + raw


class _Info:
    """``COMMON/info`` opened without following links; ``exclude`` read and replaced there."""

    def __init__(self, common: str, create: bool) -> None:
        self.path = os.path.join(common, "info", "exclude")
        self.fd = -1
        top = os.open(common, os.O_RDONLY | os.O_DIRECTORY | _FLAGS)
        try:
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir("info", 0o755, dir_fd=top)
            self.fd = os.open("info", os.O_RDONLY | os.O_DIRECTORY | _FLAGS, dir_fd=top)
        finally:
            os.close(top)
        if os.fstat(self.fd).st_uid != os.getuid():
            self.close()
            raise PermissionError(errno.EPERM, "not ours")

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def read(self) -> tuple[bytes, int]:
        try:
            fd = os.open("exclude", os.O_RDONLY | os.O_NONBLOCK | _FLAGS, dir_fd=self.fd)
        except FileNotFoundError:
            return b"", 0o644
        try:
            st = os.fstat(fd)
            if (not stat.S_ISREG(st.st_mode) or st.st_nlink != 1
                    or st.st_uid != os.getuid() or st.st_size > _MAX):
                raise PermissionError(errno.EPERM, "not a plain file of ours")
            return os.read(fd, _MAX + 1), stat.S_IMODE(st.st_mode)
        finally:
            os.close(fd)

    def write(self, data: bytes, mode: int) -> None:
        tmp = f".exclude.{secrets.token_hex(6)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _FLAGS, 0o600, dir_fd=self.fd)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fchmod(fh.fileno(), mode)
                os.fsync(fh.fileno())
            os.replace(tmp, "exclude", src_dir_fd=self.fd, dst_dir_fd=self.fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=self.fd)
            raise


def entry(directory: str, name: str) -> tuple[str, bytes] | None:
    """(common git directory, pattern) for *directory*/*name*: equal means one shared line."""
    found = repository(directory)
    if found is None:
        return None
    pattern = _pattern(found[0], directory, name)
    return None if pattern is None else (found[1], pattern)


def add(directory: str, name: str) -> str | None:
    """Exclude *directory*/*name* in its repository; the exclude file's path if a line was added.

    None: not in a repository orenv may write to, or the pattern is there already.
    """
    found = entry(directory, name)
    if found is None:
        return None
    common, pattern = found
    try:
        info = _Info(common, create=True)
    except OSError:
        return None
    try:
        data, mode = info.read()
        if pattern in data.splitlines():
            return None  # ignored already (by the user, or by an earlier `on`)
        if data and not data.endswith(b"\n"):
            data += b"\n"
        info.write(data + COMMENT + b"\n" + pattern + b"\n", mode)
        return info.path
    except OSError:
        return None
    finally:
        info.close()


def remove(directory: str, name: str) -> str | None:
    """Take back what :func:`add` wrote for *directory*/*name*; the file's path if it did."""
    found = entry(directory, name)
    if found is None:
        return None
    common, pattern = found
    try:
        info = _Info(common, create=False)
    except OSError:
        return None
    try:
        data, mode = info.read()
        lines = data.splitlines(keepends=True)
        for i in range(len(lines) - 1):
            if lines[i].rstrip(b"\r\n") == COMMENT and lines[i + 1].rstrip(b"\r\n") == pattern:
                info.write(b"".join(lines[:i] + lines[i + 2:]), mode)
                return info.path
        return None  # not orenv's line (or gone already): left alone
    except OSError:
        return None
    finally:
        info.close()
