"""Shared set-up for the end-to-end tests with the real Claude Code CLI."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Home, loopback_host, run_orenv, write_config
from harness import REPO_ROOT
from standin import StandIn

CLAUDE = REPO_ROOT / ".tools" / "node" / "node_modules" / ".bin" / "claude"
MODEL = "anthropic/claude-sonnet-4.5"


def orenv(home: Home, *args: str, input: str | None = None,
          cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run orenv as the user of *home*; it must succeed."""
    return run_orenv(home, *args, input=input, cwd=cwd, check=True, timeout=60)


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as s:
        yield s


@pytest.fixture
def loopback_home(home: Home, standin: StandIn) -> Home:
    """*home* with the Claude Code CLI present and the stand-in's host:port allowed."""
    assert CLAUDE.exists(), f"{CLAUDE} missing: run `make deps` (npm @anthropic-ai/claude-code)"
    write_config(home, hosts=("openrouter.ai", loopback_host(standin.base_url)))
    return home


__all__ = ["CLAUDE", "MODEL", "orenv"]
