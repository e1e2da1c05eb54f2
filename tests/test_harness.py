"""Tests of the test infrastructure itself: the pty shell harness and keyringd."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import Home
from harness import KINDS, Shell, ShellTimeoutError
from keyringd import KeyringSession

# -- shells -------------------------------------------------------------------------


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class TestShell:
    def test_run_returns_output_without_echo(self, kind: str, home: Home) -> None:
        with Shell(kind, env=home.env, hook=False) as sh:
            assert sh.run("echo hello") == "hello\n"
            assert sh.run("printf 'a\\nb\\n'") == "a\nb\n"
            assert sh.run("") == ""
            assert sh.run("true") == ""
            # Output that does not end in a newline.
            assert sh.run("printf abc") == "abc"

    def test_prompt_marker_in_output_is_not_a_prompt(self, kind: str, home: Home) -> None:
        with Shell(kind, env=home.env, hook=False) as sh:
            # Copies of the current and earlier prompt markers do not end a command
            # early (only the next number counts; the token is random per shell).
            fake = sh.marker()
            out = sh.run(f"echo '{fake}'; sleep 0.2; echo after")
            assert out == f"{fake}\nafter\n"
            assert sh.run("echo ok") == "ok\n"
            dump = sh.run("set" if kind != "fish" else "functions fish_prompt")
            assert dump  # printing the prompt's definition does not confuse it
            assert sh.run("echo still") == "still\n"

    def test_env_reads_newlines_and_exports_only(self, kind: str, home: Home) -> None:
        with Shell(kind, env=home.env, hook=False) as sh:
            if kind == "fish":
                sh.run("set -gx MULTI line1\\nline2=x; set -g NOTEXP 1")
            else:
                sh.run("export MULTI=$'line1\\nline2=x'; NOTEXP=1")
            env = sh.env()
            assert env["MULTI"] == "line1\nline2=x"
            assert "NOTEXP" not in env
            assert sh.var("MULTI") == "line1\nline2=x"
            assert sh.var("NOPE") is None

    def test_env_is_minimal_and_not_inherited(
        self, kind: str, home: Home, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("ORENV_TEST_LEAK", "leak")
        with Shell(kind, env={**home.env, "EXTRA": "1"}, hook=False) as sh:
            env = sh.env()
        assert "ORENV_TEST_LEAK" not in env
        assert env["EXTRA"] == "1"
        assert env["HOME"] == str(home.path)
        assert env["TERM"] == "dumb"
        assert env["DBUS_SESSION_BUS_ADDRESS"] == home.env["DBUS_SESSION_BUS_ADDRESS"]
        assert env["PATH"].split(":")[0].endswith("bin")
        assert Path(env["PATH"].split(":")[0], "python").exists()

    def test_cd(self, kind: str, home: Home, tmp_path: Path) -> None:
        target = tmp_path / "dir with space"
        target.mkdir()
        with Shell(kind, env=home.env, hook=False) as sh:
            assert sh.cd(target) == ""
            assert sh.run("pwd") == f"{target}\n"
            assert sh.var("PWD") == str(target)

    def test_cwd_and_rc_lines(self, kind: str, home: Home, tmp_path: Path) -> None:
        setter = "set -gx FROM_RC before" if kind == "fish" else "export FROM_RC=before"
        after = "set -gx AFTER_RC 1" if kind == "fish" else "export AFTER_RC=1"
        with Shell(
            kind, env=home.env, cwd=tmp_path, rc_before=setter, rc_after=after, hook=False
        ) as sh:
            assert sh.run("pwd") == f"{tmp_path}\n"
            env = sh.env()
            assert env["FROM_RC"] == "before"
            assert env["AFTER_RC"] == "1"

    def test_user_hooks_still_run(self, kind: str, home: Home) -> None:
        """A user's precmd/PROMPT_COMMAND/fish_prompt hook keeps running each prompt."""
        user = {
            "zsh": "_u() { print -r -- user-hook; }; precmd_functions+=(_u)",
            "bash": 'PROMPT_COMMAND="echo user-hook${PROMPT_COMMAND:+;$PROMPT_COMMAND}"',
            "fish": "function _u --on-event fish_prompt; echo user-hook; end",
        }[kind]
        with Shell(kind, env=home.env, rc_after=user, hook=False) as sh:
            assert "user-hook" in sh.startup_output
            assert sh.run("echo x") == "x\nuser-hook\n"
            assert sh.run("") == "user-hook\n"

    def test_nested_shell(self, kind: str, home: Home) -> None:
        with Shell(kind, env=home.env, hook=False) as sh:
            outer = sh.prompt_pid
            assert outer == sh.pid
            cmd = {
                "zsh": f"ZDOTDIR={sh.quote(sh.rc_file.parent)} zsh -i",
                "bash": f"bash --noprofile --rcfile {sh.quote(sh.rc_file)} -i",
                "fish": f"fish --no-config -C {sh.quote('source ' + str(sh.rc_file))}",
            }[kind]
            sh.run(cmd)
            assert sh.prompt_pid != outer
            assert sh.run("echo inner") == "inner\n"
            assert sh.var("SHLVL") is not None
            sh.run("exit")
            assert sh.prompt_pid == outer
            assert sh.run("echo outer") == "outer\n"

    def test_timeout_is_clear(self, kind: str, home: Home) -> None:
        with Shell(kind, env=home.env, hook=False) as sh:
            with pytest.raises(ShellTimeoutError) as err:
                sh.run("echo started; sleep 5", timeout=1)
            assert "started" in str(err.value)
            assert "sleep 5" in str(err.value)

    def test_hook_line_in_rc(self, kind: str, home: Home) -> None:
        # With hook=True the rc holds the documented line (whether or not it works yet).
        line = {
            "zsh": 'eval "$(orenv hook zsh)"',
            "bash": 'eval "$(orenv hook bash)"',
            "fish": "orenv hook fish | source",
        }[kind]
        with Shell(kind, env=home.env, hook=False) as plain:
            assert "orenv hook" not in plain.rc_file.read_text()
        with Shell(kind, env=home.env, rc_before="# user line") as hooked:
            lines = hooked.rc_file.read_text().splitlines()
            assert lines.index(line) > lines.index("# user line")


