"""`orenv set KEY VALUE` / `orenv unset KEY` / `orenv edit [PATH]`: edit a policy.

``set``/``unset`` edit the nearest policy keeping its comments. The edited
text is validated before it is written (nothing half-applied). A file that
was trusted before the edit is trusted again, since the user made the change;
an untrusted file stays untrusted, so `set` cannot launder an edit someone
else made.

``edit`` opens the nearest policy (or ``./.orenv.toml``, new, when there is
none, as ``direnv edit`` does) in ``$VISUAL``, else ``$EDITOR``, else ``vi``;
the command is split like a shell would (``code --wait``), never run by one.
Afterwards the file is read once and parsed, as ``orenv allow`` does: an
invalid file is named in one line (on a terminal, orenv offers to edit it
again) and left untrusted; a valid one is shown and trusted, exactly those
bytes, unless it was allowed already and did not change.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import Table

from .. import trust
from .._fsutil import atomic_write, touch_stamp
from ..errors import ExitCode, OrenvError, PolicyError, UsageError
from ..paths import POLICY_NAME
from ..policy import find_nearest, parse, read_policy_file
from ._common import confirm, cwd, interactive, say, sync_helpers, target_policy

__all__ = ["register"]

_STRING_TABLES = ("models", "env", "openrouter", "attribution")


def _value(dotted: list[str], raw: str) -> Any:
    """Strings stay strings in string tables; elsewhere TOML literals are understood."""
    if dotted[0] in _STRING_TABLES or dotted[-1] == "name":
        return raw
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _split(key: str) -> list[str]:
    parts = key.split(".")
    if not all(parts) or len(parts) > 3:
        raise UsageError(f"invalid key {key!r}; use e.g. openrouter.key, models.opus, env.NAME")
    return parts


def _edit(path: str, key: str, raw: str | None) -> None:
    original = Path(path).read_bytes()
    was_trusted = trust.check(path, original)
    try:
        doc = tomlkit.parse(original.decode("utf-8"))
    except Exception:
        parse(path, original)  # raises the exact error with its line
        raise PolicyError(path, "cannot edit: invalid TOML; fix the file by hand first"
                          ) from None
    parts = _split(key)
    container: Any = doc
    for part in parts[:-1]:
        if part not in container:
            if raw is None:
                raise UsageError(f"{key} is not set in {path}")
            container[part] = tomlkit.table()
        container = container[part]
        if not isinstance(container, Table | dict):
            raise UsageError(f"{part} is not a table in {path}")
    last = parts[-1]
    if raw is None:
        if last not in container:
            raise UsageError(f"{key} is not set in {path}")
        del container[last]
    else:
        container[last] = _value(parts, raw)
    content = tomlkit.dumps(doc).encode("utf-8")
    parse(path, content)  # refuse an edit that would make the policy invalid
    atomic_write(Path(path), content, mode=Path(path).stat().st_mode & 0o777)
    if was_trusted:
        trust.allow(path, content)
    touch_stamp()
    verb = "set" if raw is not None else "unset"
    note = "" if was_trusted else " (still not allowed: review it, then `orenv allow`)"
    say(f"{verb} {key} in {path}{note}")
    if was_trusted:
        sync_helpers()
    if raw is not None and parts[0] == "models":
        # The moment of the mistake: check the model against the cached catalogue.
        from ..models import model_warnings

        for w in model_warnings({parts[1]: raw}):
            say(f"orenv: warning: {w}", file=sys.stderr)


def run_set(args: argparse.Namespace) -> int:
    _edit(target_policy(args.file), args.key, args.value)
    return 0


def run_unset(args: argparse.Namespace) -> int:
    _edit(target_policy(args.file), args.key, None)
    return 0


# Tried in order when neither VISUAL nor EDITOR names one.
_FALLBACK_EDITORS = ("vi", "nano")


def editor_command() -> tuple[list[str], str]:
    """The editor's argv (without the file) and where it came from, for messages.

    ``$VISUAL``, else ``$EDITOR``, split with shlex (so ``code --wait`` or a
    quoted path with spaces work) and run without a shell.
    """
    for var in ("VISUAL", "EDITOR"):
        value = os.environ.get(var, "")
        if not value.strip():
            continue
        try:
            argv = shlex.split(value)
        except ValueError as exc:
            raise UsageError(f"${var} cannot be split into a command ({exc}); fix its "
                             "quoting, e.g. EDITOR=\"code --wait\"") from None
        if argv:
            return argv, f"${var}"
    for name in _FALLBACK_EDITORS:
        if shutil.which(name):
            return [name], "the default editor"
    raise UsageError("no editor: set VISUAL or EDITOR (e.g. export EDITOR=nano)")


def _run_editor(argv: list[str], where: str, path: str) -> None:
    # As git does: Ctrl-C and Ctrl-\ belong to the editor while it runs (it
    # gets them too, in the same process group); orenv waits for it. A Python
    # handler, not SIG_IGN: the editor starts with the default dispositions.
    handlers = {sig: signal.signal(sig, lambda *_: None)
                for sig in (signal.SIGINT, signal.SIGQUIT)}
    try:
        proc = subprocess.run([*argv, path], check=False)
    except OSError as exc:
        raise UsageError(f"cannot run the editor {argv[0]!r} (from {where}): "
                         f"{exc.strerror or exc}; set VISUAL or EDITOR to one that works"
                         ) from None
    finally:
        for sig, old in handlers.items():
            signal.signal(sig, old)
    if proc.returncode != 0:
        raise OrenvError(f"the editor {argv[0]!r} exited with status {proc.returncode}; "
                         f"{path} was not allowed")


def _read(path: str) -> bytes | None:
    """The file's bytes before editing, if it is a policy (a FIFO or a huge file: None)."""
    try:
        return read_policy_file(path).content
    except PolicyError:
        return None


