"""nushell: answers are data (one JSON array a line), never code.

nushell cannot evaluate code it is handed at run time, and should not: the
hook parses each line with ``from json`` and applies it with ``load-env`` /
``hide-env``, so no value, however hostile, is ever parsed as nushell.

Lines (each a JSON array):

* ``["set", NAME, VALUE]`` / ``["unset", NAME]``
* ``["watch", REF, [FILE…], [ABSENT…]]`` (the idle-prompt check)
* ``["msg", TEXT]`` (said once per change) / ``["notice", TEXT]`` (always)
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping

from ._base import Shell

__all__ = ["Nu", "nu_quote"]

_USER_PLACEHOLDER = "@ORENV_USER@"
_UID_PLACEHOLDER = "@ORENV_UID@"


def nu_quote(value: str) -> str:
    """A nushell double-quoted string holding *value* literally.

    Inside plain double quotes (not ``$"…"``) nothing is interpolated; only
    backslash escapes count, so backslash and quote are escaped, and control
    characters are written as ``\\u{…}`` (a literal CR would be read as a line
    end). Raw strings (``r#'…'#``) cannot hold everything: ``r#'#x'#`` does
    not parse.
    """
    out = ['"']
    for ch in value:
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch < " " or "\x7f" <= ch <= "\x9f":
            out.append(f"\\u{{{ord(ch):x}}}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _line(*fields: object) -> str:
    # ASCII only (\uXXXX escapes): the line survives any pipe. A lone
    # surrogate (a path that is not UTF-8) cannot be a nushell string: the
    # hook skips such a line.
    return json.dumps(list(fields)) + "\n"


class Nu(Shell):
    name = "nu"
    hook_file = "hook.nu"

    def quote(self, value: str) -> str:
        return nu_quote(value)

    def call(self, function: str, *args: str) -> str:
        return _line(function, *args).rstrip("\n")

    def export(self, changes: Mapping[str, str | None]) -> str:
        return "".join(_line("set", name, value) if value is not None else _line("unset", name)
                       for name, value in changes.items())

    def watch(self, ref: str, files: Iterable[str], absent: Iterable[str] = ()) -> str:
        return _line("watch", ref, list(files), list(absent))

    def message(self, text: str) -> str:
        return _line("msg", text)

    def notice(self, text: str) -> str:
        return _line("notice", text)

    def hook(self, binary: str) -> str:
        """Also the user's name and uid: nushell's ``ls -l`` tells owners by name
        (a uid with no name by its number), and ``id -u`` would be a process."""
        import pwd

        uid = os.getuid()
        try:
            user = pwd.getpwuid(uid).pw_name
        except KeyError:
            user = str(uid)
        return (super().hook(binary).replace(_USER_PLACEHOLDER, nu_quote(user))
                .replace(_UID_PLACEHOLDER, nu_quote(str(uid))))
