"""The daemon seen from real zsh, bash, fish and nu under a pty.

Live reload: each event reaches the shell at its next prompt without a cd.
Trouble (SIGKILL, deleted socket, SIGSTOP): the prompt comes back quickly with
a correct environment through the daemon-less fallback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable

import pytest
from harness import Shell

from .conftest import KEY, KEY2, KINDS, POLICY, DaemonCtl, daemon_procs

ShellFactory = Callable[..., Shell]


def _registered(dctl: DaemonCtl, sh: Shell) -> bool:
    st = dctl.status()
    return any(s["pid"] == sh.pid for s in st.get("shells", []))  # type: ignore[union-attr]


@pytest.mark.parametrize("kind", KINDS)
def test_cd_is_answered_by_the_daemon(kind: str, keyed: DaemonCtl,
                                      shell_factory: ShellFactory) -> None:
    proj = keyed.policy("proj")
    keyed.start()
    sh = shell_factory(kind)
    out = sh.cd(proj)
    assert "orenv: loaded proj" in out
    assert sh.env()["ANTHROPIC_AUTH_TOKEN"] == KEY
    assert _registered(keyed, sh)
    before = keyed.status()
    sh.cd(keyed.home.path)
    sh.cd(proj)
    after = keyed.status()
    assert after["hits"] > before["hits"]  # type: ignore[operator]
    assert sh.env()["ANTHROPIC_AUTH_TOKEN"] == KEY
    sh.cd(keyed.home.path)
    assert "ANTHROPIC_AUTH_TOKEN" not in sh.env()


@pytest.mark.parametrize("kind", KINDS)
def test_hook_starts_the_daemon_on_demand(kind: str, keyed: DaemonCtl,
                                          shell_factory: ShellFactory) -> None:
    proj = keyed.policy("proj")
    sh = shell_factory(kind)
    assert sh.cd(proj).count("loaded proj") == 1  # daemon-less fallback at first
    keyed.wait_up(15)
    sh.cd(keyed.home.path)
    sh.cd(proj)
    assert _registered(keyed, sh)
    assert sh.env()["ANTHROPIC_AUTH_TOKEN"] == KEY


@pytest.mark.parametrize("kind", KINDS)
def test_live_reload_without_cd(kind: str, keyed: DaemonCtl,
                                shell_factory: ShellFactory) -> None:
    keyed.start()
    work = keyed.home.path / "a" / "b"
    work.mkdir(parents=True)
    sh = shell_factory(kind, cwd=work)
    sh.run("true")
    pid = sh.pid

    def next_prompt_after_daemon(action: Callable[[], object]) -> str:
        before = keyed.stamp_mtime(pid)
        action()
        keyed.wait_stamp_touched(pid, before)
        return sh.run("true")

    # 1. A policy created above the cwd, no cd: blocked until allowed. (With
    # none above, the hook looks for one itself at each prompt.)
    policy_file = keyed.home.path / "a" / ".orenv.toml"
    policy_file.write_text('[openrouter]\nkey = "work"\n')
    out = sh.run("true")
    assert "not allowed yet" in out
    assert "ANTHROPIC_AUTH_TOKEN" not in sh.env()
    keyed.wait_shells(1)
    # 2. orenv allow (from elsewhere): applied.
    out = next_prompt_after_daemon(lambda: keyed.orenv("allow", str(policy_file)))
    assert "loaded a" in out
    assert sh.env()["ANTHROPIC_AUTH_TOKEN"] == KEY
    # 3. orenv key set: the new key.
    next_prompt_after_daemon(lambda: keyed.orenv("key", "set", "--force", "work", input=KEY2))
    assert sh.env()["ANTHROPIC_AUTH_TOKEN"] == KEY2
    # 4. An edit by someone else: blocked and unloaded.
    out = next_prompt_after_daemon(lambda: policy_file.write_text(
        '[openrouter]\nkey = "work"\n# edited\n'))
    assert "changed since it was allowed" in out
    env = sh.env()
    assert "ANTHROPIC_AUTH_TOKEN" not in env and env["ORENV_STATE"] == "blocked"
    # 5. Re-allowed, then denied.
    next_prompt_after_daemon(lambda: keyed.orenv("allow", str(policy_file)))
    assert sh.env()["ANTHROPIC_AUTH_TOKEN"] == KEY2
    out = next_prompt_after_daemon(lambda: keyed.orenv("deny", str(policy_file)))
    assert "denied" in out and "ANTHROPIC_AUTH_TOKEN" not in sh.env()
    # 6. A nearer policy appears (allowed first by path), then is deleted.
    keyed.orenv("allow", str(policy_file))
    sh.run("true")
    near = work / ".orenv.toml"
    near.write_text('[openrouter]\nkey = "work"\n[env]\nNEAR = "1"\n')
    keyed.orenv("allow", str(near))
    sh.run("true")
    assert sh.env().get("NEAR") == "1"
    out = next_prompt_after_daemon(near.unlink)
    env = sh.env()
    assert "NEAR" not in env and env["ANTHROPIC_AUTH_TOKEN"] == KEY2
    # All of it went through the daemon, which is still the same process.
    assert _registered(keyed, sh)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("trouble", ["sigkill", "socket_deleted", "sigstop"])
def test_daemon_trouble_falls_back(kind: str, trouble: str, keyed: DaemonCtl,
                                   shell_factory: ShellFactory) -> None:
    proj = keyed.policy("proj")
    other = keyed.policy("other", '[openrouter]\nkey = "work"\n[env]\nOTHER = "1"\n')
    pid = keyed.start()
    sh = shell_factory(kind)
    sh.cd(proj)
    assert _registered(keyed, sh)
    if trouble == "sigkill":
        os.kill(pid, signal.SIGKILL)
        keyed.wait_for(lambda: not daemon_procs(keyed.home.runtime), 5, "daemon gone")
    elif trouble == "socket_deleted":
        keyed.sock.unlink()
    else:
        os.kill(pid, signal.SIGSTOP)
    try:
        start = time.monotonic()
        out = sh.cd(other)
        took = time.monotonic() - start
        assert "Traceback" not in out
        env = sh.env()
        assert env["OTHER"] == "1" and env["ANTHROPIC_AUTH_TOKEN"] == KEY
        # Loose bound (the design's 1 s is measured by bench/): a hung daemon
        # must not hang the prompt.
        assert took < 3, took
        sh.cd(keyed.home.path)
        assert "ANTHROPIC_AUTH_TOKEN" not in sh.env()
        assert sh.run("echo alive").strip() == "alive"
    finally:
        if trouble == "sigstop":
            os.kill(pid, signal.SIGCONT)


@pytest.mark.parametrize("kind", KINDS)
def test_nested_shell_and_daemon(kind: str, keyed: DaemonCtl,
                                 shell_factory: ShellFactory) -> None:
    proj = keyed.policy("proj")
    keyed.start()
    sh = shell_factory(kind, cwd=proj)
    assert sh.env()["ANTHROPIC_AUTH_TOKEN"] == KEY
    rc = {"zsh": f"ZDOTDIR={sh.quote(sh.rc_file.parent)} zsh -i",
          "bash": f"bash --noprofile --rcfile {sh.quote(sh.rc_file)} -i",
          "fish": f"fish --no-config -C {sh.quote('source ' + str(sh.rc_file))}",
          "nu": sh.nested_line()}[kind]
    sh.run(rc, timeout=15)
    inner = sh.prompt_pid
    assert inner != sh.pid
    assert sh.env()["ANTHROPIC_AUTH_TOKEN"] == KEY
    keyed.wait_for(lambda: any(s["pid"] == inner for s in keyed.status()["shells"]),  # type: ignore[union-attr]
                   10, "inner shell registered")
    sh.cd(keyed.home.path)
    assert not any(k.startswith("ANTHROPIC_") for k in sh.env())
    sh.run("exit")
    # The outer shell is still in the project.
    assert sh.env()["ANTHROPIC_AUTH_TOKEN"] == KEY


def processes_started(sh: Shell, action: Callable[[], None]) -> list[str]:
    """strace lines of every process *sh* (or a child) starts during *action*.

    Threads (CLONE_THREAD, e.g. fish's own workers) are not processes.
    """
    log = sh.dir / "strace.log"
    tracer = subprocess.Popen(["strace", "-f", "-qq", "-e", "trace=fork,vfork,clone,clone3,execve",
                               "-o", str(log), "-p", str(sh.pid)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)  # attach
        action()
    finally:
        tracer.terminate()
        tracer.wait(10)
    return [line for line in log.read_text().splitlines()
            if any(c in line for c in ("fork(", "clone(", "clone3(", "execve("))
            and "CLONE_THREAD" not in line]


def test_zsh_idle_prompt_and_cd_run_no_process(keyed: DaemonCtl,
                                               shell_factory: ShellFactory) -> None:
    """strace: with the daemon up, neither an idle prompt nor a cd forks in zsh."""
    proj = keyed.policy("proj")
    keyed.start()
    sh = shell_factory("zsh")
    sh.cd(proj)
    sh.cd(keyed.home.path)
    assert _registered(keyed, sh)
    def idle_and_cds() -> None:
        for _ in range(3):
            sh.run("")
            sh.cd(proj)
            sh.cd(keyed.home.path)

    assert processes_started(sh, idle_and_cds) == []
    assert sh.env().get("ANTHROPIC_AUTH_TOKEN") is None


@pytest.mark.parametrize("kind", ["bash", "fish", "nu"])
def test_idle_prompts_run_no_process(kind: str, keyed: DaemonCtl,
                                     shell_factory: ShellFactory) -> None:
    """strace: an idle prompt forks nothing in bash, fish and nu either (a cd may
    run the client)."""
    proj = keyed.policy("proj")
    keyed.start()
    sh = shell_factory(kind, cwd=proj)
    assert sh.env().get("ANTHROPIC_AUTH_TOKEN") == KEY
    def idle() -> None:
        for _ in range(5):
            sh.run("")

    assert processes_started(sh, idle) == []


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("daemon", ["up", "off"])
def test_no_policy_above_runs_no_process(kind: str, daemon: str, keyed: DaemonCtl,
                                         shell_factory: ShellFactory) -> None:
    """strace: where no .orenv.toml is at or above, cds and prompts start nothing
    (the hook looks itself), daemon or not; one created above is picked up at
    the next prompt, without a cd."""
    plain = keyed.home.path / "plain" / "a"
    plain.mkdir(parents=True)
    if daemon == "up":
        keyed.start()
    sh = shell_factory(kind, cwd=plain, env={"ORENV_NO_DAEMON": "1"} if daemon == "off" else {})

    def cds_and_prompts() -> None:
        for _ in range(3):
            sh.cd(plain.parent)
            sh.cd(plain)
            sh.cd("/")
            sh.cd(plain)
            sh.run("")

    assert processes_started(sh, cds_and_prompts) == []
    (plain.parent / ".orenv.toml").write_text(POLICY)
    out = sh.run("true")
    assert "not allowed" in out or "orenv allow" in out, out
    keyed.orenv("allow", str(plain.parent))
    sh.run("true")
    has_key = sh.env().get("ANTHROPIC_AUTH_TOKEN") == KEY
    assert has_key
    (plain.parent / ".orenv.toml").unlink()
    assert "unloaded" in sh.run("true")
    assert "ANTHROPIC_AUTH_TOKEN" not in sh.env()


def test_warm_cd_touches_neither_disk_nor_keyring(keyed: DaemonCtl,
                                                  shell_factory: ShellFactory) -> None:
    """strace the daemon (all threads) while a zsh cds between known projects:
    no file outside the runtime directory (and /proc, where the liveness check
    reads), no keyring connection, no child process."""
    a, b = keyed.policy("a"), keyed.policy("b")
    pid = keyed.start()
    sh = shell_factory("zsh")
    for d in (a, b, a, b):  # both answers cached, the session registered
        sh.cd(d)
    log = sh.dir / "daemon-strace.log"
    tracer = subprocess.Popen(["strace", "-f", "-qq", "-e", "trace=%file,%process,connect",
                               "-o", str(log), "-p", str(pid)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)  # attach
        before = keyed.status()["hits"]
        for _ in range(5):
            sh.cd(a)
            sh.cd(b)
        hits = keyed.status()["hits"]
    finally:
        tracer.terminate()
        tracer.wait(10)
    assert hits >= before + 10  # type: ignore[operator]
    runtime = str(keyed.home.runtime)

    def offending(line: str) -> bool:
        if "execve(" in line or "connect(" in line:
            return True
        if "clone" in line:
            return "CLONE_THREAD" not in line  # a thread is not a process
        return '"/' in line and f'"{runtime}/' not in line and '"/proc/' not in line

    bad = [line for line in log.read_text().splitlines() if offending(line)]
    assert bad == [], bad[:10]
    has_key = sh.env().get("ANTHROPIC_AUTH_TOKEN") == KEY
    assert has_key


@pytest.mark.parametrize("kind", KINDS)
def test_claude_settings_of_the_shells_own_home(kind: str, keyed: DaemonCtl,
                                                shell_factory: ShellFactory) -> None:
    """A shell with another HOME (a direnv .envrc may set one): the daemon, started
    with the usual HOME, judges the Claude Code settings under the shell's HOME."""
    import json

    proj = keyed.policy("proj")
    keyed.start()
    alt = keyed.home.path / "alt-home"
    (alt / ".claude").mkdir(parents=True)
    (alt / ".claude" / "settings.json").write_text(
        json.dumps({"env": {"ANTHROPIC_BASE_URL": "https://evil.example/api"}}))
    sh = shell_factory(kind, env={"HOME": str(alt)})
    out = sh.cd(proj)
    assert _registered(keyed, sh)  # answered by the daemon
    assert str(alt / ".claude" / "settings.json") in out
    assert "ANTHROPIC_AUTH_TOKEN" not in sh.env()
    plain = shell_factory(kind)  # the same daemon, the usual HOME: loaded
    assert "loaded proj" in plain.cd(proj) and plain.var("ANTHROPIC_AUTH_TOKEN") == KEY
