"""No key outlives its use: no core dump of a process that holds one, no shell variable
keeps one once the policy stops applying (and none in exec or helper mode at all).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Home, base_path, make_policy, run_orenv
from harness import Shell

from orenv import cli

from .support import KINDS

KEY = "sk-or-v1-" + "c0de" * 16
# Every variable the shell has, exported or not, functions' locals gone.
DUMP = {"zsh": "typeset -p; print -r -- $_", "bash": "declare -p; echo \"$_\"",
        "fish": "set -L; set -S",
        # nu: the whole $env (records such as the hook's own state included)
        # and every variable in scope.
        "nu": "print ($env | to json -r --serialize); "
              "print (scope variables | to json -r --serialize)"}


def env(home: Home) -> dict[str, str]:
    return {"PATH": base_path(), "LANG": "C.UTF-8", **home.env}


def core_limit(pid: int | str) -> str:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max core file size"):
            return line.split()[4]  # the soft limit
    raise AssertionError("no core limit line")


def test_exec_children_and_the_daemon_cannot_dump_core(home: Home, tmp_path: Path) -> None:
    run_orenv(home, "key", "set", "work", input=KEY, check=True)
    proj = make_policy(home, "proj", '[openrouter]\nkey = "work"\nmode = "exec"\n')
    # The user allows core dumps; a process that holds the key still writes none.
    out = subprocess.run(["sh", "-c", "ulimit -c unlimited; orenv exec -- sh -c 'ulimit -c'"],
                         cwd=proj, env=env(home), capture_output=True, text=True, timeout=60,
                         check=True)
    assert out.stdout.strip() == "0"
    crash = tmp_path / "crash"
    crash.mkdir()
    subprocess.run(["sh", "-c", f"ulimit -c unlimited; cd {crash} && orenv exec --dir {proj} "
                    f"-- {sys.executable} -c 'import os; os.abort()'"],
                   env=env(home), capture_output=True, timeout=60, check=False)
    assert [p.name for p in crash.iterdir()] == []  # core_pattern "core" would write here
    subprocess.run(["sh", "-c", "ulimit -c unlimited; orenv daemon start"], env=env(home),
                   capture_output=True, timeout=60, check=True)
    try:
        pid = int((home.runtime / "orenv" / "daemon.pid").read_text())
        assert core_limit(pid) == "0"
    finally:
        run_orenv(home, "daemon", "stop")


def test_hardening_makes_a_process_undumpable() -> None:
    code = ("import ctypes, resource; from orenv._harden import no_core_dumps; no_core_dumps(); "
            "print(ctypes.CDLL(None).prctl(3, 0, 0, 0, 0), "
            "resource.getrlimit(resource.RLIMIT_CORE)[0])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=30, check=True)
    assert out.stdout.split() == ["0", "0"]  # PR_GET_DUMPABLE, soft core limit


@pytest.mark.parametrize("argv", [["export", "zsh"], ["exec", "--", "true"], ["token"],
                                  ["key", "list"], ["daemon", "status"], ["doctor"], ["status"],
                                  ["usage"], ["models"], ["init"]])
def test_every_command_that_may_hold_a_key_is_hardened(
    argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    called: list[bool] = []
    from orenv import _harden

    monkeypatch.setattr(_harden, "no_core_dumps", lambda: called.append(True))
    monkeypatch.setattr(cli, "build_parser", lambda only=None: (_ for _ in ()).throw(SystemExit))
    with pytest.raises(SystemExit):
        cli.main(argv)
    assert called == [True]


@pytest.mark.parametrize("daemon", ["on", "off"])
@pytest.mark.parametrize("kind", [*KINDS, "nu"])
def test_no_shell_variable_keeps_the_key(kind: str, daemon: str, home: Home,
                                         shell_factory: Callable[..., Shell]) -> None:
    run_orenv(home, "key", "set", "work", input=KEY, check=True)
    dirs = {mode: make_policy(home, mode, f'[openrouter]\nkey = "work"\nmode = "{mode}"\n')
            for mode in ("export", "exec", "helper")}
    shell_env = {"ORENV_NO_DAEMON": "1"} if daemon == "off" else {}
    if daemon == "on":
        run_orenv(home, "daemon", "start", check=True)
    try:
        sh = shell_factory(kind, env=shell_env)
        needle = KEY[12:40]
        for _ in range(2):  # the second round is answered by the daemon's cache
            sh.cd(dirs["export"])
            sh.run("true")
            assert sh.var("ANTHROPIC_AUTH_TOKEN") == KEY
            sh.cd(home.path)  # "orenv: unloaded": nothing may keep the key now
            sh.run("true")
            dump = sh.run(DUMP[kind], timeout=30)
            assert needle not in dump, [ln[:80] for ln in dump.splitlines() if needle in ln]
            for mode in ("exec", "helper"):
                sh.cd(dirs[mode])
                assert needle not in sh.run(DUMP[kind], timeout=30), f"{mode} mode"
        if daemon == "on":
            time.sleep(0.1)
            status = run_orenv(home, "daemon", "status", "--json", check=True).stdout
            assert str(sh.pid) in status  # the daemon did answer this shell
    finally:
        run_orenv(home, "daemon", "stop")
    assert os.environ.get("ANTHROPIC_AUTH_TOKEN") is None
