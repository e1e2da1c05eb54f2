"""nushell: the hook file, its quoting and its answers, through a real `nu`.

The interactive behaviour (activation, exact restore, hostile values, nested
shells, the daemon on and off, idle prompts that start no process, another
user's runtime directory, no key left in any variable) runs in a real nu under
a pty with the other shells: tests/shells/test_activation.py,
tests/daemon/test_shells.py, tests/daemon/test_interrupt_and_paths.py,
tests/security/test_runtime_dir.py, tests/security/test_no_key_left.py. Here:
what nu does with what orenv hands it, as data, never as code.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Home, make_policy, run_orenv
from harness import REPO_ROOT, Shell, nu_exe, venv_bin
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orenv import shells
from orenv.shells.nu import nu_quote

NU = nu_exe()
HOSTILE = [
    "", " ", "'", '"', "''", "\\", "\\'", "$(touch PWNED)", "`touch PWNED`", "$HOME",
    "${HOME}", "$env.HOME", "(touch PWNED)", "a;b", "a\nb", "\n", "\r\n", "ünïcødé ✓ 🚀",
    "%s %d", "!!", "*", "~", "#x", "a b\tc", "r#'x'#", "'#", "'##", "r#'", "\\n", "--", "-e",
    "\x01\x1b[31m", "{a: 1}", "[1 2]", "^touch PWNED", "null", "true", "1kb", "2day",
]
values = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=40,
)


def nu(script: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`nu -c SCRIPT`; its output decoded as is (no newline translation: a CR stays)."""
    assert NU is not None, "nu is not installed: run `make deps`"
    out = subprocess.run([NU, "-n", "--no-std-lib", "-c", script], capture_output=True,
                         timeout=60, cwd=cwd,
                         env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/nonexistent"})
    return subprocess.CompletedProcess(out.args, out.returncode, out.stdout.decode(),
                                       out.stderr.decode(errors="replace"))


def hook_file(tmp_path: Path, binary: str = "/bin/true") -> Path:
    f = tmp_path / "orenv.nu"
    f.write_text(shells.get("nu").hook(binary))
    return f


def test_rendered_hook_has_no_errors(tmp_path: Path) -> None:
    f = hook_file(tmp_path, "/opt/my dir/it's/'#x/orenv")
    assert "@ORENV_" not in f.read_text()
    out = subprocess.run([str(NU), "--ide-check", "50", str(f)], capture_output=True,
                         text=True, timeout=60)
    errors = [d for d in map(json.loads, out.stdout.splitlines()) if d.get("severity") == "Error"]
    assert errors == []


def test_paths_in_the_hook_are_literal(tmp_path: Path) -> None:
    path = "/opt/$(touch PWNED)/`x`/'#(touch PWNED)/orenv"
    f = hook_file(tmp_path, path)
    out = nu(f"source {nu_quote(str(f))}; print -n (__orenv_conf).bin", cwd=tmp_path)
    assert out.stdout == path, out.stderr
    assert not (tmp_path / "PWNED").exists()


def _roundtrip(items: list[str]) -> list[str]:
    sep = uuid.uuid4().hex
    script = "; ".join(f"print -n {nu_quote(v)}; print -n '{sep}'" for v in items)
    out = nu(script)
    assert out.returncode == 0, out.stderr
    parts = out.stdout.split(sep)
    assert parts[-1] == ""
    return parts[:-1]


def test_quote_hostile_values() -> None:
    assert _roundtrip(HOSTILE) == HOSTILE


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=st.lists(values, min_size=1, max_size=15))
def test_quote_property(items: list[str]) -> None:
    assert _roundtrip(items) == items


def _apply(tmp_path: Path, changes: dict[str, str | None], before: dict[str, str],
           then: str) -> subprocess.CompletedProcess[str]:
    """Source the hook, set *before*, apply orenv's answer for *changes*, run *then*."""
    sh = shells.get("nu")
    answer = tmp_path / "answer"
    answer.write_text(sh.export(changes) + sh.watch(str(tmp_path / "ref"), [str(tmp_path)])
                      + sh.message("orenv: loaded x"))
    setup = "".join(f"$env.{name} = {nu_quote(value)}; " for name, value in before.items())
    f = hook_file(tmp_path)
    return nu(f"source {nu_quote(str(f))}; {setup}"
              f"__orenv_apply (open --raw {nu_quote(str(answer))}); {then}", cwd=tmp_path)


def _values(names: list[str]) -> str:
    listed = " ".join(nu_quote(n) for n in names)
    # Records keep a null (`each` alone would drop it).
    return f"print ([{listed}] | each {{|n| {{v: ($env | get -o $n)}} }} | get v | to json -r)"


def test_answer_lines_are_json_data() -> None:
    sh = shells.get("nu")
    text = (sh.export({"A": "$(x)\n'\"", "B": None}) + sh.watch("/r", ["/f"], ["/a"])
            + sh.message("m") + sh.notice("n"))
    assert [json.loads(line) for line in text.splitlines()] == [
        ["set", "A", "$(x)\n'\""], ["unset", "B"], ["watch", "/r", ["/f"], ["/a"]],
        ["msg", "m"], ["notice", "n"]]
    assert text.isascii()


