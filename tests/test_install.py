"""./install.sh into a fresh HOME, then the hook lines it wrote, in real shells."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Home
from harness import REPO_ROOT, SYSTEM_PATH, Shell

KEY = "sk-or-v1-" + "9" * 64


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One install per module (pip install takes a while); returns the HOME."""
    home = tmp_path_factory.mktemp("install") / "home"
    home.mkdir()
    env = {"HOME": str(home), "PATH": SYSTEM_PATH, "LANG": "C.UTF-8"}
    for _ in range(2):  # the second run must change nothing
        # umask 002, as Fedora and RHEL set for user-private groups: what install.sh
        # writes for the shell to load must still be the user's alone.
        proc = subprocess.run([str(REPO_ROOT / "install.sh")], env=env, capture_output=True,
                              text=True, timeout=600, stdin=subprocess.DEVNULL,
                              preexec_fn=lambda: os.umask(0o002))
        assert proc.returncode == 0, proc.stderr
    assert "already has the orenv hook" in proc.stdout
    return home


def test_rc_lines_added_once(installed: Path) -> None:
    for rc in (".zshrc", ".bashrc", ".config/fish/config.fish"):
        text = (installed / rc).read_text()
        assert text.splitlines().count("# orenv hook") == 1, rc
        assert text.splitlines().count("# orenv hook end") == 1, rc
        assert "hook" in text and str(installed) not in text  # $HOME stays literal
    assert (installed / ".local/bin/orenv").resolve().exists()


def test_what_shells_load_is_private_under_umask_002(installed: Path) -> None:
    data = installed / ".local/share/orenv"
    assert data.stat().st_mode & 0o777 == 0o700
    for f in ("hook.zsh", "hook.bash", "hook.fish", "completions/_orenv",
              "completions/orenv.bash"):
        assert (data / f).stat().st_mode & 0o022 == 0, f
    for kind in ("zsh", "bash"):
        rc = (installed / f".{kind}rc").read_text()
        env = {"HOME": str(installed), "PATH": SYSTEM_PATH, "LANG": "C.UTF-8"}
        argv = ["zsh", "-f", "-c"] if kind == "zsh" else ["bash", "--norc", "-c"]
        fn = "__orenv_precmd" if kind == "zsh" else "__orenv_hook"
        done = subprocess.run([*argv, rc + f"\ntypeset -f {fn} >/dev/null && echo hooked"],
                              env=env, text=True,
                              capture_output=True, timeout=60, cwd=installed)
        assert done.stderr == "" and done.stdout.strip() == "hooked", (kind, done.stderr)


@pytest.mark.parametrize("kind", ["zsh", "bash"])
def test_a_relative_xdg_data_home_never_loads_from_the_current_directory(
        kind: str, tmp_path: Path) -> None:
    """XDG_DATA_HOME counts only when absolute: a relative one would name a directory of
    whatever repository a shell starts in."""
    home = tmp_path / "home"
    (home / ".local/bin").mkdir(parents=True)
    fake = home / ".local/bin/orenv"
    fake.write_text("#!/bin/sh\nexit 0\n")  # the block's fallback: loads nothing
    fake.chmod(0o755)
    repo = tmp_path / "repo"
    payload = tmp_path / "PWNED"
    for f in (f"share/orenv/hook.{kind}", "share/orenv/completions/orenv.bash",
              "share/orenv/completions/_orenv"):
        (repo / f).parent.mkdir(parents=True, exist_ok=True)
        (repo / f).write_text(f"touch {payload}\n_orenv() {{ touch {payload}; }}\n")
    block = subprocess.run([str(REPO_ROOT / "install.sh"), f"--print-rc={kind}"],
                           capture_output=True, text=True, timeout=30, check=True).stdout
    env = {"HOME": str(home), "PATH": SYSTEM_PATH, "LANG": "C.UTF-8",
           "XDG_DATA_HOME": "share"}
    argv = ["zsh", "-f", "-c"] if kind == "zsh" else ["bash", "--norc", "-c"]
    script = ("autoload -Uz compinit && compinit -u -D\n" if kind == "zsh" else "") + block
    if kind == "zsh":
        script += "\n(( $+functions[_orenv] )) && _orenv\n"
    done = subprocess.run([*argv, script], env=env, cwd=repo, text=True,
                          capture_output=True, timeout=60)
    assert not payload.exists(), done.stderr


