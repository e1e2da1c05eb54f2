"""Fixtures of the security suite (helpers live in ``support``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .support import ProcWatch, Secrets, new_secrets


@pytest.fixture
def secret_values() -> Secrets:
    """Fresh random keys for this test only."""
    return new_secrets()


@pytest.fixture
def proc_watch() -> Iterator[ProcWatch]:
    """A /proc poller running for the whole test; assert on it at the end."""
    watch = ProcWatch()
    watch.start()
    try:
        yield watch
    finally:
        watch.stop()
