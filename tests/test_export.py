"""`orenv export` (the daemon-less path): the reference it writes for the shell."""

from __future__ import annotations

import argparse
import os
import shlex
from pathlib import Path
from typing import Any

import pytest

from orenv.activation import Activation
from orenv.commands import export


def test_an_edit_during_the_computation_is_seen_at_the_next_prompt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    policy = proj / ".orenv.toml"
    policy.write_text('[openrouter]\nkey = "work"\n')  # not allowed: a blocked answer
    real = export.compute

    def racing(*args: Any, **kwargs: Any) -> Activation:
        act = real(*args, **kwargs)
        policy.write_text('[openrouter]\nkey = "other"\n')  # after the read
        return act

    monkeypatch.setattr(export, "compute", racing)
    args = argparse.Namespace(dir=str(proj), session=str(os.getpid()), deadline=None)
    args.shell = "bash"  # the hook's shell (not a subprocess flag)
    export.run(args)
    [line] = [shlex.split(x) for x in capsys.readouterr().out.splitlines()
              if x.startswith("__orenv_watching ")]
    _, ref, *watched = line
    assert str(policy) in watched
    assert policy.stat().st_mtime_ns > Path(ref).stat().st_mtime_ns
