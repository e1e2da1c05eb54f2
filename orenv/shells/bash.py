from __future__ import annotations

from ._base import Shell
from .zsh import posix_quote

__all__ = ["Bash"]


class Bash(Shell):
    name = "bash"
    hook_file = "hook.bash"

    def quote(self, value: str) -> str:
        return posix_quote(value)
