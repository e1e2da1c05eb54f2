"""bash's FIFO channel: a cd with no process, and nothing to gain for anyone else.

The first request of a bash session goes through the client, which checks
the runtime directory and the daemon; the answer names a channel (two 0600
FIFOs) that later requests use with builtins. Tested with a real bash and a
real daemon: zero processes per cd (strace), exact values, the fallback
within the prompt's second when the daemon is stopped, killed, restarted or
hung, and no answer evaluated unless it is whole and carries the request's
nonce.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from harness import Shell
from hypothesis import given
from hypothesis import strategies as st

from orenv.daemon import fifo
from orenv.daemon.fifo import Channels, parse_requests
from orenv.log import get_logger

from .conftest import KEY, DaemonCtl

ShellFactory = Callable[..., Shell]

field = st.binary(min_size=1, max_size=40).filter(lambda b: b"\0" not in b)


def _frame(fields: list[bytes]) -> bytes:
    return b"o1\0" + b"".join(f + b"\0" for f in fields) + b"\0"


@given(st.lists(st.lists(field, min_size=3, max_size=8), min_size=1, max_size=4),
       st.integers(min_value=0, max_value=30))
def test_requests_parse_back_whole_and_wait_for_the_rest(batch: list[list[bytes]],
                                                         cut: int) -> None:
    raw = b"".join(_frame(f) for f in batch)
    buf = bytearray(raw)
    assert parse_requests(buf) == batch and not buf
    # Cut anywhere: the complete ones come out, the rest waits in the buffer.
    split = max(1, len(raw) - cut)
    buf = bytearray(raw[:split])
    got = parse_requests(buf)
    buf += raw[split:]
    got += parse_requests(buf)
    assert got == batch and not buf


@pytest.mark.parametrize("garbage", [b"x1\0a\0b\0c\0\0", b"echo pwned\n", b"o1\0only\0\0",
                                     b"\0\0"])
def test_garbage_is_refused(garbage: bytes) -> None:
    with pytest.raises(ValueError):
        parse_requests(bytearray(garbage))


def _channel(dctl: DaemonCtl) -> tuple[Path, Path]:
    """The one channel of the test's shell (its two FIFOs)."""
    chans = sorted(p for p in (dctl.rt / "chan").iterdir() if stat.S_ISFIFO(p.lstat().st_mode))
    assert len(chans) == 2, chans
    ans, req = chans
    return req, ans


def _bash_with_channel(dctl: DaemonCtl, shell_factory: ShellFactory, proj: Path) -> Shell:
    """The daemon up and a bash that has been in *proj* (through the client, which set
    its channel up) and back home: its next cd into a project uses the channel."""
    dctl.start()
    sh = shell_factory("bash")
    sh.cd(proj)
    sh.cd(dctl.home.path)
    return sh


def _processes_for(dctl: DaemonCtl, proj: Path, fresh: list[Path], pairs: int) -> int | None:
    """Processes a bash creates for *pairs* cd pairs and cds into *fresh* (strace -f), or
    None when an answer came too late for the prompt's deadline (a loaded machine: the
    fallback then runs `orenv export`, a process, by design)."""
    plain = dctl.home.path
    check = "[[ -n $__orenv_creq ]] || late=1"
    body = (f"late=0; cd {proj}; __orenv_hook; cd {plain}; __orenv_hook\n"
            f"for ((i=0;i<{pairs};i++)); do cd {proj}; __orenv_hook; {check}; cd {plain};"
            " __orenv_hook; done\n"
            + "".join(f"cd {d}; __orenv_hook; {check}; cd {plain}; __orenv_hook\n"
                      for d in fresh[:pairs and len(fresh)])
            + 'echo "token=${ANTHROPIC_AUTH_TOKEN-none} late=$late"\n'
            f"cd {proj}; __orenv_hook; echo \"in=$ANTHROPIC_AUTH_TOKEN\"\n")
    hook = dctl.orenv("hook", "bash").stdout
    with tempfile.NamedTemporaryFile(suffix=".strace") as log:
        out = subprocess.run(["strace", "-f", "-qq", "-e", "trace=fork,vfork,clone,clone3",
                              "-o", log.name, "bash", "--norc", "-c", hook + "\n" + body],
                             cwd=plain, env={**os.environ, **dctl.home.env},
                             capture_output=True, text=True, timeout=300)
        lines = Path(log.name).read_text().splitlines()
    assert f"in={KEY}" in out.stdout and "token=none" in out.stdout, out.stderr
    if "late=0" not in out.stdout:
        return None
    return sum(1 for ln in lines if any(c in ln for c in ("fork(", "clone(", "clone3("))
               and "= -1" not in ln and "resumed" not in ln and "CLONE_THREAD" not in ln)


