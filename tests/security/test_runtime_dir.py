"""The runtime directory is the user's own: another user who made it first gets nothing.

With XDG_RUNTIME_DIR unset (su, sudo -i, SSH without pam_systemd, cron,
containers) the runtime directory is ``$TMPDIR/orenv-UID`` in a shared, sticky
directory. Here ``nobody`` (setpriv) creates it first, plants ``client.py``
and listens on ``daemon.sock`` with an answer that would run code. Real zsh,
bash, fish and nu then change into a project: no planted code runs, nobody's
socket is never connected to, the policy applies, and the daemon runs in the
next private place (the user's state directory; its socket path is longer
than AF_UNIX allows, so that is exercised too).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
from conftest import Home, make_policy, run_orenv
from harness import Shell, base_path

from orenv import paths

from .support import KINDS

NOBODY = 65534
KEY = "sk-or-v1-" + "5eed" * 16

ATTACKER = r"""
import os, re, socket, sys
rt, canary, log, mode = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4], 8)
os.makedirs(rt, exist_ok=True)
try:
    os.chmod(rt, mode)
except PermissionError:
    pass  # someone else's directory, open to all: planting inside is enough
if os.path.exists(os.path.join(rt, "client.py")):
    os.unlink(os.path.join(rt, "client.py"))
with open(os.path.join(rt, "client.py"), "w") as f:
    f.write(f"open({canary!r}, 'w').write('planted client ran')\n")
os.chmod(os.path.join(rt, "client.py"), 0o755)
sock = os.path.join(rt, "daemon.sock")
s = socket.socket(socket.AF_UNIX)
s.bind(sock)
os.chmod(sock, 0o777)
s.listen(16)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    with open(log, "a") as f:
        f.write("connection\n")
    data = c.recv(65536)
    m = re.search(rb'"end":"([^"]+)"', data)
    nonce = m.group(1).decode() if m else "x"
    c.sendall(f"touch {canary}\n__orenv_end {nonce}\n".encode())
    c.close()
"""


def need_root() -> None:
    if os.getuid() != 0:
        pytest.skip("acting as another user needs root (CI runs as root)")


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A sticky, world-writable directory like /tmp (never the machine's own /tmp/orenv-UID)."""
    d = Path(tempfile.mkdtemp(prefix="orenv-shared-", dir="/tmp"))
    d.chmod(0o1777)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


class Squatter:
    """nobody's runtime directory, planted client and listening socket."""

    def __init__(self, runtime: Path, canary: Path, mode: int = 0o755, owner: int = NOBODY):
        self.runtime = runtime
        self.log = runtime.parent / f"attacker-{runtime.name}.log"
        self.log.touch()
        self.log.chmod(0o666)
        argv = ["/usr/bin/python3", "-I", "-S", "-c", ATTACKER, str(runtime), str(canary),
                str(self.log), oct(mode)[2:]]
        if owner != 0:
            argv = ["setpriv", f"--reuid={owner}", f"--regid={owner}", "--clear-groups", *argv]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.strip() == "ready", self.proc.stderr.read() if self.proc.stderr else line

    def connections(self) -> int:
        return self.log.read_text().count("connection")

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(5)


def stop_daemons(env: dict[str, str]) -> None:
    run = {"PATH": base_path(), **env}
    subprocess.run(["orenv", "daemon", "stop", "--quiet"], env=run, capture_output=True,
                   timeout=30, check=False)
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info.get("cmdline") or []
        if "daemon" in cmd and "run" in cmd and any("orenv" in c for c in cmd):
            try:
                if proc.environ().get("HOME") == env["HOME"]:
                    proc.kill()
            except psutil.Error:
                pass


def daemon_status(home: Home, env: dict[str, str]) -> dict[str, object]:
    for _ in range(100):
        proc = run_orenv(home, "daemon", "status", "--json", env=env)
        data = json.loads(proc.stdout or "{}")
        if data.get("running"):
            return data
        time.sleep(0.1)
    return {}


