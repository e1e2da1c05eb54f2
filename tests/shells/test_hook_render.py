"""`orenv hook SHELL` renders the real hook files, syntax-checked by each shell."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from orenv import shells
from orenv.shells._base import hook_source

CHECK = {"zsh": ["zsh", "-n"], "bash": ["bash", "-n"], "fish": ["fish", "--no-execute"]}


@pytest.mark.parametrize("kind", ["zsh", "bash", "fish"])
def test_rendered_hook_parses(kind: str, tmp_path: Path) -> None:
    # A binary path with a space and quotes must stay one literal word.
    text = shells.get(kind).hook("/opt/my dir/it's/orenv")
    assert "@ORENV_BIN@" not in text
    f = tmp_path / f"hook.{kind}"
    f.write_text(text)
    proc = subprocess.run([*CHECK[kind], str(f)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    if kind == "bash":
        # What bash runs: the hook itself (handed over as one quoted string behind
        # the version check, see orenv.shells.bash) and that check.
        from orenv.shells._base import Shell
        from orenv.shells.bash import version_guard

        inner = Shell.hook(shells.get(kind), "/opt/my dir/it's/orenv")
        assert text == version_guard(inner)
        for name, code in (("inner", inner), ("guard", version_guard("true"))):
            g = tmp_path / f"{name}.bash"
            g.write_text(code)
            sc = subprocess.run(["shellcheck", "-s", "bash", str(g)], capture_output=True,
                                text=True, timeout=60)
            assert sc.returncode == 0, sc.stdout


@pytest.mark.parametrize("kind", ["zsh", "bash", "fish"])
def test_binary_path_is_literal(kind: str, tmp_path: Path) -> None:
    path = "/opt/$(touch PWNED)/`x`/orenv"
    text = shells.get(kind).hook(path)
    script = text + "\nprintf '%s' \"$__orenv_bin\"\n"
    argv = {"zsh": ["zsh", "-f", "-c"], "bash": ["bash", "--norc", "-c"],
            "fish": ["fish", "--no-config", "-c"]}[kind]
    out = subprocess.run([*argv, script], capture_output=True, text=True, timeout=30,
                         cwd=tmp_path)
    assert out.stdout.endswith(path), out.stderr
    assert not (tmp_path / "PWNED").exists()


def test_hook_files_are_real_files() -> None:
    for kind in ("zsh", "bash", "fish"):
        assert "@ORENV_BIN@" in hook_source(f"hook.{kind}")


def _tree(root: Path) -> list[Path]:
    """Directories to ask about: with and without a policy above, odd names."""
    odd = root / "sp ace" / "st*r" / "br[a]ck" / "qu'ote" / "dol$(x)"
    odd.mkdir(parents=True)
    plain = root / "plain" / "deep" / "er"
    plain.mkdir(parents=True)
    (root / "sp ace" / "st*r" / ".orenv.toml").write_text("")
    dangling = root / "dangling" / "sub"
    dangling.mkdir(parents=True)
    (root / "dangling" / ".orenv.toml").symlink_to(root / "nowhere")
    as_dir = root / "as-dir" / "sub"
    as_dir.mkdir(parents=True)
    (root / "as-dir" / ".orenv.toml").mkdir()
    return [odd, plain, dangling, as_dir, root, Path("/")]


@pytest.mark.parametrize("kind", ["zsh", "bash", "fish"])
def test_hook_looks_for_policies_as_orenv_does(kind: str, tmp_path: Path) -> None:
    """The hook's own "no policy above" check agrees with policy.find_nearest."""
    from orenv import paths
    from orenv.policy import find_nearest

    hook = tmp_path / f"hook.{kind}"
    hook.write_text(shells.get(kind).hook("/nonexistent/orenv"))
    assert f"/{paths.POLICY_NAME}" in hook.read_text()
    root = tmp_path / "t"
    for d in _tree(root):
        if kind == "fish":
            argv = ["fish", "--no-config", "-c",
                    f"source {hook}; __orenv_find; and echo yes; or echo no"]
        else:
            argv = [kind, "-f" if kind == "zsh" else "--norc", "-c",
                    f'source "{hook}"; __orenv_find && echo yes || echo no']
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30, cwd=d,
                             env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                                  "ORENV_NO_DAEMON": "1"})
        expected = "yes" if find_nearest(str(d)) else "no"
        assert out.stdout.strip().splitlines()[-1:] == [expected], (d, out.stdout, out.stderr)