def _edit_target(arg: str | None) -> str:
    """The policy `orenv edit` opens: PATH (file or directory), the nearest, or ./.orenv.toml."""
    if arg:
        full = os.path.abspath(arg)
        return os.path.join(full, POLICY_NAME) if os.path.isdir(full) else full
    return find_nearest(cwd()) or os.path.join(cwd(), POLICY_NAME)


def _again() -> bool:
    """On a terminal: ask whether to edit again (default yes)."""
    if not (sys.stdin is not None and sys.stdin.isatty() and sys.stderr.isatty()):
        return False
    sys.stderr.write("edit it again? [Y/n] ")
    sys.stderr.flush()
    try:
        answer = sys.stdin.readline()
    except (OSError, KeyboardInterrupt):
        answer = ""
    if not answer:  # Ctrl-D
        sys.stderr.write("\n")
        return False
    return answer.strip().lower() in ("", "y", "yes")


def run_edit(args: argparse.Namespace) -> int:
    path = _edit_target(args.path)
    before = _read(path)
    was_allowed = before is not None and trust.check(path, before)
    argv, where = editor_command()
    while True:
        _run_editor(argv, where, path)
        if not os.path.lexists(path):
            say(f"{path} was not saved; nothing to allow")
            return 0
        try:
            # One read: exactly these bytes are shown and trusted (see allow).
            pf = read_policy_file(path)
        except PolicyError as exc:
            # Left as it is, untrusted: the one line says so.
            say(f"orenv: {exc.message} (not allowed)", file=sys.stderr)
            if _again():
                continue
            return int(ExitCode.POLICY)
        break
    if was_allowed and pf.content == before:
        say(f"{path} did not change; still allowed")
        return 0
    from .allow import allow_file

    def confirm_allow() -> bool:
        # A file nobody allowed (a cloned repository's), opened and left as it was:
        # reading it is not trusting it. Shown, then asked on a terminal.
        return interactive() and confirm(
            f"{path} did not change and was never allowed; allow it? [y/N] ")

    allow_file(path, pf, confirm_allow if pf.content == before else None)
    return 0


def register(sub: Any) -> None:
    e = sub.add_parser("edit", help="open the policy in $VISUAL/$EDITOR, then check and allow it",
                       description="Opens the nearest .orenv.toml (or a new one here) in "
                       "$VISUAL, else $EDITOR, else vi; afterwards checks it and, if it "
                       "changed or was not allowed, shows what it will do and allows it.")
    e.add_argument("path", nargs="?", help="policy file or its directory (default: nearest, "
                   "else ./.orenv.toml)")
    e.set_defaults(func=run_edit)
    p = sub.add_parser("set", help="set a policy value, keeping comments (re-allows)",
                       description="Example: orenv set models.opus anthropic/claude-opus-4.5")
    p.add_argument("key", help="dotted key: openrouter.key, models.sonnet, env.NAME, ...")
    p.add_argument("value", help="the value (not a secret: keys go in `orenv key set`)")
    p.add_argument("--file", help="policy file or directory (default: nearest)")
    p.set_defaults(func=run_set)
    u = sub.add_parser("unset", help="remove a policy value, keeping comments (re-allows)")
    u.add_argument("key", help="dotted key, e.g. models.haiku")
    u.add_argument("--file", help="policy file or directory (default: nearest)")
    u.set_defaults(func=run_unset)