@pytest.mark.parametrize("kind", [*KINDS, "nu"])
@pytest.mark.parametrize("squat", ["nobody-0755", "nobody-0700", "root-owned-0777"])
def test_squatted_runtime_dir_is_passed_over(
    kind: str, squat: str, home: Home, shared_tmp: Path, shell_factory: Callable[..., Shell]
) -> None:
    need_root()
    run_orenv(home, "key", "set", "work", input=KEY, check=True)
    proj = make_policy(home, "proj", '[openrouter]\nkey = "work"\n')
    canary = shared_tmp / "PWNED"
    runtime = shared_tmp / f"orenv-{os.getuid()}"
    owner, mode = {"nobody-0755": (NOBODY, 0o755), "nobody-0700": (NOBODY, 0o700),
                   "root-owned-0777": (0, 0o777)}[squat]
    squatter = Squatter(runtime, canary, mode=mode, owner=owner)
    if owner == 0:
        # Our own directory left open to everyone: nobody plants a socket in it.
        squatter.stop()
        (runtime / "daemon.sock").unlink()
        squatter = Squatter(runtime, canary, mode=mode, owner=NOBODY)
    env: dict[str, str | None] = {"TMPDIR": str(shared_tmp), "XDG_RUNTIME_DIR": None}
    plain = {k: v for k, v in env.items() if v is not None}
    orenv_env = {**home.env, **plain}
    orenv_env.pop("XDG_RUNTIME_DIR")
    try:
        sh = shell_factory(kind, env=env)
        for _ in range(3):
            sh.cd(proj)
            sh.run("true")
            assert sh.var("ANTHROPIC_AUTH_TOKEN") == KEY
            sh.cd(home.path)
        status = daemon_status(home, {"XDG_RUNTIME_DIR": "", "TMPDIR": str(shared_tmp)})
        sh.cd(proj)
        assert sh.var("ANTHROPIC_AUTH_TOKEN") == KEY
        assert not canary.exists(), canary.read_text()
        assert squatter.connections() == 0
        # The daemon runs in the user's own state directory, and this shell uses it.
        state_run = home.state / "orenv" / "run"
        assert status.get("socket") == str(state_run / "daemon.sock"), status
        shells = daemon_status(home, {"XDG_RUNTIME_DIR": "", "TMPDIR": str(shared_tmp)})
        served = sh.pid in [s["pid"] for s in shells.get("shells", [])]  # type: ignore[union-attr]
        # bash and fish cannot read a directory's mode with builtins: in a directory
        # of ours left open to everyone they see nobody's socket is not ours and
        # keep to `orenv export` (safe, slower); zsh (zstat) and nu (`ls -l`)
        # pass it over and find the daemon.
        assert served or (squat == "root-owned-0777" and kind not in ("zsh", "nu"))
        # Python's own clients refuse nobody's socket too.
        out = run_orenv(home, "daemon", "status", "--json",
                        env={"XDG_RUNTIME_DIR": "", "TMPDIR": str(shared_tmp)})
        assert squatter.connections() == 0 and "Traceback" not in out.stderr
    finally:
        squatter.stop()
        stop_daemons(orenv_env)


def test_python_picks_the_same_directory_as_the_hooks(
    shared_tmp: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """paths.runtime_dir: private candidates only, in the order the hooks use."""
    need_root()
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    monkeypatch.setenv("TMPDIR", str(shared_tmp))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    mine = shared_tmp / f"orenv-{os.getuid()}"
    assert paths.runtime_dir() == mine  # absent and creatable: here
    assert paths.ensure_runtime_dir() == mine and paths.private_dir_state(mine) == "ok"
    mine.chmod(0o755)  # no longer private: passed over
    assert paths.runtime_dir() == tmp_path / "state" / "orenv" / "run"
    mine.rmdir()
    os.mkdir(mine, 0o700)
    os.chown(mine, NOBODY, NOBODY)  # someone else's
    assert paths.ensure_runtime_dir() == tmp_path / "state" / "orenv" / "run"
    os.rmdir(mine)
    mine.symlink_to(tmp_path)  # a link, even to a directory of ours
    assert paths.runtime_dir() == tmp_path / "state" / "orenv" / "run"
    # XDG_RUNTIME_DIR of another user (su keeps it) is passed over as well.
    other = shared_tmp / "run-other"
    other.mkdir(mode=0o700)
    os.chown(other, NOBODY, NOBODY)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(other))
    assert paths.runtime_dir() == tmp_path / "state" / "orenv" / "run"
