"""Text that is safe to show: what a repository controls never drives a terminal.

Policy values, directory names, settings entries and even OpenRouter's model
names can hold terminal escapes, bidirectional overrides or bytes that are not
UTF-8. ``safe`` shows every character that does not print as an escape, so a
line can be neither hidden, faked nor made to crash the output.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["did_you_mean", "marker", "safe"]


def _escape(ch: str) -> str:
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def safe(text: str) -> str:
    """*text* with every non-printable character (ESC, C1, bidi, zero-width, NUL…) escaped."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)


# Prompt themes splice markers into PS1/PROMPT, where prompt_subst expands
# $(...), `...` and ${...} at every prompt and %/\ start prompt escapes: those
# characters (and anything non-printable) never reach an exported marker.
_UNSAFE_MARKER = re.compile(r"[$`%\\]")


def marker(text: str) -> str:
    """*text* made safe for an exported marker variable (``ORENV_PROFILE`` …)."""
    return _UNSAFE_MARKER.sub("_", safe(text))


def did_you_mean(word: str, choices: Iterable[str], *, listing: str | None = None,
                 limit: int = 12) -> str:
    """`` (did you mean 'work'? …)`` for a mistyped *word*, or an empty string.

    The nearest choices by difflib (case-insensitive); with *listing* (a noun,
    e.g. "stored keys") and no close match, what exists is listed instead
    (at most *limit* names), so the user sees their options either way.
    """
    import difflib  # only when there is a mistake to explain

    pool = sorted({c for c in choices if c != word})
    if not pool:
        return f" (no {listing} yet)" if listing else ""
    lowered = {c.lower(): c for c in pool}
    close = difflib.get_close_matches(word.lower(), list(lowered), n=3, cutoff=0.6)
    if close:
        names = " or ".join(repr(safe(lowered[c])) for c in close)
        return f" (did you mean {names}?)"
    if not listing:
        return ""
    shown = ", ".join(safe(c) for c in pool[:limit]) + (", …" if len(pool) > limit else "")
    return f" ({listing}: {shown})"