def test_no_rc_option(tmp_path: Path) -> None:
    proc = subprocess.run([str(REPO_ROOT / "install.sh"), "--help"], capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 0 and "--no-rc" in proc.stdout
    assert "--uninstall" in proc.stdout and "--purge" in proc.stdout


@pytest.mark.parametrize("kind", ["zsh", "bash", "fish"])
def test_installed_hook_works(kind: str, installed: Path, home: Home,
                              shell_factory: Callable[..., Shell]) -> None:
    rc = {"zsh": ".zshrc", "bash": ".bashrc", "fish": ".config/fish/config.fish"}[kind]
    # The user's HOME is the test home; the installed program lives in `installed`.
    hook_lines = (installed / rc).read_text().replace("$HOME", str(installed))
    env = {**home.env, "PATH": SYSTEM_PATH}
    orenv = str(installed / ".local/bin/orenv")
    subprocess.run([orenv, "key", "set", "work"], input=KEY, text=True, check=True,
                   env=env, timeout=30, capture_output=True)
    proj = home.path / "proj"
    proj.mkdir()
    subprocess.run([orenv, "init", "--key", "work"], cwd=proj, check=True, env=env,
                   timeout=30, capture_output=True)
    sh = shell_factory(kind, env={"PATH": SYSTEM_PATH}, hook_line=hook_lines)
    out = sh.cd(proj)
    assert "orenv: loaded proj" in out
    assert sh.env()["ANTHROPIC_AUTH_TOKEN"] == KEY
    sh.cd(home.path)
    assert "ANTHROPIC_AUTH_TOKEN" not in sh.env()


# ------------------------------------------------------------------ completions

_COMPINIT = "autoload -Uz compinit; compinit -u -D"


def _user_env(home_dir: Path) -> dict[str, str | None]:
    """The environment of a user whose HOME is *home_dir* (XDG variables unset)."""
    env: dict[str, str | None] = {"HOME": str(home_dir), "PATH": SYSTEM_PATH}
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        env[var] = None
    return env


@pytest.mark.parametrize("kind", ["zsh", "bash"])
def test_installed_completion_tab(kind: str, installed: Path, home: Home,
                                  shell_factory: Callable[..., Shell]) -> None:
    """The rc block install.sh wrote loads the installed script; TAB completes a key."""
    env = _user_env(installed)
    orenv = str(installed / ".local/bin/orenv")
    run_env = {k: v for k, v in {**home.env, **env}.items() if v is not None}
    subprocess.run([orenv, "key", "set", "tabkey"], input=KEY, text=True, check=True,
                   env=run_env, timeout=30, capture_output=True)
    try:
        rc = {"zsh": ".zshrc", "bash": ".bashrc"}[kind]
        block = (installed / rc).read_text()
        sh = shell_factory(kind, env=env, hook_line=block,
                           rc_before=_COMPINIT if kind == "zsh" else "")
        if kind == "bash":
            assert "-F _shtab_orenv orenv" in sh.run("complete -p orenv")
        out = sh.run("orenv key rm tabk\t", timeout=30)  # the real program removes it
        assert "removed key 'tabkey'" in out
    finally:
        subprocess.run([orenv, "key", "rm", "tabkey"], env=run_env, timeout=30,
                       capture_output=True)


def test_installed_fish_completion_autoloads(installed: Path) -> None:
    env = {"HOME": str(installed), "PATH": SYSTEM_PATH, "LANG": "C.UTF-8"}
    out = subprocess.run(["fish", "-c", "complete -C 'orenv key '"], env=env, text=True,
                         capture_output=True, timeout=60, check=True).stdout
    words = [row.split("\t")[0] for row in out.splitlines()]
    assert {"set", "list", "rm"} <= set(words)


# ------------------------------------------------------------------ uninstall

RC_OF = {"zsh": ".zshrc", "bash": ".bashrc", "fish": ".config/fish/config.fish"}
USER_ZSHRC = "# my zshrc\nalias ll='ls -l'\n"
USER_BASHRC = "# my bashrc\nexport EDITOR=vi\n"


def _files(root: Path) -> dict[str, str]:
    """Every file and link under *root* (pip's own cache aside), with its content."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if rel.startswith(".cache/pip") or (p.is_dir() and not p.is_symlink()):
            continue
        out[rel] = f"-> {p.readlink()}" if p.is_symlink() else p.read_text(errors="replace")
    return out


def _install_sh(home: Home, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**home.env, "PATH": SYSTEM_PATH, "LANG": "C.UTF-8"}
    proc = subprocess.run([str(REPO_ROOT / "install.sh"), *args], env=env, capture_output=True,
                          text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc


def _secret(home: Home, name: str) -> str:
    proc = subprocess.run(["secret-tool", "lookup", "service", "orenv", "username", name],
                          env={"PATH": SYSTEM_PATH, **home.env}, capture_output=True,
                          text=True, timeout=30)
    return proc.stdout


def _user_home(home: Home) -> dict[str, str]:
    """The user's own files before orenv: two rc files (no fish config yet)."""
    (home.path / ".zshrc").write_text(USER_ZSHRC)
    (home.path / ".bashrc").write_text(USER_BASHRC)
    return _files(home.path)


def _install_and_use(home: Home) -> None:
    _install_sh(home)
    orenv = str(home.path / ".local/bin/orenv")
    env = {**home.env, "PATH": SYSTEM_PATH}
    subprocess.run([orenv, "key", "set", "work"], input=KEY, text=True, check=True, env=env,
                   timeout=30, capture_output=True)
    assert _secret(home, "work") == KEY
    for rc in RC_OF.values():
        assert "# orenv hook end" in (home.path / rc).read_text()


def test_uninstall_without_tty_keeps_keys_and_data(home: Home) -> None:
    before = _user_home(home)
    _install_and_use(home)
    proc = _install_sh(home, "--uninstall")
    assert "kept your keys in the keyring" in proc.stdout
    assert _secret(home, "work") == KEY
    after = _files(home.path)
    # What the user had is back byte for byte; what remains of orenv is its data only.
    assert {k: v for k, v in after.items() if k in before} == before
    extra = sorted(set(after) - set(before))
    assert extra == [".local/share/orenv/keys.json"], extra
    assert not (home.path / ".local/bin/orenv").exists()
    assert not (home.path / ".local/share/orenv/venv").exists()


@pytest.mark.parametrize("how", ["flag", "tty"])
def test_uninstall_purge_removes_exactly_what_orenv_added(how: str, home: Home) -> None:
    before = _user_home(home)
    before.pop(".config/orenv/config.toml")  # the test's orenv config: orenv's to remove
    _install_and_use(home)
    if how == "flag":
        _install_sh(home, "--uninstall", "--purge")
    else:
        import pexpect

        child = pexpect.spawn(str(REPO_ROOT / "install.sh"), ["--uninstall"], encoding="utf-8",
                              env={**home.env, "PATH": SYSTEM_PATH, "LANG": "C.UTF-8"},
                              timeout=120)
        child.expect(r"\[y/N\] ")
        child.sendline("y")
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0, child.before
    assert _secret(home, "work") == ""
    assert _files(home.path) == before
    for d in (".config/orenv", ".local/share/orenv", ".local/state/orenv", ".cache/orenv"):
        assert not (home.path / d).exists(), d


def test_reinstall_replaces_an_old_block(home: Home) -> None:
    """A block from the install.sh before the end marker is upgraded in place."""
    old = ('# orenv hook\nexport PATH="$HOME/.local/bin:$PATH"\n'
           'eval "$("$HOME/.local/bin/orenv" hook zsh)"\n')
    (home.path / ".zshrc").write_text(USER_ZSHRC + old + "export AFTER=1\n")
    _install_sh(home)
    lines = (home.path / ".zshrc").read_text().splitlines()
    assert lines[:2] == USER_ZSHRC.splitlines() and lines[-1] == "export AFTER=1"
    assert lines.count("# orenv hook") == 1 and lines[-2] == "# orenv hook end"
    assert 'if [ -x "$HOME/.local/bin/orenv" ]; then' in lines
    _install_sh(home, "--uninstall", "--keep")
    assert (home.path / ".zshrc").read_text() == USER_ZSHRC + "export AFTER=1\n"


@pytest.mark.parametrize("kind", ["zsh", "bash", "fish"])
def test_shell_starts_quietly_after_manual_removal(
        kind: str, home: Home, shell_factory: Callable[..., Shell]) -> None:
    """orenv deleted by hand (venv and link), the rc block left: nothing is printed."""
    _install_sh(home)
    block = (home.path / RC_OF[kind]).read_text()
    (home.path / ".local/bin/orenv").unlink()
    shutil.rmtree(home.path / ".local/share/orenv")
    sh = shell_factory(kind, env={"PATH": SYSTEM_PATH}, hook_line=block,
                       rc_before=_COMPINIT if kind == "zsh" else "")
    assert sh.startup_output.strip() == "", sh.startup_output
    assert sh.run("echo still-here").strip() == "still-here"
