"""Changes that land while the daemon computes an answer reach the shell.

Each test makes the change from inside the computation (the moment a loaded
machine can hit by chance) and checks what the shell's idle prompt tests:
some watched file must be newer than the reference it was given.
"""

from __future__ import annotations

import os
import shlex
import time
from pathlib import Path
from typing import Any

import pytest

from orenv.activation import Activation
from orenv.daemon import server
from orenv.daemon.server import Daemon

from .conftest import KEY, KEY2, DaemonCtl, export_request


def _once_after(monkeypatch: pytest.MonkeyPatch, action: Any) -> None:
    """Run *action* once, right after the next computation read its inputs."""
    real = server.compute
    done: list[bool] = []

    def racing(*args: Any, **kwargs: Any) -> Activation:
        act = real(*args, **kwargs)
        if not done:
            done.append(True)
            action()
        return act

    monkeypatch.setattr(server, "compute", racing)


def _watched(code: str, sessions: Path) -> dict[str, int]:
    """The files the shell's idle prompt tests, with their mtimes, and its "ref"."""
    [line] = [shlex.split(x) for x in code.splitlines() if x.startswith("__orenv_watching ")]
    _, ref_file, *files = line
    ref = Path(ref_file)
    # The daemon's own per answer (PID.rN), or `orenv export`'s (PID).
    assert ref.parent == sessions and ref.name.split(".")[0] == str(os.getpid())
    return {"ref": ref.stat().st_mtime_ns,
            **{f: os.stat(f).st_mtime_ns for f in files if os.path.exists(f) and f != "-"}}


def _reloads(times: dict[str, int]) -> bool:
    """Would the shell's next idle prompt ask again? (a watched file newer than its ref)"""
    return any(m > times["ref"] for f, m in times.items() if f != "ref")


def test_key_rotated_during_a_computation_reaches_the_shell(
    keyed: DaemonCtl, daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    proj = keyed.policy("proj")

    def rotate_late() -> None:
        # More than a second after the read, as on a loaded machine (this
        # once passed for a change "from the future").
        time.sleep(1.2)
        keyed.orenv("key", "set", "--force", "work", input=KEY2)

    _once_after(monkeypatch, rotate_late)
    code = daemon.export(export_request(proj))
    # Booleans only: a failing assert must not print the code (it holds a key).
    had_old, times = KEY in code, _watched(code, daemon.sessions_dir)
    assert had_old
    assert _reloads(times), times
    code = daemon.export(export_request(proj, "change"))
    has_new = KEY2 in code and KEY not in code
    assert has_new


def test_live_reload_during_a_computation_is_not_swallowed(
    keyed: DaemonCtl, daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    proj = keyed.policy("proj", '[openrouter]\nkey = "work"\n[env]\nWHICH = "one"\n')
    daemon.export(export_request(proj))
    sess = daemon.sessions[os.getpid()]

    def edit_and_signal() -> None:
        (proj / ".orenv.toml").write_text('[openrouter]\nkey = "work"\n[env]\nWHICH = "two"\n')
        keyed.orenv("allow", str(proj))
        daemon.refresh_session(sess)  # what the file event makes the refresher do

    _once_after(monkeypatch, edit_and_signal)
    code = daemon.export(export_request(proj, "change"))
    assert "__orenv_set 'WHICH' 'one'" in code
    times = _watched(code, daemon.sessions_dir)
    assert _reloads(times), times
    code = daemon.export(export_request(proj, "change"))
    assert "__orenv_set 'WHICH' 'two'" in code


def test_an_answer_the_shell_never_got_does_not_move_its_reference(
    keyed: DaemonCtl, daemon: Daemon
) -> None:
    """Under load a shell gives up on the daemon (its deadline) and asks `orenv export`;
    the daemon finishes the answer anyway. That answer must not move the reference
    the shell compares with, or a change made in between is never seen (seen in
    the load test: shells left "blocked" after the policy was allowed again)."""
    proj = keyed.policy("proj")
    policy = proj / ".orenv.toml"
    policy.write_text(policy.read_text() + "# edited\n")
    fallback = keyed.orenv("export", "bash", "--session", str(os.getpid()), cwd=proj).stdout
    assert "'ORENV_STATE' 'blocked'" in fallback
    keyed.orenv("allow", str(policy))
    daemon.export(export_request(proj))  # computed after the allow, never delivered
    assert _reloads(_watched(fallback, daemon.sessions_dir))
