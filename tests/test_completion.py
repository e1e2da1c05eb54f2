"""`orenv completion SHELL`: real zsh, bash and fish completing orenv's words.

Key names come from a key really stored in the keyring (through the index,
never the keyring itself), model IDs from a cache file. The TAB tests type
into a real interactive shell under a pty; a shell function named `orenv`
then prints the words the completed line would run with.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import pytest
from conftest import Home, base_path, ok, run_orenv
from harness import Shell

from orenv.models import CACHE_VERSION, Model

KEY = "sk-or-v1-" + "5" * 64
OPUS = "anthropic/claude-opus-4.5"
SONNET = "anthropic/claude-sonnet-4.5"


def _model(model_id: str, tools: bool = True) -> Model:
    return Model(id=model_id, name=model_id, context_length=200000, prompt_price_per_mtok=3.0,
                 completion_price_per_mtok=15.0, supports_tools=tools)


def write_models_cache(home: Home, models: list[Model]) -> Path:
    """The cached catalogue, as `orenv models` leaves it."""
    path = home.cache / "orenv" / "models.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": CACHE_VERSION, "fetched_at": time.time(),
                                "api_root": "https://openrouter.ai/api/v1",
                                "models": [asdict(m) for m in models]}))
    return path


@pytest.fixture
def stocked(home: Home) -> Home:
    """A home with key 'work' in the real keyring and a cached catalogue."""
    ok(run_orenv(home, "key", "set", "work", input=KEY))
    write_models_cache(home, [_model(OPUS), _model(SONNET), _model("openai/gpt-x", tools=False)])
    return home


def _no_keyring(home: Home) -> dict[str, str]:
    """An environment in which any keyring call fails (and no bus answers)."""
    return {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
            "DBUS_SESSION_BUS_ADDRESS": f"unix:path={home.path}/no-bus"}


def test_list_keys_reads_the_index_not_the_keyring(stocked: Home) -> None:
    proc = run_orenv(stocked, "completion", "--list", "keys", env=_no_keyring(stocked))
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout == "work\n"


def test_list_models_from_the_cache(stocked: Home) -> None:
    hostile = _model("evil/$(touch pwned)")  # the catalogue comes from the network
    write_models_cache(stocked, [_model(SONNET), _model(OPUS), _model("openai/gpt-x", False),
                                 hostile])
    proc = run_orenv(stocked, "completion", "--list", "models", env=_no_keyring(stocked))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [OPUS, SONNET]  # tool-capable, safe, sorted


def test_lists_are_empty_without_index_or_cache(home: Home) -> None:
    for kind in ("keys", "models"):
        proc = run_orenv(home, "completion", "--list", kind)
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_usage_errors_are_one_line(home: Home) -> None:
    proc = run_orenv(home, "completion")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == "orenv: name a shell: orenv completion zsh|bash|fish"
    proc = run_orenv(home, "completion", "tcsh")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr


def _script(home: Home, shell: str) -> Path:
    path = home.path / f"orenv-completion.{shell}"
    path.write_text(ok(run_orenv(home, "completion", shell)))
    return path


def _run(argv: list[str], home: Home) -> str:
    proc = subprocess.run(argv, env={"PATH": base_path(), "LANG": "C.UTF-8", **home.env},
                          capture_output=True, text=True, timeout=60, cwd=home.path)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


# bash: the function `complete -p orenv` names, called the way readline calls it.
_BASH_CALL = """
. {script}
complete -p orenv
c() {{ COMP_WORDS=("$@"); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); COMPREPLY=()
      _shtab_orenv; printf '%s|' "${{COMPREPLY[@]}}"; echo; }}
c orenv ''
c orenv key rm ''
c orenv init --key ''
c orenv set models.opus anthropic/
c orenv set openrouter.key ''
c orenv init --mode ''
"""


def test_bash_completion_function(stocked: Home) -> None:
    script = _script(stocked, "bash")
    out = _run(["bash", "--norc", "--noprofile", "-c", _BASH_CALL.format(script=script)],
               stocked).splitlines()
    assert out[0] == "complete -o bashdefault -F _shtab_orenv orenv"
    commands = out[1].split("|")
    assert {"key", "init", "set", "status", "completion", "doctor"} <= set(commands)
    assert "export" not in commands  # run by the hook, not by people
    assert out[2:] == ["work|", "work|", f"{OPUS}|{SONNET}|", "work|", "export|exec|helper|"]


def test_fish_complete_c(stocked: Home) -> None:
    script = _script(stocked, "fish")

    def complete(line: str) -> list[str]:
        out = _run(["fish", "--no-config", "-c",
                    f"source {script}; complete -C {json.dumps(line)}"], stocked)
        return [row.split("\t")[0] for row in out.splitlines()]

    commands = complete("orenv ")
    assert {"key", "init", "set", "status", "completion"} <= set(commands)
    assert "export" not in commands
    assert complete("orenv key rm ") == ["work"]
    assert complete("orenv init --key ") == ["work"]
    assert complete("orenv set models.opus anthropic/") == [OPUS, SONNET]
    assert "--key" in complete("orenv init --")


# What to type (TAB included) and the words the completed line runs `orenv` with.
TAB_CASES = [
    ("orenv ke\t", "key"),
    ("orenv ex\t", "exec"),  # `export` is not offered, so `ex` is `exec`
    ("orenv key rm \t", "key rm work"),
    ("orenv init --ke\t", "init --key"),
    ("orenv init --key \t", "init --key work"),
    ("orenv set models.opus anthropic/claude-op\t", f"set models.opus {OPUS}"),
]

_FAKE = {  # a function named orenv that shows its words (completion runs `command orenv`)
    "zsh": "orenv() { print -r -- \"ARGS:$*\"; }",
    "bash": "orenv() { printf 'ARGS:%s\\n' \"$*\"; }",
    "fish": "function orenv; echo ARGS:(string join ' ' -- $argv); end",
}


@pytest.mark.parametrize("kind", ["zsh", "bash", "fish"])
def test_tab_completes_in_real_shells(kind: str, stocked: Home,
                                      shell_factory: Callable[..., Shell]) -> None:
    script = _script(stocked, kind)
    if kind == "zsh":
        fdir = stocked.path / "zfunc"
        fdir.mkdir()
        (fdir / "_orenv").write_text(script.read_text())
        load = f"fpath=({fdir} $fpath); autoload -Uz compinit; compinit -u -D"
    else:
        load = f"source {script}"
    sh = shell_factory(kind, hook=False, rc_after=f"{load}\n{_FAKE[kind]}")
    for typed, words in TAB_CASES:
        out = sh.run(typed, timeout=30)
        assert f"ARGS:{words}" in out.splitlines(), (typed, out)
