"""Shells orenv supports, looked up by name.

Each shell module provides a ``Shell`` with ``quote``, ``export`` and
``hook``. The hook itself is a real file in the top-level ``shell/``
directory (package ``orenv.shell``); ``hook`` only fills in the quoted path of
the orenv binary.
"""

from __future__ import annotations

import os

from ..errors import UnsupportedShellError
from ._base import Shell
from .bash import Bash
from .fish import Fish
from .nu import Nu
from .zsh import Zsh

__all__ = ["SHELLS", "Shell", "detect", "get"]

SHELLS: dict[str, Shell] = {s.name: s for s in (Zsh(), Bash(), Fish(), Nu())}


def get(name: str) -> Shell:
    try:
        return SHELLS[name]
    except KeyError:
        raise UnsupportedShellError(
            f"unsupported shell {name!r}; use one of: {', '.join(SHELLS)}") from None


def detect(argv0: str | None = None) -> str:
    """Name of the calling shell from $SHELL (login '-' stripped)."""
    name = os.path.basename(argv0 or os.environ.get("SHELL", "")).lstrip("-")
    return name if name in SHELLS else "bash"
