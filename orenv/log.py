"""structlog, configured once: JSON lines under ``$XDG_STATE_HOME/orenv/``.

Every event passes through ``RedactSecrets`` before it is rendered, so no key
reaches the log: fields named like ``*_KEY``/``*_TOKEN`` (and a few obvious
names) are masked, and any ``sk-or-v1-…``/``sk-ant-…`` substring anywhere, in
any field, nested or not, is replaced.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any, TextIO

import structlog

from . import paths

__all__ = ["MAX_LOG_BYTES", "RedactSecrets", "configure", "get_logger", "log_file", "redact"]

MAX_LOG_BYTES = 1024 * 1024
_SECRET_VALUE = re.compile(r"sk-(?:or-v1|ant)-[A-Za-z0-9_\-]*")
_SECRET_FIELD = re.compile(r"(?i)(?:^|_)(?:key|token|password|secret|passphrase)$")
_MASK = "[redacted]"


def redact(value: Any, field: str | None = None) -> Any:
    """*value* with secrets masked (recursing into dicts, lists and tuples)."""
    if field is not None and _SECRET_FIELD.search(field) and value not in (None, "", False):
        return _MASK
    if isinstance(value, str):
        return _SECRET_VALUE.sub(_MASK, value)
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, bytes):
        return redact(value.decode("utf-8", "replace"))
    if isinstance(value, int | float | bool) or value is None:
        return value
    return redact(repr(value))


class RedactSecrets:
    """Processor: mask secret-named fields and key-shaped substrings everywhere."""

    __slots__ = ()

    def __call__(self, logger: Any, method: str, event_dict: MutableMapping[str, Any]
                 ) -> MutableMapping[str, Any]:
        for name in list(event_dict):
            event_dict[name] = redact(event_dict[name], None if name == "event" else name)
        return event_dict


def log_file() -> Path:
    return paths.state_dir() / "daemon.log"


def _open_log(path: Path) -> TextIO:
    paths.ensure_private_dir(path.parent)
    try:
        if path.stat().st_size > MAX_LOG_BYTES:
            os.replace(path, path.with_name(path.name + ".1"))
    except OSError:
        pass
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    return os.fdopen(fd, "a", buffering=1, encoding="utf-8")


def configure(*, to_file: bool = True, stream: TextIO | None = None) -> None:
    """Send JSON lines to the log file (or *stream*), secrets redacted."""
    out = stream or (_open_log(log_file()) if to_file else sys.stderr)
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            RedactSecrets(),
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.WriteLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )


def get_logger(**context: Any) -> Any:
    return structlog.get_logger("orenv").bind(**context)
