"""No key in a shell's trace, and no core dump of the bash/fish client holding one.

* Tracing: a user who turns on bash ``set -x``/``set -v``, a DEBUG/RETURN/ERR
  trap with functrace and errtrace, zsh ``xtrace``/``verbose`` or a DEBUG trap
  (which sees each command in ``$ZSH_DEBUG_CMD``), or fish's ``fish_trace``,
  then changes into an active project: neither the key nor the user's own
  ``ANTHROPIC_API_KEY`` (which orenv saves and puts back) appears in anything
  the terminal shows or a trap writes, through every path that applies an
  answer — a cd, a change picked up at the prompt, a cd within the project,
  leaving it, and the reload function called directly (as fish 4's
  ``fish_trace=all`` would trace the event handler). The key is applied all
  the same, and the user's tracing is still on afterwards, also after a
  Ctrl-C in the middle of a cd.
* Core dumps: the client bash and fish run on a cd receives the daemon's
  answer, the key. With the user's ``ulimit -c unlimited``, while it holds the
  answer its soft core limit is 0, it is not dumpable (its memory and
  environment are closed to the user's other processes), it ignores SIGQUIT,
  and a crash writes no core. In real bash and fish, Ctrl-\\ during a cd whose
  answer is on its way writes no core file and the cd still completes.
"""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import Home, make_policy, run_orenv, write_config
from harness import Shell, base_path

from orenv.daemon import client

from .support import Secrets, find_core_dumps, scan_files

ShellFactory = Callable[..., Shell]
POLICY = '[openrouter]\nkey = "work"\n[env]\nMARK = "on"\n'

# kind -> mode -> (line that turns the mode on, line that prints ON only while
# it is still on). {log} is a file a trap appends to. "trace-''on" prints
# trace-on, which the typed line itself does not contain.
TRACING: dict[str, dict[str, tuple[str, str]]] = {
    "bash": {
        "xtrace": ("set -x", "[[ $- == *x* ]] && echo trace-''on"),
        "verbose": ("set -v", "[[ $- == *v* ]] && echo trace-''on"),
        "traps": ("set -o functrace -o errtrace; "
                  "trap 'printf \"%s\\n\" \"$BASH_COMMAND\" >>{log}' DEBUG RETURN; "
                  "trap 'printf \"ERR %s\\n\" \"$BASH_COMMAND\" >>{log}' ERR",
                  "[[ $- == *E* && $- == *T* && $(trap -p DEBUG) == *printf* ]] "
                  "&& echo trace-''on"),
    },
    "zsh": {
        "xtrace": ("setopt xtrace", "[[ -o xtrace ]] && echo trace-''on"),
        "verbose": ("setopt verbose", "[[ -o verbose ]] && echo trace-''on"),
        "traps": ("trap 'print -r -- \"$ZSH_DEBUG_CMD\" >>{log}' DEBUG",
                  "[[ $(trap) == *ZSH_DEBUG_CMD*DEBUG* ]] && echo trace-''on"),
    },
    "fish": {
        # fish traces the command itself: "> echo trace-on".
        "fish_trace": ("set -g fish_trace 1", "echo trace-''on"),
    },
}
STILL_ON = {"bash": "trace-on", "zsh": "trace-on", "fish": "> echo trace-on"}
CASES = [(kind, mode) for kind, modes in TRACING.items() for mode in modes]


def untraced_harness(sh: Shell) -> None:
    """zsh traces the harness's own prompt functions, whose PROMPT= line holds
    the prompt marker (the harness would take the trace for the prompt): keep
    xtrace out of them. bash and fish never trace their prompt."""
    if sh.kind == "zsh":
        sh.run('for f in _orenv_t_precmd _orenv_t_preexec; do '
               'functions[$f]="setopt localoptions noxtrace; $functions[$f]"; done')


def record(sh: Shell) -> io.StringIO:
    """Everything the terminal shows from now on (echo, output, traces, prompts)."""
    buf = io.StringIO()
    sh.proc.logfile_read = buf
    return buf