@pytest.mark.skipif(not shutil.which("strace"), reason="strace is installed by `make deps`")
def test_a_warm_cd_and_a_first_load_run_no_process(keyed: DaemonCtl) -> None:
    proj = keyed.policy("proj")
    fresh = [keyed.policy(f"fresh{i}") for i in range(3)]
    keyed.start()
    base = _processes_for(keyed, proj, fresh, 0)
    # Ten more cd pairs and three projects the daemon had not seen: not one process.
    # (A run where an answer missed its deadline under load is measured again.)
    for attempt in range(3):
        more = _processes_for(keyed, proj, [keyed.policy(f"f{attempt}-{i}") for i in range(3)],
                              10)
        if more is not None and base is not None:
            break
        base = _processes_for(keyed, proj, fresh, 0) if base is None else base
    assert base is not None and more is not None, "every run missed the deadline"
    assert more == base, (base, more)


def test_the_channel_is_private_and_never_inherited(keyed: DaemonCtl,
                                                    shell_factory: ShellFactory) -> None:
    proj = keyed.policy("proj")
    sh = _bash_with_channel(keyed, shell_factory, proj)
    sh.cd(proj)
    assert keyed.status()["bash_channels"] == 1
    chan_dir = keyed.rt / "chan"
    assert stat.S_IMODE(chan_dir.stat().st_mode) == 0o700
    for path in chan_dir.iterdir():
        st_ = path.lstat()
        assert stat.S_ISFIFO(st_.st_mode) and stat.S_IMODE(st_.st_mode) == 0o600
        assert st_.st_uid == os.getuid()
    # A command the shell runs holds no descriptor of the channel.
    fds = sh.run("ls -l /proc/self/fd/")
    assert str(chan_dir) not in fds
    assert sh.env()["ANTHROPIC_AUTH_TOKEN"] == KEY


def test_values_are_exact_through_the_channel(keyed: DaemonCtl,
                                              shell_factory: ShellFactory) -> None:
    tricky = "a'b\"c $HOME `x` \\ ü\n2nd line\t!"
    text = ('[openrouter]\nkey = "work"\n[env]\nWEIRD = """' + tricky.replace("\\", "\\\\")
            + '"""\nMARK = "1"\n')
    proj = keyed.policy("proj", text)
    sh = _bash_with_channel(keyed, shell_factory, proj)
    before = keyed.status()["requests"]
    sh.cd(proj)  # through the channel
    assert keyed.status()["requests"] > before  # type: ignore[operator]
    env = sh.env()
    assert env["WEIRD"] == tricky and env["ANTHROPIC_AUTH_TOKEN"] == KEY


@pytest.mark.parametrize("trouble", ["sigstop", "sigkill", "restart", "stop"])
def test_trouble_on_the_channel_falls_back_within_the_second(
        trouble: str, keyed: DaemonCtl, shell_factory: ShellFactory) -> None:
    proj = keyed.policy("proj")
    other = keyed.policy("other", '[openrouter]\nkey = "work"\n[env]\nOTHER = "1"\n')
    sh = _bash_with_channel(keyed, shell_factory, proj)
    pid = keyed.pid()
    _channel(keyed)  # the shell has one now
    if trouble == "sigstop":
        os.kill(pid, signal.SIGSTOP)
    elif trouble == "sigkill":
        os.kill(pid, signal.SIGKILL)
    elif trouble == "restart":
        keyed.orenv("daemon", "stop")
        pid = keyed.start()
    else:
        keyed.orenv("daemon", "stop")
    try:
        start = time.monotonic()
        out = sh.cd(other)
        took = time.monotonic() - start
        assert "Traceback" not in out
        env = sh.env()
        assert env["OTHER"] == "1" and env["ANTHROPIC_AUTH_TOKEN"] == KEY
        assert took < 3, took  # the design's 1 s is measured by bench/
        sh.cd(keyed.home.path)
        assert "ANTHROPIC_AUTH_TOKEN" not in sh.env()
        if trouble == "restart":
            # The new daemon made a new channel, and the shell uses it.
            sh.cd(proj)
            assert keyed.status()["bash_channels"] == 1
            assert sh.env()["ANTHROPIC_AUTH_TOKEN"] == KEY
    finally:
        if trouble == "sigstop":
            os.kill(pid, signal.SIGCONT)


