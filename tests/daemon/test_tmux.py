"""zsh, bash and fish in tmux panes, each with the hook as a user installs it."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import base_path

from .conftest import KEY, DaemonCtl


class Tmux:
    def __init__(self, env: dict[str, str], root: Path) -> None:
        self.name = f"orenv-{uuid.uuid4().hex[:8]}"
        self.env = env
        self.root = root

    def __call__(self, *args: str) -> str:
        out = subprocess.run(["tmux", "-L", self.name, "-f", "/dev/null", *args],
                             env=self.env, capture_output=True, text=True, timeout=30,
                             check=True)
        return out.stdout

    def type(self, pane: str, line: str) -> None:
        self("send-keys", "-t", pane, "-l", line)
        self("send-keys", "-t", pane, "Enter")

    def env_of(self, pane: str, tag: str) -> dict[str, str]:
        target = self.root / f"env-{pane.replace(':', '_').replace('.', '_')}-{tag}"
        self.type(pane, f"command env -0 > {target}.tmp; mv {target}.tmp {target}")
        deadline = time.monotonic() + 20
        while not target.exists():
            if time.monotonic() > deadline:
                raise AssertionError(f"pane {pane} did not answer:\n"
                                     + self("capture-pane", "-p", "-t", pane))
            time.sleep(0.05)
        pairs = (item.partition("=") for item in target.read_text().split("\0") if item)
        return {k: v for k, _, v in pairs}


@pytest.fixture
def tmux(keyed: DaemonCtl, tmp_path: Path) -> Iterator[Tmux]:
    env = {"PATH": base_path(), "LANG": "C.UTF-8", "TERM": "xterm-256color", **keyed.home.env}
    t = Tmux(env, tmp_path)
    yield t
    subprocess.run(["tmux", "-L", t.name, "kill-server"], env=env, capture_output=True,
                   timeout=30)


def test_panes_each_follow_their_directory(keyed: DaemonCtl, tmux: Tmux,
                                           tmp_path: Path) -> None:
    proj = keyed.policy("proj")
    zdot = tmp_path / "zdot"
    zdot.mkdir()
    (zdot / ".zshrc").write_text('eval "$(orenv hook zsh)"\n')
    (tmp_path / "bashrc").write_text('eval "$(orenv hook bash)"\n')
    (tmp_path / "config.fish").write_text("orenv hook fish | source\n")
    shells = {
        "zsh": f"env ZDOTDIR={zdot} zsh -i",
        "bash": f"bash --noprofile --rcfile {tmp_path / 'bashrc'} -i",
        "fish": f"fish --no-config -C 'source {tmp_path / 'config.fish'}'",
    }
    tmux("new-session", "-d", "-s", "t", "-x", "200", "-y", "60", "-c", str(keyed.home.path),
         shells["zsh"])
    tmux("split-window", "-t", "t", "-c", str(keyed.home.path), shells["bash"])
    tmux("split-window", "-t", "t", "-c", str(keyed.home.path), shells["fish"])
    panes = tmux("list-panes", "-t", "t", "-F", "#{session_name}:#{window_index}.#{pane_index}")
    ids = panes.split()
    assert len(ids) == 3
    # Pane 0 and 2 go into the project, pane 1 stays out.
    for pane in (ids[0], ids[2]):
        tmux.type(pane, f"cd {proj}")
    for pane in ids:
        env = tmux.env_of(pane, "in")
        inside = pane in (ids[0], ids[2])
        assert (env.get("ANTHROPIC_AUTH_TOKEN") == KEY) is inside, pane
        assert env.get("TMUX"), "not inside tmux"
    for pane in (ids[0], ids[2]):
        tmux.type(pane, "cd ..")
        env = tmux.env_of(pane, "out")
        assert "ANTHROPIC_AUTH_TOKEN" not in env and "ORENV_ACTIVE" not in env
