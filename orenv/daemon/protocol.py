"""The daemon's wire format: one JSON request line, one answer.

Requests are JSON objects on one line, each with an ``op``:

* ``{"op": "export", "shell": "zsh", "session": "PID", "cwd": "/dir",
  "why": "cd" | "change", "env": {...}, "end": "NONCE"}``: with ``end`` the
  answer is the exact shell code ``orenv export`` would print, followed by the
  line ``__orenv_end NONCE``; the hook evaluates nothing unless that line
  arrived (a half answer is never run). Without ``end`` the answer is a JSON
  line ``{"ok": true, "code": "..."}``. With ``"fifo": "1"`` (bash, through
  the client) the code ends by naming the shell's FIFO channel (``fifo``).
* ``ping``, ``status``, ``invalidate``, ``stop``: a JSON answer line.

The daemon closes the connection after each answer. ``env`` carries only the
few variables a policy is merged with (see ``ENV_PASSED``).

This module is imported by ``client.py``, which must run with ``python -I -S``:
standard library only, nothing from orenv.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = [
    "END",
    "ENV_PASSED",
    "MAX_REQUEST",
    "decode",
    "encode",
    "end_line",
    "lock_path",
    "log_path",
    "pid_path",
    "socket_path",
]

END = "__orenv_end"
MAX_REQUEST = 256 * 1024
# Variables the daemon needs from the shell: values merged into, where Claude
# Code reads its user settings (the shell's HOME, not the daemon's), and
# quietness. Each one changes the answer.
ENV_PASSED = ("CLAUDE_CODE_EXTRA_BODY", "ANTHROPIC_CUSTOM_HEADERS", "CLAUDE_CONFIG_DIR",
              "HOME", "CLAUDE_CODE_USE_COWORK_PLUGINS", "ORENV_QUIET")


def encode(obj: dict[str, Any]) -> bytes:
    return (json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n").encode("utf-8")


def decode(line: bytes) -> dict[str, Any]:
    obj = json.loads(line.decode("utf-8"))
    if not isinstance(obj, dict):
        raise ValueError("a request is a JSON object")
    return obj


def end_line(nonce: str) -> str:
    return f"{END} {nonce}\n"


def socket_path(runtime: Path) -> Path:
    return runtime / "daemon.sock"


def pid_path(runtime: Path) -> Path:
    return runtime / "daemon.pid"


def lock_path(runtime: Path) -> Path:
    return runtime / "daemon.lock"


def log_path(state: Path) -> Path:
    return state / "daemon.log"


def valid_nonce(nonce: object) -> bool:
    return isinstance(nonce, str) and 0 < len(nonce) <= 64 and all(
        c.isalnum() or c in "._-" for c in nonce) and os.sep not in nonce