@pytest.fixture
def daemon_switch(home: Home, request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The shell env for the daemon on (started here, stopped at the end) or off."""
    if request.param == "off":
        yield {"ORENV_NO_DAEMON": "1"}
        return
    run_orenv(home, "daemon", "start", check=True)
    try:
        yield {}
    finally:
        run_orenv(home, "daemon", "stop")


@pytest.mark.parametrize("daemon_switch", ["on", "off"], indirect=True)
@pytest.mark.parametrize(("kind", "mode"), CASES)
def test_tracing_never_shows_the_key(kind: str, mode: str, daemon_switch: dict[str, str],
                                     home: Home, secret_values: Secrets,
                                     shell_factory: ShellFactory) -> None:
    sec = secret_values
    run_orenv(home, "key", "set", "work", input=sec.key, check=True)
    proj = make_policy(home, "proj", POLICY)
    (proj / "sub").mkdir()
    log = home.path / "trap.log"
    sh = shell_factory(kind, env={"ANTHROPIC_API_KEY": sec.user_key, **daemon_switch})
    untraced_harness(sh)
    shown = record(sh)
    on, still_on = TRACING[kind][mode]
    sh.run(on.format(log=sh.quote(log)))

    sh.cd(proj)  # cd wrapper / chpwd / PWD handler
    env = sh.env()
    applied = env.get("ANTHROPIC_AUTH_TOKEN") == sec.key and env.get("MARK") == "on"
    assert applied, "control: the cd applied no key"
    # A change seen at the prompt (the key index): the prompt hook applies it.
    run_orenv(home, "key", "set", "work", "--force", input=sec.key2, check=True)
    sh.run("true")
    sh.run("true")
    assert (sh.var("ANTHROPIC_AUTH_TOKEN") == sec.key2) is True, "control: no reload at prompt"
    write_config(home)  # and once more, at the prompt
    sh.run("true")
    sh.cd(proj / "sub")  # within the project: restored, then applied again
    # The reload function called directly, not from a prompt or cd hook.
    sh.run("__orenv_reload")
    assert (sh.var("ANTHROPIC_AUTH_TOKEN") == sec.key2) is True, "control: direct reload"
    sh.cd(home.path)  # leaving puts the user's own key back
    env = sh.env()
    restored = env.get("ANTHROPIC_API_KEY") == sec.user_key
    assert restored and "ANTHROPIC_AUTH_TOKEN" not in env, "control: leaving"

    assert STILL_ON[kind] in sh.run(still_on), f"{kind} {mode}: the user's tracing is off"
    text = shown.getvalue()
    if mode == "traps":
        trapped = log.read_text(errors="replace")
        assert "__orenv" in trapped, "control: the trap never ran"
        text += trapped
    assert sec.hits(text) == [], f"{kind} {mode}: a secret in the trace"


@pytest.mark.parametrize("kind", ["bash", "zsh"])
def test_tracing_survives_ctrl_c_during_a_cd(kind: str, home: Home, secret_values: Secrets,
                                             shell_factory: ShellFactory) -> None:
    """The hook is cut short (Ctrl-C while the daemon hangs): tracing is still on."""
    sec = secret_values
    run_orenv(home, "key", "set", "work", input=sec.key, check=True)
    proj = make_policy(home, "proj", POLICY)
    run_orenv(home, "daemon", "start", check=True)
    try:
        pid = int((home.runtime / "orenv" / "daemon.pid").read_text())
        sh = shell_factory(kind)
        untraced_harness(sh)
        sh.cd(proj)
        sh.cd(home.path)
        shown = record(sh)
        sh.run(TRACING[kind]["xtrace"][0])
        os.kill(pid, signal.SIGSTOP)
        try:
            sh.send_raw(f"cd {sh.quote(proj)}\r")
            time.sleep(0.15)
            sh.send_raw("\x03")
            sh.expect_prompt(timeout=10)
        finally:
            os.kill(pid, signal.SIGCONT)
        sh.run("true")  # the next prompt finishes whatever was cut short
        assert (sh.var("ANTHROPIC_AUTH_TOKEN") == sec.key) is True, "control: no key applied"
        assert "trace-on" in sh.run(TRACING[kind]["xtrace"][1]), "xtrace is off after Ctrl-C"
        assert sec.hits(shown.getvalue()) == [], "a secret in the trace"
    finally:
        run_orenv(home, "daemon", "stop")


# ------------------------------------------------------------------ core dumps


class SlowDaemon:
    """A daemon stand-in on *sock*: it sends *code* at once, then holds the
    connection open (the client now holds the answer) until ``release``."""

    def __init__(self, sock: Path, code: str) -> None:
        self.code = code.encode()
        self.answered = threading.Event()
        self.released = threading.Event()
        self.peers: list[int] = []
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(str(sock))
        self.srv.listen(8)
        self.srv.settimeout(0.2)
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, name="slow-daemon", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.srv.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                        struct.calcsize("3i"))
                self.peers.append(struct.unpack("3i", creds)[0])
                data = b""
                conn.settimeout(5)
                while not data.endswith(b"\n"):
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                m = re.search(rb'"end":"([^"]+)"', data)
                if m is None:
                    continue
                conn.sendall(self.code)
                self.answered.set()
                self.released.wait(30)
                try:
                    conn.sendall(b"__orenv_end " + m.group(1) + b"\n")
                except OSError:
                    pass  # the client is gone

    def release(self) -> None:
        self.released.set()

    def close(self) -> None:
        self._stop.set()
        self.released.set()
        self.thread.join(5)
        self.srv.close()


def private_runtime(root: Path) -> Path:
    rt = root / "orenv"
    rt.mkdir(parents=True, exist_ok=True)
    rt.chmod(0o700)
    return rt


# A process without capabilities reads /proc/PID/environ of a process like
# itself only while that one is dumpable (as root, both drop every capability;
# a normal user has none, and an undumpable process's /proc files are root's).
NO_CAPS = ["setpriv", "--bounding-set=-all", "--inh-caps=-all"] if os.getuid() == 0 else []


def environ_readable(pid: int) -> bool:
    out = subprocess.run([*NO_CAPS, "cat", f"/proc/{pid}/environ"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, timeout=10, check=False)
    return out.returncode == 0


def soft_core_limit(pid: int) -> str:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max core file size"):
            return line.split()[4]
    raise AssertionError("no core limit line")


def ignored_signals(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return int(line.split()[1], 16)
    raise AssertionError("no SigIgn line")


def alive(pid: int) -> bool:
    return os.waitpid(pid, os.WNOHANG) == (0, 0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_client_holding_the_answer_cannot_dump_core(tmp_path: Path,
                                                    secret_values: Secrets) -> None:
    sec = secret_values
    rt = private_runtime(tmp_path / "run")
    cwd = tmp_path / "project"  # core_pattern "core" writes here
    cwd.mkdir()
    daemon = SlowDaemon(rt / "daemon.sock", f"__orenv_set 'ANTHROPIC_AUTH_TOKEN' '{sec.key}'\n")
    env = {"PATH": base_path(), "LANG": "C.UTF-8", "ORENV_DAEMON_DEADLINE": "30"}
    # The user allows core dumps, as the attack needs; the hook runs the client so.
    script = 'ulimit -c unlimited; exec "$@"'
    proc = subprocess.Popen(
        ["sh", "-c", script, "sh", *NO_CAPS, sys.executable, "-I", "-S", client.__file__,
         "bash", "1", "cd", str(rt / "daemon.sock"), str(cwd)],
        cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert daemon.answered.wait(20), "the client never asked"
        time.sleep(0.1)  # it has read the answer and waits for the end line
        pid = proc.pid
        assert daemon.peers == [pid]
        assert soft_core_limit(pid) == "0"
        assert environ_readable(pid) is False, "the client is dumpable"
        assert ignored_signals(pid) & (1 << (signal.SIGQUIT - 1)), "SIGQUIT not ignored"
        os.kill(pid, signal.SIGQUIT)  # Ctrl-\
        time.sleep(0.3)
        assert alive(pid), "SIGQUIT killed the client"
        os.kill(pid, signal.SIGSEGV)  # a crash, which nothing ignores
        _, status = os.waitpid(pid, 0)
        proc.returncode = -signal.SIGSEGV
        assert os.WIFSIGNALED(status) and not os.WCOREDUMP(status), "a core was dumped"
        assert find_core_dumps([cwd]) == []
        assert scan_files([cwd], sec) == []
    finally:
        if proc.returncode is None:
            proc.kill()
            proc.wait()
        daemon.close()


def test_client_hardening_in_process() -> None:
    # The function the client runs first, in a fresh interpreter like the hook's.
    code = ("import ctypes, resource, sys; sys.path.insert(0, sys.argv[1]); import client; "
            "hard = resource.getrlimit(resource.RLIMIT_CORE)[1]; "
            "resource.setrlimit(resource.RLIMIT_CORE, (hard, hard)); client.no_core_dumps(); "
            "print(ctypes.CDLL(None).prctl(3, 0, 0, 0, 0), "
            "resource.getrlimit(resource.RLIMIT_CORE)[0])")
    out = subprocess.run([sys.executable, "-I", "-c", code, str(Path(client.__file__).parent)],
                         capture_output=True, text=True, timeout=30, check=True)
    assert out.stdout.split() == ["0", "0"]  # PR_GET_DUMPABLE, soft core limit


@pytest.mark.parametrize("kind", ["bash", "fish"])
def test_ctrl_backslash_during_a_cd_writes_no_core(kind: str, home: Home,
                                                   secret_values: Secrets,
                                                   shell_factory: ShellFactory) -> None:
    """The attack as reported: core dumps allowed, core_pattern "core", Ctrl-\\
    while the client holds the daemon's answer."""
    sec = secret_values
    proj = home.path / "proj"
    proj.mkdir()
    (proj / ".orenv.toml").write_text(POLICY)  # the stand-in answers; never allowed
    daemon = SlowDaemon(private_runtime(home.runtime) / "daemon.sock",
                        f"__orenv_set 'ANTHROPIC_AUTH_TOKEN' '{sec.key}'\n")
    try:
        sh = shell_factory(kind, env={"ORENV_DAEMON_DEADLINE": "30"},
                           rc_before="ulimit -c unlimited")
        shown = record(sh)
        sh.send_raw(f"cd {sh.quote(proj)}\r")
        assert daemon.answered.wait(20), "the client never asked"
        time.sleep(0.1)
        sh.send_raw("\x1c")  # Ctrl-\: SIGQUIT to the foreground process group
        time.sleep(0.3)
        daemon.release()
        sh.expect_prompt(timeout=10)
        assert (sh.var("ANTHROPIC_AUTH_TOKEN") == sec.key) is True, "the cd did not complete"
        assert find_core_dumps([proj, home.path]) == []
        assert scan_files([proj, home.path], sec) == []
        assert sec.hits(shown.getvalue()) == []
    finally:
        daemon.close()
        run_orenv(home, "daemon", "stop")  # in case the hook fell back and started one
