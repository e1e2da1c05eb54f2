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
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .. import paths
from .._fsutil import atomic_write
from ..activation import resolve_for_exec
from ..claude import _secretish, helper_command, helper_record, helper_record_file
from ..errors import OrenvError, UsageError
from ._common import cwd

__all__ = ["desired", "helper_off", "helper_on", "register"]

_ABSENT = {"absent": True}  # recorded "previous value" of an entry that did not exist


def desired(directory: str, orenv_bin: str) -> tuple[str, dict[str, str]]:
    """The apiKeyHelper command and env block for *directory*'s policy (no key read)."""

    def no_key(_name: str) -> str:
        return ""  # the key is never needed to build the settings

    _, env = resolve_for_exec(directory, {}, read_key=no_key)
    env.pop("ANTHROPIC_AUTH_TOKEN", None)
    return helper_command(orenv_bin, directory), env


def _load(path: Path) -> tuple[bool, dict[str, Any]]:
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return False, {}
    except OSError as exc:
        raise OrenvError(f"cannot read {path} ({exc.strerror})") from None
    if not raw.strip():
        return True, {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise OrenvError(f"{path} is not valid JSON; fix it first (nothing was changed)") from None
    if not isinstance(data, dict):
        raise OrenvError(f"{path} is not a JSON object; fix it first (nothing was changed)")
    return True, data


def _save(path: Path, data: dict[str, Any]) -> None:
    mode = 0o644
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        pass
    atomic_write(path, (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode(),
                 mode=mode)


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
    command, env = desired(directory, orenv_bin)
    path = Path(directory) / ".claude" / "settings.local.json"
    existed, data = _load(path)
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
    if conflicts and not force:
        names = ", ".join(f"{s.removeprefix('env.')}={_show(s, current[s])}" for s in conflicts)
        raise OrenvError(f"{path} already sets {names} differently; nothing was changed. "
                         "Remove them, or rerun with --force (`orenv helper off` puts them back)")

    lines = []
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
    path.parent.mkdir(parents=True, exist_ok=True)
    _save(path, data)
    _save_record(path, {"path": str(path), "written": written, "previous": previous,
                        "created_file": created, "created_env": created_env})
    lines.append(f"wrote apiKeyHelper and {len(env)} env entries to {path} "
                 "(no key: Claude Code asks `orenv token` for it)")
    return lines


def _restore(data: dict[str, Any], env: dict[str, Any], slot: str, prev: Any) -> None:
    target, name = (data, "apiKeyHelper") if slot == "apiKeyHelper" else (
        env, slot.removeprefix("env."))
    if prev is _ABSENT or prev == _ABSENT:
        target.pop(name, None)
    else:
        target[name] = prev


def helper_off(directory: str) -> list[str]:
    path = Path(directory) / ".claude" / "settings.local.json"
    record = helper_record(path)
    existed, data = _load(path)
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
        path.unlink()
        try:
            path.parent.rmdir()
        except OSError:
            pass  # not empty: other Claude Code files live there
        lines.append(f"removed {path} (orenv had created it)")
    else:
        _save(path, data)
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
        print(line)
    if args.action == "on":
        print(f"note: Claude Code reads .claude/ only in the directory it starts in: "
              f"run claude in {directory}")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("helper", help="write/remove Claude Code's apiKeyHelper "
                       "(.claude/settings.local.json) for helper mode")
    p.add_argument("action", choices=("on", "off"))
    p.add_argument("--dir", help="project directory where you run claude (default: current)")
    p.add_argument("--force", action="store_true",
                   help="replace different values already there (off puts them back)")
    p.set_defaults(func=run)