def test_a_forged_or_stale_answer_is_never_run(keyed: DaemonCtl,
                                               shell_factory: ShellFactory) -> None:
    proj = keyed.policy("proj")
    sh = _bash_with_channel(keyed, shell_factory, proj)
    marker = keyed.home.path / "pwned"
    req, ans = _channel(keyed)
    # An answer waiting before the request, with another nonce: not run.
    code = f"touch {marker}\n"
    fd = os.open(ans, os.O_RDWR | os.O_NONBLOCK)
    try:
        os.write(fd, f"#orenv 12345 ok {len(code)}\n{code}".encode())
    finally:
        os.close(fd)
    sh.cd(proj)
    assert not marker.exists()
    assert sh.env()["ANTHROPIC_AUTH_TOKEN"] == KEY  # through the fallback
    # The shell dropped that channel; its next request made a new one.
    sh.cd(keyed.home.path)
    sh.cd(proj)
    req2, _ = _channel(keyed)
    assert req2 != req
    # Garbage in the request FIFO: the daemon closes the channel, nothing runs.
    fd = os.open(req2, os.O_RDWR | os.O_NONBLOCK)
    try:
        os.write(fd, f"echo hi; touch {marker}\n".encode())
    finally:
        os.close(fd)
    keyed.wait_for(lambda: not req2.exists(), 5, "channel closed")
    sh.cd(keyed.home.path)
    sh.cd(proj)
    assert not marker.exists()
    assert sh.env()["ANTHROPIC_AUTH_TOKEN"] == KEY
    assert "pwned" not in sh.run("echo ok")


def test_a_subshell_never_uses_the_parents_channel(keyed: DaemonCtl,
                                                   shell_factory: ShellFactory) -> None:
    proj = keyed.policy("proj")
    sh = _bash_with_channel(keyed, shell_factory, proj)
    before = keyed.status()["requests"]
    out = sh.run(f"( cd {proj} && echo \"sub=$ANTHROPIC_AUTH_TOKEN\" )")
    assert f"sub={KEY}" in out
    # The subshell asked through the client (its own request), and the parent's
    # channel still works.
    assert keyed.status()["requests"] > before  # type: ignore[operator]
    sh.cd(proj)
    assert sh.env()["ANTHROPIC_AUTH_TOKEN"] == KEY
    assert keyed.status()["bash_channels"] == 1


# ---------------------------------------------------------------- where it is offered


@pytest.mark.parametrize(("env", "runtime", "expected"), [
    ({"ORENV_BASH_FIFO": "1"}, "/tmp/orenv-1000", True),
    ({"ORENV_BASH_FIFO": "0", "XDG_RUNTIME_DIR": "/run/user/1000"}, "/run/user/1000/orenv",
     False),
    ({"XDG_RUNTIME_DIR": "/run/user/1000"}, "/run/user/1000/orenv", True),
    ({"XDG_RUNTIME_DIR": "/run/user/1000"}, "/tmp/orenv-1000", False),  # passed over
    ({"XDG_RUNTIME_DIR": "/tmp/xdg"}, "/tmp/xdg/orenv", False),  # a sandbox may see /tmp
    ({"XDG_RUNTIME_DIR": "run/user/1000"}, "run/user/1000/orenv", False),  # relative
    ({}, "/home/me/.local/state/orenv/run", False),
])
def test_offered_only_where_sandboxes_do_not_look(env: dict[str, str], runtime: str,
                                                   expected: bool) -> None:
    assert fifo.allowed(Path(runtime), env) is expected


def test_bash_keeps_the_client_where_a_sandbox_could_see_the_channel(
        keyed: DaemonCtl, shell_factory: ShellFactory) -> None:
    """A runtime directory outside /run (here a temp one) and no opt-in: no channel, and
    every cd still right (through the client)."""
    keyed.home.env.pop("ORENV_BASH_FIFO")
    proj = keyed.policy("proj")
    keyed.start()
    sh = shell_factory("bash")
    for _ in range(2):
        sh.cd(proj)
        assert sh.env()["ANTHROPIC_AUTH_TOKEN"] == KEY
        sh.cd(keyed.home.path)
    assert keyed.status()["bash_channels"] == 0
    assert not list((keyed.rt / "chan").iterdir())
    assert sh.var("__orenv_creq") in (None, "")


# ---------------------------------------------------------------- the daemon's side


