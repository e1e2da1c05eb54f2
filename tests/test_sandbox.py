"""orenv.sandbox: scrubbing is asked for only where Claude Code's sandbox runs.

Real executables on PATH: bubblewrap and socat as installed by `make deps`,
and stand-ins that fail the way bubblewrap does in a container.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from orenv.sandbox import scrub_possible


def _bin(tmp_path: Path, **scripts: str) -> Path:
    d = tmp_path / "bin"
    d.mkdir(exist_ok=True)
    for name, body in scripts.items():
        f = d / name
        f.write_text("#!/bin/sh\n" + body + "\n")
        f.chmod(0o755)
    return d


def _link(d: Path, name: str) -> None:
    real = shutil.which(name)
    assert real, f"{name} is installed by `make deps`"
    (d / name).symlink_to(real)


def test_possible_with_the_installed_tools() -> None:
    assert scrub_possible() == (True, "")


@pytest.mark.parametrize("missing", ["bwrap", "socat"])
def test_a_missing_tool_is_named(missing: str, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    d = _bin(tmp_path)
    for name in {"bwrap", "socat"} - {missing}:
        _link(d, name)
    monkeypatch.setenv("PATH", str(d))
    ok, why = scrub_possible()
    assert not ok and missing in why and "bubblewrap, socat" in why


def test_bubblewrap_that_cannot_make_a_sandbox(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside many containers bwrap is installed but every Bash-tool command would fail."""
    d = _bin(tmp_path, bwrap='echo "bwrap: No permissions to create new namespace" >&2\nexit 1')
    _link(d, "socat")
    monkeypatch.setenv("PATH", str(d))
    ok, why = scrub_possible()
    assert not ok
    assert why == ("bubblewrap cannot create a sandbox here: "
                   "bwrap: No permissions to create new namespace")


def test_the_probe_asks_for_what_claude_code_asks_for(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The namespaces Claude Code 2.1.332 requests (seen in its bwrap argv), then the real bwrap."""
    log = tmp_path / "argv"
    real = shutil.which("bwrap")
    d = _bin(tmp_path, bwrap=f'printf "%s\\n" "$@" > "{log}"\nexec "{real}" "$@"')
    _link(d, "socat")
    monkeypatch.setenv("PATH", str(d) + os.pathsep + os.environ["PATH"])
    assert scrub_possible() == (True, "")
    argv = log.read_text().splitlines()
    for flag in ("--unshare-pid", "--unshare-user", "--disable-userns", "--new-session"):
        assert flag in argv
