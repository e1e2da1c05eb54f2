"""Helpers shared by several commands."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from ..errors import OrenvError
from ..paths import POLICY_NAME
from ..policy import find_nearest

__all__ = ["cwd", "print_json", "target_policy"]


def cwd(directory: str | None = None) -> str:
    """The directory a command acts on: --dir, else the shell's $PWD (keeps symlinks)."""
    if directory:
        return os.path.abspath(directory)
    try:
        real = os.getcwd()
    except FileNotFoundError:
        real = ""
    pwd = os.environ.get("PWD", "")
    if pwd and os.path.isabs(pwd) and real:
        try:
            if os.path.samefile(pwd, real):
                return pwd
        except OSError:
            pass
    if real:
        return real
    if pwd:
        return pwd
    raise OrenvError("the current directory no longer exists; cd somewhere else")


def target_policy(path: str | None) -> str:
    """A policy file from a PATH argument (file or directory) or the nearest one."""
    if path:
        full = os.path.abspath(path)
        if os.path.isdir(full):
            full = os.path.join(full, POLICY_NAME)
        if not os.path.lexists(full):
            raise OrenvError(f"no policy at {full}; create one with `orenv init`")
        return full
    found = find_nearest(cwd())
    if not found:
        raise OrenvError(f"no {POLICY_NAME} here or above; create one with `orenv init`")
    return found


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=False, ensure_ascii=False)
    sys.stdout.write("\n")