class _Chans:
    """Channels in a private directory, with an answer function of the test's."""

    def __init__(self, root: Path, answer: Callable[[int, dict[str, Any]], str | None]) -> None:
        root.chmod(0o700)
        self.c = Channels(root, answer, lambda req: True, get_logger(component="test"))
        self.thread = threading.Thread(target=self.c.run, daemon=True)
        self.thread.start()

    def ask(self, chan: fifo.Channel, nonce: str = "42", cwd: str = "/x",
            timeout: float = 5) -> bytes:
        w = os.open(chan.req_path, os.O_RDWR)
        r = os.open(chan.ans_path, os.O_RDWR | os.O_NONBLOCK)
        try:
            os.write(w, b"o1\0" + nonce.encode() + b"\0cd\0" + cwd.encode() + b"\0\0")
            out = b""
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    out += os.read(r, 1 << 20)
                except BlockingIOError:
                    if out and b"\n" in out:
                        head, _, body = out.partition(b"\n")
                        if len(body) >= int(head.split()[3]):
                            return out
                    time.sleep(0.005)
            return out
        finally:
            os.close(w)
            os.close(r)


@pytest.fixture
def chans(tmp_path: Path) -> Iterator[Callable[..., _Chans]]:
    made: list[_Chans] = []

    def make(answer: Callable[[int, dict[str, Any]], str | None]) -> _Chans:
        made.append(_Chans(tmp_path, answer))
        return made[-1]

    yield make
    for m in made:
        m.c.close_all()


def test_frames_say_whether_they_came_whole(chans: Callable[..., _Chans]) -> None:
    sizes = {"/small": 100, "/big": 10_000, "/huge": fifo.MAX_ANSWER + 1}
    c = chans(lambda pid, req: None if req["cwd"] == "/none" else "x" * sizes[req["cwd"]])
    chan = c.c.open(1)
    assert chan is not None
    assert c.ask(chan, cwd="/small").startswith(b"#orenv 42 ok 100\n")  # one atomic write
    assert c.ask(chan, cwd="/big").startswith(b"#orenv 42 big 10000\n")  # read with timeouts
    assert c.ask(chan, cwd="/huge") == b"#orenv 42 fail 0\n"  # never a wait: fall back
    assert c.ask(chan, cwd="/none") == b"#orenv 42 fail 0\n"


def test_a_failing_answer_closes_one_channel_not_the_others(
        chans: Callable[..., _Chans]) -> None:
    def answer(pid: int, req: dict[str, Any]) -> str:
        if pid == 1:
            raise RuntimeError("a bug")
        return "ok\n"

    c = chans(answer)
    bad, good = c.c.open(1), c.c.open(2)
    assert bad is not None and good is not None
    c.ask(bad, timeout=0.5)
    assert bad.closed and c.c.count() == 1
    assert c.ask(good).endswith(b"\nok\n")


def test_a_closed_channel_never_becomes_a_file(chans: Callable[..., _Chans]) -> None:
    """Its FIFOs become links to /dev/null at once: bash's `1<>` (O_CREAT) right after
    its check writes nowhere; the links go a little later."""
    c = chans(lambda pid, req: "ok\n")
    chan = c.c.open(7)
    assert chan is not None
    c.c.close_pid(7)
    for path in (chan.req_path, chan.ans_path):
        assert path.is_symlink() and os.readlink(path) == os.devnull
    subprocess.run(["bash", "-c", 'printf "%s\\0" o1 1 cd /x "" 1<>"$1"', "_",
                    str(chan.req_path)], check=True, timeout=10)
    assert chan.req_path.is_symlink()
    assert not [p for p in chan.req_path.parent.iterdir() if p.is_file() and not p.is_symlink()]
    deadline = time.monotonic() + fifo.TOMBSTONE_SECONDS + 5
    while chan.req_path.is_symlink() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not chan.req_path.exists() and not chan.req_path.is_symlink()


def test_one_request_at_a_time(chans: Callable[..., _Chans]) -> None:
    """A shell sends one request and waits: two at once are not a shell's."""
    c = chans(lambda pid, req: "ok\n")
    chan = c.c.open(3)
    assert chan is not None
    w = os.open(chan.req_path, os.O_RDWR)
    try:
        os.write(w, b"o1\0001\0cd\0/x\0\0" * 2)
    finally:
        os.close(w)
    deadline = time.monotonic() + 5
    while not chan.closed and time.monotonic() < deadline:
        time.sleep(0.02)
    assert chan.closed
