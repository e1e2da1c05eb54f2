"""`orenv helper on|off [--dir D]`: Claude Code's apiKeyHelper in .claude/settings.local.json.

``on`` merges into ``D/.claude/settings.local.json`` an ``apiKeyHelper`` that
runs ``orenv token --dir D`` and the policy's non-secret variables in ``env``
(base URL, empty ``ANTHROPIC_API_KEY``, models, ``[env]``, routing and
attribution). The key itself is never written. Other settings are kept; a
different value the user put there is not replaced unless ``--force``.

What was added (and any value it replaced, never a secret one) is recorded
under ``$XDG_DATA_HOME/orenv/helper/``, so ``off`` removes exactly that, and
leaves alone anything the user changed since.

Claude Code reads ``.claude/`` only in the directory it starts in, so D is
where you run ``claude`` (default: the current directory).

In a git repository ``on`` also adds ``.claude/settings.local.json`` to the
repository's own ``info/exclude`` (never the tracked ``.gitignore``), so
``git status`` does not show it; ``off`` removes that line (``_gitexclude``).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import secrets
import shlex
import stat
from pathlib import Path
from typing import Any

from .. import _gitexclude, paths
from .._fsutil import atomic_write
from ..activation import trusted_policy
from ..claude import _secretish, helper_command, helper_record, helper_record_file
from ..errors import OrenvError, UsageError
from ..paths import POLICY_NAME
from ..render import policy_env
from ._common import cwd, say

__all__ = ["desired", "helper_off", "helper_on", "register", "sync_all"]

_ABSENT = {"absent": True}  # recorded "previous value" of an entry that did not exist


def desired(directory: str, orenv_bin: str) -> tuple[str, dict[str, str]]:
    """The apiKeyHelper command and env block for *directory*'s policy (no key read).

    Claude Code's settings are not judged here: the key is only ever handed
    out by ``orenv token``, which checks them (and this file is orenv's own).
    """
    policy = trusted_policy(directory)
    if policy is None:
        raise OrenvError(f"no {POLICY_NAME} at or above {directory}; run `orenv init` there")
    if not policy.enabled:
        raise OrenvError(f"orenv is disabled here by {policy.path} (enabled = false)")
    return helper_command(orenv_bin, directory), policy_env(policy, {}, key_value=None)


_NAME = "settings.local.json"
_LOCAL = f".claude/{_NAME}"  # what `on` keeps out of git status (see _gitexclude)
_MAX = 1024 * 1024


class _ClaudeDir:
    """``DIR/.claude`` opened without following links; every file operation goes
    through its descriptor, so a repository that ships ``.claude`` or
    ``settings.local.json`` as a symbolic link (or swaps one in meanwhile) never
    makes orenv read or write anywhere else."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.path = Path(directory) / ".claude" / _NAME
        self.fd: int | None = None
        try:
            self.parent_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise OrenvError(f"cannot open {directory} ({exc.strerror})") from None
        try:
            self.fd = self._open_dir()
        except FileNotFoundError:
            pass
        except BaseException:
            self.close()
            raise

    def make(self) -> None:
        """Create ``.claude`` (a real directory) if it is not there yet."""
        if self.fd is not None:
            return
        with contextlib.suppress(FileExistsError):
            os.mkdir(".claude", 0o755, dir_fd=self.parent_fd)
        self.fd = self._open_dir()

    def _open_dir(self) -> int:
        where = self.path.parent
        try:
            fd = os.open(".claude", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                         dir_fd=self.parent_fd)
        except FileNotFoundError:
            raise
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise OrenvError(f"{where} is a symbolic link or not a directory; orenv writes "
                                 "only into a real .claude directory of the project: remove "
                                 "it (nothing was changed)") from None
            raise OrenvError(f"cannot open {where} ({exc.strerror})") from None
        if os.fstat(fd).st_uid != os.getuid():
            os.close(fd)
            raise OrenvError(f"{where} belongs to another user; orenv does not write there "
                             "(nothing was changed)")
        return fd

    def close(self) -> None:
        for fd in (self.fd, self.parent_fd):
            if fd is not None and fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.fd = None
        self.parent_fd = -1

    def __enter__(self) -> _ClaudeDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def load(self) -> tuple[bool, dict[str, Any], int]:
        """(existed, data, mode) of settings.local.json; refuses links and odd files."""
        if self.fd is None:
            return False, {}, 0o644
        try:
            fd = os.open(_NAME, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                         dir_fd=self.fd)
        except FileNotFoundError:
            return False, {}, 0o644
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise OrenvError(f"{self.path} is a symbolic link; orenv never writes through "
                                 "one: remove it (nothing was changed)") from None
            raise OrenvError(f"cannot read {self.path} ({exc.strerror})") from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1 or st.st_uid != os.getuid():
                raise OrenvError(f"{self.path} is not a plain file of yours (a link, a device "
                                 "or another user's); remove it (nothing was changed)")
            raw = os.read(fd, _MAX + 1)
        finally:
            os.close(fd)
        if len(raw) > _MAX:
            raise OrenvError(f"{self.path} is larger than 1 MiB; fix it first "
                             "(nothing was changed)")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise OrenvError(f"{self.path} is not UTF-8; fix it first "
                             "(nothing was changed)") from None
        if not text.strip():
            return True, {}, stat.S_IMODE(st.st_mode)
        try:
            data = json.loads(text)
        except ValueError:
            raise OrenvError(f"{self.path} is not valid JSON; fix it first "
                             "(nothing was changed)") from None
        if not isinstance(data, dict):
            raise OrenvError(f"{self.path} is not a JSON object; fix it first "
                             "(nothing was changed)")
        return True, data, stat.S_IMODE(st.st_mode)

    def save(self, data: dict[str, Any], mode: int) -> None:
        """Replace settings.local.json atomically, inside this directory only."""
        assert self.fd is not None
        payload = (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode()
        tmp = f".{_NAME}.{secrets.token_hex(6)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600, dir_fd=self.fd)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(payload)
                fh.flush()
                os.fchmod(fh.fileno(), mode & 0o777)
                os.fsync(fh.fileno())
            os.replace(tmp, _NAME, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=self.fd)
            raise

    def remove(self) -> bool:
        """Remove settings.local.json, and .claude if that leaves it empty."""
        assert self.fd is not None
        os.unlink(_NAME, dir_fd=self.fd)
        try:
            os.rmdir(".claude", dir_fd=self.parent_fd)
        except OSError:
            return False  # not empty: other Claude Code files live there
        return True


def _save_record(path: Path, record: dict[str, Any]) -> None:
    target = helper_record_file(path)
    paths.ensure_private_dir(target.parent)
    atomic_write(target, (json.dumps(record, indent=1, sort_keys=True) + "\n").encode())


def _secret_slot(slot: str) -> bool:
    return slot.startswith("env.") and _secretish(slot)


def _show(slot: str, value: Any) -> str:
    return "(hidden)" if _secret_slot(slot) else json.dumps(value, ensure_ascii=False)


def helper_on(directory: str, orenv_bin: str, *, force: bool = False) -> list[str]:
    """Write the helper settings; returns the lines to print. Raises on conflicts."""
    try:
        directory.encode("utf-8")
    except UnicodeEncodeError:
        raise OrenvError(f"{directory} is not a UTF-8 path, which Claude Code's settings (JSON) "
                         "cannot name; use helper mode in a directory whose path is UTF-8, or "
                         "exec mode here") from None
    command, env = desired(directory, orenv_bin)
    with _ClaudeDir(directory) as cd:
        lines = _helper_on(cd, command, env, force)
    excluded = _gitexclude.add(directory, _LOCAL)
    if excluded:
        lines.append(f"added {_LOCAL} to {excluded}, so `git status` does not show it")
    return lines


def _helper_on(cd: _ClaudeDir, command: str, env: dict[str, str], force: bool,
               *, refresh: bool = False) -> list[str]:
    """Write (or with *refresh*, bring up to date) what ``helper on`` adds.

    *refresh* is the policy changing under an earlier ``on``: a value the user
    set by hand is kept (and named), nothing is written when nothing changed.
    """
    path = cd.path
    existed, data, mode = cd.load()
    before = json.dumps(data, sort_keys=True)
    record = helper_record(path) if existed else {}
    written: dict[str, Any] = dict(record.get("written") or {})
    previous: dict[str, Any] = dict(record.get("previous") or {})
    created = bool(record.get("created_file")) if existed else True
    created_env = bool(record.get("created_env")) if existed else False

    cur_env = data.get("env")
    if cur_env is not None and not isinstance(cur_env, dict):
        raise OrenvError(f"{path}: env is not an object; fix it first (nothing was changed)")
    cur_env = dict(cur_env or {})
    if "ANTHROPIC_AUTH_TOKEN" in cur_env:
        raise OrenvError(f"{path} holds ANTHROPIC_AUTH_TOKEN in env (a plaintext key that would "
                         "override the helper); remove it and rotate that key, then retry")

    wanted: dict[str, Any] = {"apiKeyHelper": command}
    wanted.update({f"env.{k}": v for k, v in env.items()})
    current: dict[str, Any] = {"apiKeyHelper": data.get("apiKeyHelper", _ABSENT)}
    current.update({f"env.{k}": v for k, v in cur_env.items()})

    conflicts = []
    for slot, value in wanted.items():
        have = current.get(slot, _ABSENT)
        if have is _ABSENT or have == value:
            continue
        if slot in written and written[slot] == have:
            continue  # ours from an earlier `on`: refresh it
        conflicts.append(slot)
    lines = []
    if conflicts and refresh:
        for slot in conflicts:
            wanted.pop(slot)
            lines.append(f"kept {slot.removeprefix('env.')} in {path}: it was changed by hand "
                         "(`orenv helper on --force` replaces it)")
    elif conflicts and not force:
        names = ", ".join(f"{s.removeprefix('env.')}={_show(s, current[s])}" for s in conflicts)
        raise OrenvError(f"{path} already sets {names} differently; nothing was changed. "
                         "Remove them, or rerun with --force (`orenv helper off` puts them back)")

    # Entries from an earlier `on` the policy no longer has: take them back.
    for slot in list(written):
        if slot not in wanted and current.get(slot, _ABSENT) == written[slot]:
            _restore(data, cur_env, slot, previous.get(slot, _ABSENT))
            written.pop(slot)
            previous.pop(slot, None)
    for slot, value in wanted.items():
        have = current.get(slot, _ABSENT)
        if have == value and slot not in written:
            continue  # the user's own identical value: not ours to remove later
        if slot not in written:
            if have is not _ABSENT and _secret_slot(slot):
                # Never copy a secret into orenv's record: `off` cannot restore it.
                lines.append(f"replaced {slot.removeprefix('env.')} (a secret value; it is "
                             "not kept, `orenv helper off` will not restore it)")
            elif have is not _ABSENT:
                lines.append(f"replaced {slot.removeprefix('env.')} (was {_show(slot, have)}); "
                             "`orenv helper off` puts it back")
                previous[slot] = have
        written[slot] = value
        if slot == "apiKeyHelper":
            data["apiKeyHelper"] = value
        else:
            cur_env[slot.removeprefix("env.")] = value
    if "env" not in data and cur_env:
        created_env = True
    if cur_env or "env" in data:
        data["env"] = cur_env
    if refresh and json.dumps(data, sort_keys=True) == before:
        return lines  # already what the policy says
    cd.make()
    cd.save(data, mode)
    _save_record(path, {"path": str(path), "written": written, "previous": previous,
                        "created_file": created, "created_env": created_env})
    if refresh:
        lines.append(f"updated {path} to the policy (helper mode)")
    else:
        lines.append(f"wrote apiKeyHelper and {len(env)} env entries to {path} "
                     "(no key: Claude Code asks `orenv token` for it)")
    return lines


def sync_all() -> list[str]:
    """Bring every ``settings.local.json`` orenv wrote up to date with its policy.

    Run after a policy is (re-)allowed: ``allow``, ``set``, ``unset``,
    ``init``. Only where the directory's policy is allowed, enabled and in
    helper mode; a file that cannot be refreshed is named, never fatal.
    """
    from ..claude import helper_records
    from .hook import binary_path

    lines: list[str] = []
    for settings in helper_records():
        directory = os.path.dirname(os.path.dirname(settings))
        policy = trusted_policy(directory) if os.path.isdir(directory) else None
        if policy is None or not policy.enabled or policy.mode != "helper":
            continue  # doctor names what is left behind
        try:
            command, env = desired(directory, binary_path())
            with _ClaudeDir(directory) as cd:
                lines += _helper_on(cd, command, env, force=False, refresh=True)
        except OrenvError as exc:
            lines.append(f"orenv: warning: {settings} not updated: {exc.message}")
    return lines


def _restore(data: dict[str, Any], env: dict[str, Any], slot: str, prev: Any) -> None:
    target, name = (data, "apiKeyHelper") if slot == "apiKeyHelper" else (
        env, slot.removeprefix("env."))
    if prev is _ABSENT or prev == _ABSENT:
        target.pop(name, None)
    else:
        target[name] = prev


def helper_off(directory: str) -> list[str]:
    with _ClaudeDir(directory) as cd:
        lines = _helper_off(cd)
    if _exclude_shared(directory):
        return lines  # another worktree's `on` (same pattern, same exclude file) still needs it
    excluded = _gitexclude.remove(directory, _LOCAL)
    if excluded:
        lines.append(f"removed {_LOCAL} from {excluded} (orenv had added it)")
    return lines


def _exclude_shared(directory: str) -> bool:
    """Does another directory's helper settings use the same exclude line (worktrees)?"""
    from ..claude import helper_records

    mine = _gitexclude.entry(directory, _LOCAL)
    if mine is None:
        return False
    here = os.path.realpath(directory)
    for settings in helper_records():
        other = os.path.dirname(os.path.dirname(settings))
        if os.path.realpath(other) != here and _gitexclude.entry(other, _LOCAL) == mine:
            return True
    return False


def _helper_off(cd: _ClaudeDir) -> list[str]:
    path = cd.path
    record = helper_record(path)
    existed, data, mode = cd.load()
    if not record:
        return [f"orenv has not added anything to {path}; nothing to remove"]
    if not existed:
        helper_record_file(path).unlink(missing_ok=True)
        return [f"{path} is gone; forgot what orenv had added"]
    env = data.get("env")
    env = dict(env) if isinstance(env, dict) else {}
    written: dict[str, Any] = record.get("written") or {}
    previous: dict[str, Any] = record.get("previous") or {}
    lines = []
    removed = 0
    for slot, value in written.items():
        name = slot.removeprefix("env.")
        have = data.get("apiKeyHelper", _ABSENT) if slot == "apiKeyHelper" else env.get(
            name, _ABSENT)
        if have is _ABSENT:
            continue
        if have != value:
            lines.append(f"kept {name}: it was changed after `orenv helper on`")
            continue
        _restore(data, env, slot, previous.get(slot, _ABSENT))
        removed += 1
    if "env" in data:
        if env or not record.get("created_env"):
            data["env"] = env
        else:
            del data["env"]
    if not data and record.get("created_file"):
        cd.remove()
        lines.append(f"removed {path} (orenv had created it)")
    else:
        cd.save(data, mode)
        lines.append(f"removed {removed} entries orenv had added to {path}")
    helper_record_file(path).unlink(missing_ok=True)
    return lines


def run(args: argparse.Namespace) -> int:
    directory = cwd(args.dir)
    if args.action == "on":
        from .hook import binary_path

        lines = helper_on(directory, binary_path(), force=args.force)
    elif args.action == "off":
        lines = helper_off(directory)
    else:  # argparse choices make this unreachable
        raise UsageError("use `orenv helper on` or `orenv helper off`")
    for line in lines:
        say(line)
    if args.action == "on":
        say(where_it_applies(directory))
    return 0


def where_it_applies(directory: str) -> str:
    """Where Claude Code picks up the file: where it starts, and at its git root."""
    from ..places import git_root

    root = git_root(directory)
    if root is not None and os.path.realpath(root) == os.path.realpath(directory):
        return (f"note: Claude Code started in {directory} or any directory below it in this "
                "git repository uses it")
    hint = (f"; for the whole repository, run `orenv helper on --dir {shlex.quote(root)}`"
            if root is not None else "")
    return (f"note: Claude Code reads .claude/settings.local.json only where it starts and "
            f"at its git root: run claude in {directory}{hint}")


def register(sub: Any) -> None:
    p = sub.add_parser("helper", help="write/remove Claude Code's apiKeyHelper "
                       "(.claude/settings.local.json) for helper mode")
    p.add_argument("action", choices=("on", "off"),
                   help="on: write orenv's apiKeyHelper entries; off: remove them")
    p.add_argument("--dir", help="project directory where you run claude (default: current)")
    p.add_argument("--force", action="store_true",
                   help="replace different values already there (off puts them back)")
    p.set_defaults(func=run)
