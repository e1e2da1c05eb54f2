from __future__ import annotations

from ._base import Shell

__all__ = ["Fish"]


class Fish(Shell):
    name = "fish"
    hook_file = "hook.fish"

    def quote(self, value: str) -> str:
        """fish single quotes: only backslash and quote are special inside."""
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
