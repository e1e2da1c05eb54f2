from __future__ import annotations

from ._base import Shell

__all__ = ["Zsh", "posix_quote"]


def posix_quote(value: str) -> str:
    """Single-quote for sh-family shells: nothing inside is expanded."""
    return "'" + value.replace("'", "'\\''") + "'"


class Zsh(Shell):
    name = "zsh"
    hook_file = "hook.zsh"

    def quote(self, value: str) -> str:
        return posix_quote(value)
