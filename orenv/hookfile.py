"""The hook as a file an rc line sources: a shell start that runs no process.

``eval "$(orenv hook zsh)"`` starts Python at every shell start (~25 ms).
``orenv hook [SHELL] --write`` (run by ``install.sh``) writes the same hook to
``$XDG_DATA_HOME/orenv/hook.SHELL`` instead, for the rc file to source.

A cached hook must never run stale. The file starts with a check, made with
shell builtins (file tests, no process), that none of what it was made from
changed since it was written: the orenv program, the hook template, the code
that renders it, the daemon client and orenv's installed version (the
``orenv-VERSION.dist-info`` directory, gone after an upgrade). If one did, the
file loads the hook from orenv instead (``orenv hook SHELL --write``), which
writes the file anew: one process, once per upgrade or move.

The file is code the shell runs, so the rc line sources it only when it is a
regular file of the user's own, in a directory of the user's own, neither a
link (zsh also checks with ``zstat`` that no one else may write either; bash
and fish have no builtin that reads a mode); otherwise it asks
``orenv hook SHELL --write``, which says in one line why the file was not used
and writes a fresh one (never into a directory someone else could change).
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from . import __version__, paths
from ._text import safe
from .shells import SHELLS, Shell

__all__ = ["file_problem", "file_text", "hook_path", "inputs", "without_comments", "write",
           "write_all"]


def hook_path(shell_name: str) -> Path:
    """Where ``--write`` puts the hook of *shell_name*."""
    return paths.data_dir() / f"hook.{shell_name}"


def _dist_info() -> str | None:
    """The ``orenv-VERSION.dist-info`` directory of this install, if there is one."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        dist = distribution("orenv")
    except (PackageNotFoundError, OSError):
        return None
    where = getattr(dist, "_path", None)
    if where is None or dist.version != __version__:
        return None
    return os.path.abspath(str(where))


def inputs(shell: Shell) -> list[str]:
    """Files the rendered hook of *shell* depends on: newer or gone means stale."""
    from .shells import _base

    package = os.path.dirname(os.path.abspath(__file__))
    module = sys.modules[type(shell).__module__].__file__ or ""
    found = [_base.hook_source_path(shell.hook_file), os.path.abspath(_base.__file__),
             os.path.abspath(module), os.path.join(package, "__init__.py"),
             os.path.abspath(__file__), _base.client_path()]
    dist = _dist_info()
    if dist is not None:
        found.append(dist)
    return list(dict.fromkeys(found))


def _stale_posix(shell: Shell, binary: str, self_path: str, files: list[str]) -> str:
    q = shell.quote
    tests = [f"! -x {q(binary)}"]
    for f in files:
        tests.append(f"! -e {q(f)} || {q(f)} -nt {q(self_path)}")
    cond = " ||\n  ".join(tests)
    missing = (f"orenv: {self_path} is out of date and orenv is not found: "
               "the orenv hook is not loaded")
    return (f"if [[ {cond} ]]; then\n"
            f"  if [[ -x {q(binary)} ]]; then\n"
            f'    eval "$({q(binary)} hook {shell.name} --write)"\n'
            "  elif command -v orenv >/dev/null 2>&1; then\n"
            f'    eval "$(command orenv hook {shell.name} --write)"\n'
            "  else\n"
            f"    builtin printf '%s\\n' {q(missing)} >&2\n"
            "  fi\n"
            "  return 0\n"
            "fi\n")


def _stale_fish(shell: Shell, binary: str, self_path: str, files: list[str]) -> str:
    q = shell.quote
    tests = [f"not test -x {q(binary)}"]
    for f in files:
        tests.append(f"not test -e {q(f)}")
        tests.append(f"test {q(f)} -nt {q(self_path)}")
    cond = "\n    or ".join(tests)
    missing = (f"orenv: {self_path} is out of date and orenv is not found: "
               "the orenv hook is not loaded")
    return (f"if {cond}\n"
            f"    if test -x {q(binary)}\n"
            f"        {q(binary)} hook fish --write | source\n"
            "    else if command -q orenv\n"
            "        command orenv hook fish --write | source\n"
            "    else\n"
            f"        printf '%s\\n' {q(missing)} >&2\n"
            "    end\n"
            "    return 0\n"
            "end\n")


