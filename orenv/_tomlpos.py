"""Find the line of a key in TOML text, for error messages.

tomlkit keeps comments and layout but not line numbers, so errors about
values (as opposed to syntax) locate their key by scanning the text.
"""

from __future__ import annotations

import re

__all__ = ["line_of"]

# No two adjacent quantifiers may match the same characters: a hostile line of
# "[" and many spaces (inside a multi-line string) must not backtrack for minutes.
_HEADER = re.compile(r"^\s*\[([^\[\]]*)\]\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_.-]+)\s*=""")


def _unquote(name: str) -> str:
    name = name.strip()
    if len(name) >= 2 and name[0] == name[-1] and name[0] in "\"'":
        return name[1:-1]
    return name


def line_of(text: str, table: str | None, key: str | None = None) -> int | None:
    """1-based line of ``key`` inside ``[table]`` (or of the header if no key).

    ``table`` None means the top level. Dotted keys (``a.b = 1``) are matched on
    their first part. Returns None when the key cannot be found.
    """
    current: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(raw)
        if header and header.group(1).strip():
            current = ".".join(_unquote(p) for p in header.group(1).split("."))
            if key is None and current == table:
                return number
            continue
        if key is None or current != table:
            continue
        found = _KEY.match(raw)
        if found and _unquote(found.group(1).split(".")[0]) == key:
            return number
    return None
