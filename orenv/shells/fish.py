from __future__ import annotations

import os

from ._base import Shell

__all__ = ["Fish"]


class Fish(Shell):
    name = "fish"
    hook_file = "hook.fish"

    def quote(self, value: str) -> str:
        """fish single quotes: only backslash and quote are special inside."""
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

    def hook(self, binary: str) -> str:
        """Also the user's uid (fish has no builtin for it; ``id -u`` is a process)."""
        return super().hook(binary).replace("@ORENV_UID@", self.quote(str(os.getuid())))
