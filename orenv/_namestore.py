"""Small JSON files mapping key names to non-secret metadata.

Used for the key index, provisioning records and the budget cache: each is
``{"name": {...}}``, written atomically and privately, and read leniently (a
missing or damaged file is empty; entries with bad names are dropped).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import paths
from ._fsutil import atomic_write
from .policy import KEY_NAME_RE

__all__ = ["read", "write"]


def read(path: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, dict) and KEY_NAME_RE.match(k)}


def write(path: Path, data: Mapping[str, Mapping[str, Any]]) -> None:
    paths.ensure_private_dir(path.parent)
    atomic_write(path, (json.dumps(data, indent=1, sort_keys=True) + "\n").encode())
