"""An old bash (macOS /bin/bash is 3.2) gets one line from `orenv hook bash`, and nothing else
of the hook runs or is even parsed there (issue 14 item 2)."""

from __future__ import annotations

import subprocess

from conftest import Home
from harness import base_path

from orenv import shells
from orenv.shells._base import Shell
from orenv.shells.bash import MIN_BASH, version_guard
from orenv.shells.zsh import posix_quote


def bash(script: str, home: Home) -> subprocess.CompletedProcess[str]:
    env = {"PATH": base_path(), "LANG": "C.UTF-8", **home.env}
    return subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True,
                          text=True, env=env, timeout=30, check=False)


def test_the_hook_is_one_quoted_string_behind_the_version_check() -> None:
    """What an old bash parses is the guard alone: the hook is a single-quoted word."""
    code = shells.get("bash").hook("/opt/orenv/bin/orenv")
    assert "declare -gA" in code  # the real hook, with bash 4.4 syntax, is inside
    inner = Shell.hook(shells.get("bash"), "/opt/orenv/bin/orenv")  # the hook file, unguarded
    assert code == version_guard("X").replace(posix_quote("X"), posix_quote(inner), 1)
    assert MIN_BASH == (4, 4)


def test_a_bash_older_than_needed_prints_one_line_and_runs_nothing(home: Home) -> None:
    """The same guard with a minimum above this bash: the refusal path, in a real bash."""
    inner = Shell.hook(shells.get("bash"), "/opt/orenv/bin/orenv")  # the real hook
    guard = version_guard(inner, (99, 0))
    script = (f"eval {posix_quote(guard)}\necho rc-goes-on\n"
              "declare -F; compgen -v | grep -c '^__orenv' || true")
    done = bash(script, home)
    assert done.returncode == 0
    version = bash('printf %s "$BASH_VERSION"', home).stdout
    assert done.stderr == (f"orenv: this bash ({version}) is too old for the orenv hook, which "
                           'needs bash 99.0 or newer: use zsh (the macOS default: eval '
                           '"$(orenv hook zsh)" in ~/.zshrc) or a newer bash as your shell\n')
    lines = done.stdout.splitlines()
    assert lines[0] == "rc-goes-on"  # the rest of the rc file still runs
    assert not any("__orenv" in line for line in lines[1:-1])  # no function defined
    assert lines[-1] == "0"  # and no variable left behind


def test_this_bash_runs_the_hook(home: Home) -> None:
    code = shells.get("bash").hook("/opt/orenv/bin/orenv")
    done = bash(f'eval {posix_quote(code)}\ndeclare -F __orenv_hook; '
                'declare -p __orenv_code 2>/dev/null || echo clean', home)
    assert done.stderr == ""
    assert done.stdout.split() == ["__orenv_hook", "clean"]
