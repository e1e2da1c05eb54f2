"""./install.sh into a fresh HOME, then the hook lines it wrote, in real shells."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Home
from harness import REPO_ROOT, SYSTEM_PATH, Shell

KEY = "sk-or-v1-" + "9" * 64


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One install per module (pip install takes a while); returns the HOME."""
    home = tmp_path_factory.mktemp("install") / "home"
    home.mkdir()
    env = {"HOME": str(home), "PATH": SYSTEM_PATH, "LANG": "C.UTF-8"}
    for _ in range(2):  # the second run must change nothing
        proc = subprocess.run([str(REPO_ROOT / "install.sh")], env=env, capture_output=True,
                              text=True, timeout=600, stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, proc.stderr
    assert "already has the orenv hook" in proc.stdout
    return home


def test_rc_lines_added_once(installed: Path) -> None:
    for rc in (".zshrc", ".bashrc", ".config/fish/config.fish"):
        text = (installed / rc).read_text()
        assert text.count("# orenv hook") == 1, rc
        assert "hook" in text and str(installed) not in text  # $HOME stays literal
    assert (installed / ".local/bin/orenv").resolve().exists()


def test_no_rc_option(tmp_path: Path) -> None:
    proc = subprocess.run([str(REPO_ROOT / "install.sh"), "--help"], capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 0 and "--no-rc" in proc.stdout


@pytest.mark.parametrize("kind", ["zsh", "bash", "fish"])
def test_installed_hook_works(kind: str, installed: Path, home: Home,
                              shell_factory: Callable[..., Shell]) -> None:
    rc = {"zsh": ".zshrc", "bash": ".bashrc", "fish": ".config/fish/config.fish"}[kind]
    # The user's HOME is the test home; the installed program lives in `installed`.
    hook_lines = (installed / rc).read_text().replace("$HOME", str(installed))
    env = {**home.env, "PATH": SYSTEM_PATH}
    orenv = str(installed / ".local/bin/orenv")
    subprocess.run([orenv, "key", "set", "work"], input=KEY, text=True, check=True,
                   env=env, timeout=30, capture_output=True)
    proj = home.path / "proj"
    proj.mkdir()
    subprocess.run([orenv, "init", "--key", "work"], cwd=proj, check=True, env=env,
                   timeout=30, capture_output=True)
    sh = shell_factory(kind, env={"PATH": SYSTEM_PATH}, hook_line=hook_lines)
    out = sh.cd(proj)
    assert "orenv: loaded proj" in out
    assert sh.env()["ANTHROPIC_AUTH_TOKEN"] == KEY
    sh.cd(home.path)
    assert "ANTHROPIC_AUTH_TOKEN" not in sh.env()
