"""`orenv hook SHELL` renders the real hook files, syntax-checked by each shell."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from orenv import shells
from orenv.shells._base import hook_source

CHECK = {"zsh": ["zsh", "-n"], "bash": ["bash", "-n"], "fish": ["fish", "--no-execute"]}


@pytest.mark.parametrize("kind", ["zsh", "bash", "fish"])
def test_rendered_hook_parses(kind: str, tmp_path: Path) -> None:
    # A binary path with a space and quotes must stay one literal word.
    text = shells.get(kind).hook("/opt/my dir/it's/orenv")
    assert "@ORENV_BIN@" not in text
    f = tmp_path / f"hook.{kind}"
    f.write_text(text)
    proc = subprocess.run([*CHECK[kind], str(f)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    if kind == "bash":
        sc = subprocess.run(["shellcheck", "-s", "bash", str(f)], capture_output=True,
                            text=True, timeout=60)
        assert sc.returncode == 0, sc.stdout


@pytest.mark.parametrize("kind", ["zsh", "bash", "fish"])
def test_binary_path_is_literal(kind: str, tmp_path: Path) -> None:
    path = "/opt/$(touch PWNED)/`x`/orenv"
    text = shells.get(kind).hook(path)
    script = text + "\nprintf '%s' \"$__orenv_bin\"\n"
    argv = {"zsh": ["zsh", "-f", "-c"], "bash": ["bash", "--norc", "-c"],
            "fish": ["fish", "--no-config", "-c"]}[kind]
    out = subprocess.run([*argv, script], capture_output=True, text=True, timeout=30,
                         cwd=tmp_path)
    assert out.stdout.endswith(path), out.stderr
    assert not (tmp_path / "PWNED").exists()


def test_hook_files_are_real_files() -> None:
    for kind in ("zsh", "bash", "fish"):
        assert "@ORENV_BIN@" in hook_source(f"hook.{kind}")