def file_text(shell: Shell, binary: str, self_path: str) -> str:
    """What ``--write`` puts in *self_path*: the staleness check, then the hook."""
    files = inputs(shell)
    head = (f"# orenv hook for {shell.name}, written by `orenv hook {shell.name} --write` "
            f"(orenv {__version__}).\n"
            "# Your rc file sources it: a shell start runs no process. It checks first, with\n"
            "# builtins, that orenv is unchanged since (upgraded, moved or edited): if not,\n"
            "# it loads the hook from orenv, which writes this file anew.\n")
    if shell.name == "nu":
        # nushell sources files at parse time: the rc block does the check (it
        # reads this line with builtins) and saves the hook again when stale.
        import json

        return (head + f"# orenv-inputs: {json.dumps([binary, *files])}\n"
                + shell.hook(binary))
    stale = _stale_fish if shell.name == "fish" else _stale_posix
    return head + stale(shell, binary, self_path, files) + without_comments(shell.hook(binary))


def without_comments(code: str) -> str:
    """*code* without its comment-only lines: a shell start parses every byte of the
    file (a fifth less time in bash), and `orenv hook SHELL` still shows them.

    Only whole lines whose first non-blank character is ``#`` go; the hooks hold
    no multi-line string in which such a line would be data (a test compares
    the functions the two define).
    """
    return "".join(line for line in code.splitlines(keepends=True)
                   if not line.lstrip().startswith("#"))


def file_problem(path: Path) -> str | None:
    """Why the hook file at *path* (or its directory) must not be sourced, if so."""
    for what, p, kind in (("directory", path.parent, stat.S_ISDIR), ("file", path, stat.S_ISREG)):
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            return None
        except OSError as exc:
            return f"cannot check it ({exc.strerror})"
        if stat.S_ISLNK(st.st_mode):
            return f"its {what} is a link" if what == "directory" else "it is a link"
        if not kind(st.st_mode):
            return "it is not a regular file" if what == "file" else "its directory is not one"
        if st.st_uid != os.getuid():
            return ("it belongs to another user" if what == "file"
                    else "its directory belongs to another user")
        if st.st_mode & 0o022:
            return ("it is writable by others" if what == "file"
                    else "its directory is writable by others")
    return None


def _make_private(directory: Path) -> str | None:
    """orenv's own data directory, made group- or world-writable by a umask such as
    002 (Fedora, RHEL) or by hand: ours, so it is made private again (0700) rather
    than given up on at every shell start; the note says so. A link, or a
    directory of another user, is left as it is (and refused by ``file_problem``)."""
    try:
        st = os.lstat(directory)
    except OSError:
        return None
    if not (stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid()
            and st.st_mode & 0o022 and directory == paths.data_dir()):
        return None
    mode = stat.S_IMODE(st.st_mode)
    try:
        os.chmod(directory, mode & ~0o077)
    except OSError:
        return None  # then refused below, in one line
    return (f"orenv: {safe(str(directory))} was writable by others (mode {mode:o}): made it "
            "private (700); its hook file was not used and is written afresh")


def write(shell_name: str, binary: str) -> str | None:
    """Write the hook file of *shell_name*; a one-line note when there is something to say.

    A file the rc line would not source (not the user's own, writable by
    others, a link) is replaced, and the note says so; a directory someone
    else could change is left alone (the shell then keeps loading the hook
    from orenv).
    """
    shell = SHELLS[shell_name]
    path = hook_path(shell_name)
    shown = safe(str(path))
    fixed = _make_private(path.parent)
    problem = file_problem(path)
    if problem is not None and "directory" in problem:
        return (f"orenv: not using {shown}: {problem}; "
                f"the hook comes from `orenv hook {shell_name}` until that is fixed")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # The dir may have been made just now, by us, or by someone else (a race).
        again = file_problem(path)
        if again is not None and "directory" in again:
            return f"orenv: not using {shown}: {again}"
        from ._fsutil import atomic_write

        text = file_text(shell, binary, str(path))
        atomic_write(path, text.encode("utf-8", "surrogateescape"), mode=0o644)
    except OSError as exc:
        return (f"orenv: cannot write {shown} ({exc.strerror}): "
                f"the hook comes from `orenv hook {shell_name}` until it can")
    if fixed is not None:
        return fixed
    if problem is not None:
        return f"orenv: did not load {shown}: {problem}; wrote a fresh one"
    return None


def write_all(binary: str) -> list[str]:
    """Write every shell's hook file; the notes, if any."""
    return [note for name in SHELLS if (note := write(name, binary)) is not None]