def test_values_reach_nu_literally_and_come_back_exactly(tmp_path: Path) -> None:
    names = [f"V{i}" for i in range(len(HOSTILE))]
    changes: dict[str, str | None] = dict(zip(names, HOSTILE, strict=True))
    changes["ANTHROPIC_API_KEY"] = ""
    changes["GONE"] = None
    user = {"ANTHROPIC_API_KEY": "sk-ant-users-own", "V0": "user's V0", "GONE": "kept"}
    all_names = [*names, "ANTHROPIC_API_KEY", "GONE"]
    out = _apply(tmp_path, changes, user,
                 f"{_values(all_names)}; print (^env | lines | where $it =~ 'users-own' "
                 f"| length); __orenv_reload cd; {_values(all_names)}")
    assert out.returncode == 0, out.stderr
    inside, exported, after = out.stdout.split("\n")[-4:-1]
    assert json.loads(inside) == [*HOSTILE, "", None]
    # The user's own key is saved in the hook's record, never in a child's environment.
    assert exported == "0"
    assert json.loads(after) == ["user's V0", *[None] * (len(names) - 1), "sk-ant-users-own",
                                 "kept"]
    assert "orenv: loaded x" in out.stderr
    assert not (tmp_path / "PWNED").exists()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=st.lists(values, min_size=1, max_size=10))
def test_values_property(tmp_path_factory: pytest.TempPathFactory, items: list[str]) -> None:
    tmp_path = tmp_path_factory.mktemp("nu")
    names = [f"P{i}" for i in range(len(items))]
    out = _apply(tmp_path, dict(zip(names, items, strict=True)), {}, _values(names))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.split("\n")[-2]) == items


def test_hook_looks_for_policies_as_orenv_does(tmp_path: Path) -> None:
    """The hook's own "no policy above" check agrees with policy.find_nearest."""
    from orenv.policy import find_nearest

    f = hook_file(tmp_path)
    root = tmp_path / "t"
    odd = root / "sp ace" / "st*r" / "br[a]ck" / "qu'ote" / "dol$(x)"
    odd.mkdir(parents=True)
    (root / "sp ace" / "st*r" / ".orenv.toml").write_text("")
    plain = root / "plain" / "deep"
    plain.mkdir(parents=True)
    dangling = root / "dangling" / "sub"
    dangling.mkdir(parents=True)
    (root / "dangling" / ".orenv.toml").symlink_to(root / "nowhere")
    as_dir = root / "as-dir" / "sub"
    as_dir.mkdir(parents=True)
    (root / "as-dir" / ".orenv.toml").mkdir()
    for d in (odd, plain, dangling, as_dir, root, Path("/")):
        out = nu(f"source {nu_quote(str(f))}; print (__orenv_find)", cwd=d)
        expected = "true" if find_nearest(str(d)) else "false"
        assert out.stdout.strip().splitlines()[-1:] == [expected], (d, out.stdout, out.stderr)


def test_no_hook_once_orenv_is_gone(tmp_path: Path) -> None:
    f = hook_file(tmp_path, str(tmp_path / "deleted" / "orenv"))
    out = nu(f"source {nu_quote(str(f))}; print ('__orenv' in $env) "
             f"($env.config.hooks.pre_prompt | length)")
    assert out.returncode == 0 and out.stderr == ""
    assert out.stdout.split() == ["false", "0"]


def _install_block(tmp_path: Path) -> str:
    """install.sh's rc block for nu (its `block` function, run alone)."""
    script = (f"source <(sed -n '/^block() {{/,/^}}/p;/^start_marker=/p;/^end_marker=/p' "
              f"{REPO_ROOT / 'install.sh'}); on_path=1; block nu")
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True,
                          timeout=30, cwd=tmp_path).stdout


def test_install_block_saves_the_hook_and_removes_it_with_orenv(
        home: Home, tmp_path: Path, shell_factory: Callable[..., Shell]) -> None:
    """The block install.sh adds to config.nu: the hook in nu's autoload directory,
    applied at the first prompt; with orenv deleted by hand, a quiet start and
    no hook file left."""
    block = _install_block(tmp_path)
    assert block.startswith("# orenv hook\n") and block.endswith("# orenv hook end\n")
    bin_dir = home.path / ".local" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "orenv").symlink_to(venv_bin() / "orenv")
    run_orenv(home, "key", "set", "work", input="sk-or-v1-" + "7" * 64, check=True)
    proj = make_policy(home, "proj", '[openrouter]\nkey = "work"\n')
    sh = shell_factory("nu", hook_line=block)
    autoload = home.config / "nushell" / "autoload" / "orenv.nu"
    assert "# orenv hook for nushell" in autoload.read_text()
    assert "orenv: loaded proj" in sh.cd(proj)
    assert sh.var("ANTHROPIC_AUTH_TOKEN") == "sk-or-v1-" + "7" * 64
    sh.close()
    (bin_dir / "orenv").unlink()
    sh = shell_factory("nu", hook_line=block)
    assert "orenv" not in sh.startup_output and "rror" not in sh.startup_output
    assert not autoload.exists()
    assert "orenv" not in sh.cd(proj)
    assert "ANTHROPIC_AUTH_TOKEN" not in sh.env()