# -- keyring ---------------------------------------------------------------------------

_SET_GET = """
import keyring, sys, time
kr = keyring.get_keyring()
print(type(kr).__module__ + "." + type(kr).__name__)
keyring.set_password("orenv-test", sys.argv[1], sys.argv[2])
t = time.monotonic()
print(keyring.get_password("orenv-test", sys.argv[1]))
print(f"{time.monotonic() - t:.3f}")
"""

_GET = """
import keyring, sys, time
t = time.monotonic()
try:
    value = keyring.get_password("orenv-test", sys.argv[1])
except Exception as exc:
    print(f"ERR {type(exc).__module__}.{type(exc).__name__} {time.monotonic() - t:.3f}")
else:
    print(f"OK {value} {time.monotonic() - t:.3f}")
"""


def _py(code: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **env}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=full,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def _secret_tool(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **env}
    return subprocess.run(
        ["secret-tool", *args],
        env=full,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        stdin=subprocess.DEVNULL,
    )


class TestKeyring:
    def test_python_keyring_uses_secret_service(self, home: Home) -> None:
        # HOME differs from the one gnome-keyring was started with.
        res = _py(_SET_GET, home.env, "alice", "s3cret")
        assert res.returncode == 0, res.stderr
        backend, value, _elapsed = res.stdout.split()
        assert backend == "keyring.backends.SecretService.Keyring"
        assert value == "s3cret"
        look = _secret_tool(home.env, "lookup", "service", "orenv-test", "username", "alice")
        assert look.returncode == 0, look.stderr
        assert look.stdout == "s3cret"

    def test_values_persist_across_homes(self, home: Home, tmp_path: Path) -> None:
        assert _py(_SET_GET, home.env, "bob", "v1").returncode == 0
        other = {**home.env, "HOME": str(tmp_path / "elsewhere")}
        res = _py(_GET, other, "bob")
        assert res.stdout.split()[:2] == ["OK", "v1"]

    def test_lock_makes_reads_fail_fast(self, private_keyring: KeyringSession) -> None:
        env = private_keyring.env
        assert _py(_SET_GET, env, "carol", "v").returncode == 0
        private_keyring.lock()
        assert private_keyring.is_locked()
        res = _py(_GET, env, "carol")
        status, error, elapsed = res.stdout.split()
        # Observed: KeyringLocked in a few ms (no prompter can be reached), no hang.
        assert status == "ERR"
        assert error == "keyring.errors.KeyringLocked"
        assert float(elapsed) < 2.0
        look = _secret_tool(env, "lookup", "service", "orenv-test", "username", "carol")
        assert look.returncode != 0
        assert look.stdout == ""
        # unlock() brings the data back.
        private_keyring.unlock()
        assert not private_keyring.is_locked()
        assert _py(_GET, env, "carol").stdout.split()[:2] == ["OK", "v"]

    def test_kill_service_makes_reads_fail(self, private_keyring: KeyringSession) -> None:
        env = private_keyring.env
        assert _py(_SET_GET, env, "dave", "v").returncode == 0
        private_keyring.kill_service()
        assert private_keyring.keyring_pid is None
        res = _py(_GET, env, "dave")
        status, error, elapsed = res.stdout.split()
        # A fresh process finds no usable backend.
        assert status == "ERR"
        assert error == "keyring.errors.NoKeyringError"
        assert float(elapsed) < 2.0
        look = _secret_tool(env, "lookup", "service", "orenv-test", "username", "dave")
        assert look.returncode != 0
        private_keyring.start_service()
        assert _py(_GET, env, "dave").stdout.split()[:2] == ["OK", "v"]

    def test_kill_service_under_a_running_client(self, private_keyring: KeyringSession) -> None:
        """A long-lived process (like the daemon) that already picked the backend."""
        code = """
import keyring, sys, time
keyring.set_password("orenv-test", "erin", "v")
print("ready", flush=True)
sys.stdin.readline()
t = time.monotonic()
try:
    keyring.get_password("orenv-test", "erin")
except Exception as exc:
    print(f"ERR {type(exc).__module__}.{type(exc).__name__} {time.monotonic() - t:.3f}")
else:
    print(f"OK {time.monotonic() - t:.3f}")
"""
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **private_keyring.env}
        with subprocess.Popen(
            [sys.executable, "-c", code],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as proc:
            assert proc.stdout is not None and proc.stdin is not None
            assert proc.stdout.readline().strip() == "ready"
            private_keyring.kill_service()
            started = time.monotonic()
            out, err = proc.communicate("go\n", timeout=30)
            assert time.monotonic() - started < 5, (out, err)
        status, *rest = out.split()
        assert status == "ERR", (out, err)
        print("running client after kill:", rest)

    def test_home_fixture_env(self, home: Home) -> None:
        assert home.runtime.stat().st_mode & 0o777 == 0o700
        for key in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
            assert key in home.env
        assert "DBUS_SESSION_BUS_ADDRESS" in home.env

    def test_keyring_in_a_shell(self, kind: str, home: Home) -> None:
        with Shell(kind, env=home.env, hook=False) as sh:
            sh.run("printf val | secret-tool store --label=t service orenv-sh username u")
            out = sh.run("secret-tool lookup service orenv-sh username u")
            assert out.strip() == "val"  # secret-tool adds a newline on a tty


def test_process_env_is_isolated(tmp_path: Path) -> None:
    import os
    import pwd

    assert os.environ["HOME"] != pwd.getpwuid(os.getuid()).pw_dir
    assert "DBUS_SESSION_BUS_ADDRESS" not in os.environ
    assert "PYTHON_KEYRING_BACKEND" not in os.environ


def test_orenv_bin_fixture(orenv_bin: Path) -> None:
    assert orenv_bin.name == "orenv"
    assert orenv_bin.parent.name == "bin"


def test_shell_factory(shell_factory: object, home: Home) -> None:
    sh = shell_factory("bash", hook=False)  # type: ignore[operator]
    assert sh.run("echo $HOME") == f"{home.path}\n"
