"""`orenv helper on|off` and `orenv token`: settings merged, nothing secret written."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import Home, run_orenv

KEY = "sk-or-v1-" + "0123456789abcdef" * 4
POLICY = """\
[openrouter]
key = "work"
mode = "helper"
[models]
sonnet = "anthropic/claude-sonnet-4.5"
default = "sonnet"
[env]
API_TIMEOUT_MS = "600000"
"""


def orenv(home: Home, *args: str, check: bool = True,
          **kwargs: Any) -> subprocess.CompletedProcess[str]:
    # The test home's keyring deadline (5 s) already allows for a loaded machine.
    return run_orenv(home, *args, check=check, **kwargs)


@pytest.fixture
def proj(home: Home) -> Path:
    orenv(home, "key", "set", "work", input=KEY)
    d = home.path / "proj"
    d.mkdir()
    (d / ".orenv.toml").write_text(POLICY)
    orenv(home, "allow", str(d))
    return d


def settings(proj: Path) -> dict[str, object]:
    return json.loads((proj / ".claude" / "settings.local.json").read_text())  # type: ignore[no-any-return]


def no_key_anywhere(home: Home, proj: Path) -> None:
    for root in (home.path, proj):
        for f in root.rglob("*"):
            if f.is_file() and f.stat().st_size < 1_000_000:
                assert KEY.encode() not in f.read_bytes(), f


def test_on_off_in_an_empty_project(home: Home, proj: Path) -> None:
    out = orenv(home, "helper", "on", cwd=proj)
    assert KEY not in out.stdout + out.stderr
    data = settings(proj)
    helper = data["apiKeyHelper"]
    assert isinstance(helper, str) and " token --dir " in helper and str(proj) in helper
    env = data["env"]
    assert isinstance(env, dict)
    assert env["ANTHROPIC_API_KEY"] == ""
    assert env["ANTHROPIC_BASE_URL"] == "https://openrouter.ai/api"
    assert env["ANTHROPIC_DEFAULT_SONNET_MODEL"] == "anthropic/claude-sonnet-4.5"
    assert env["API_TIMEOUT_MS"] == "600000"
    assert "ANTHROPIC_AUTH_TOKEN" not in env
    no_key_anywhere(home, proj)
    # The helper command, run the way Claude Code runs it (/bin/sh), prints the key only.
    proc = subprocess.run(["/bin/sh", "-c", helper], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", **home.env}, cwd="/",
                          timeout=30)
    assert proc.stdout == KEY + "\n" and proc.returncode == 0
    # status sees orenv's own helper as fine.
    st = json.loads(orenv(home, "status", "--json", cwd=proj).stdout)
    assert not [f for f in st["claude"]["findings"] if f["severity"] == "error"]
    # Rerunning is idempotent; off removes the file it created, and the .claude dir.
    orenv(home, "helper", "on", cwd=proj)
    orenv(home, "helper", "off", cwd=proj)
    assert not (proj / ".claude").exists()


def test_merge_keeps_user_settings_and_off_restores_exactly(home: Home, proj: Path) -> None:
    cdir = proj / ".claude"
    cdir.mkdir()
    original = {"permissions": {"allow": ["Bash(ls)"]},
                "env": {"MY_VAR": "1",
                        "ANTHROPIC_DEFAULT_SONNET_MODEL": "anthropic/claude-sonnet-4.5"}}
    (cdir / "settings.local.json").write_text(json.dumps(original))
    orenv(home, "helper", "on", cwd=proj)
    data = settings(proj)
    assert data["permissions"] == original["permissions"]
    assert data["env"]["MY_VAR"] == "1"  # type: ignore[index]
    orenv(home, "helper", "off", cwd=proj)
    assert settings(proj) == original  # the identical value was the user's: kept


def test_conflicting_user_value_is_not_overwritten_silently(home: Home, proj: Path) -> None:
    cdir = proj / ".claude"
    cdir.mkdir()
    original = {"apiKeyHelper": "my-own-helper", "env": {"ANTHROPIC_MODEL": "opus"}}
    (cdir / "settings.local.json").write_text(json.dumps(original))
    proc = orenv(home, "helper", "on", cwd=proj, check=False)
    assert proc.returncode != 0
    assert "apiKeyHelper" in proc.stderr and "--force" in proc.stderr
    assert settings(proj) == original  # nothing changed
    out = orenv(home, "helper", "on", "--force", cwd=proj).stdout
    assert "replaced apiKeyHelper" in out
    assert settings(proj)["env"]["ANTHROPIC_MODEL"] == "sonnet"  # type: ignore[index]
    orenv(home, "helper", "off", cwd=proj)
    assert settings(proj) == original


def test_edited_after_on_is_kept_by_off(home: Home, proj: Path) -> None:
    orenv(home, "helper", "on", cwd=proj)
    data = settings(proj)
    data["env"]["API_TIMEOUT_MS"] = "1"  # type: ignore[index]
    (proj / ".claude" / "settings.local.json").write_text(json.dumps(data))
    out = orenv(home, "helper", "off", cwd=proj).stdout
    assert "kept API_TIMEOUT_MS" in out
    assert settings(proj) == {"env": {"API_TIMEOUT_MS": "1"}}


def test_untrusted_policy_refused(home: Home, proj: Path) -> None:
    (proj / ".orenv.toml").write_text(POLICY + "# edited\n")
    proc = orenv(home, "helper", "on", cwd=proj, check=False)
    assert proc.returncode != 0 and "orenv allow" in proc.stderr
    assert not (proj / ".claude").exists()


def test_token_is_fast_enough(home: Home, proj: Path) -> None:
    start = time.monotonic()
    out = orenv(home, "token", "--dir", str(proj))
    elapsed = time.monotonic() - start
    assert out.stdout == KEY + "\n"
    assert elapsed < 3  # generous: Claude Code caches the helper's answer for 5 minutes


# --------------------------------------------------------------------- links


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and not p.is_symlink()}


@pytest.mark.parametrize("action", ["on", "off"])
def test_claude_dir_as_a_link_to_another_project_is_refused(home: Home, proj: Path,
                                                            action: str) -> None:
    """A repository's `.claude` linking to another project's: nothing is written there."""
    other = home.path / "other-project"
    (other / ".claude").mkdir(parents=True)
    (other / ".claude" / "settings.local.json").write_text('{"env": {"KEEP": "me"}}\n')
    before = tree(other)
    (proj / ".claude").symlink_to(other / ".claude")
    proc = orenv(home, "helper", action, cwd=proj, check=False)
    assert tree(other) == before
    if action == "on":
        line = [x for x in proc.stderr.splitlines() if x.startswith("orenv:")]
        assert proc.returncode != 0 and len(line) == 1 and "symbolic link" in line[0]
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("action", ["on", "off"])
def test_settings_file_as_a_link_to_a_secret_is_refused(home: Home, proj: Path,
                                                        action: str) -> None:
    """A link to a JSON file with secrets: never read into, nor copied into, the tree."""
    secret = home.path / ".docker" / "config.json"
    secret.parent.mkdir()
    secret.write_text('{"auths": {"registry": {"auth": "U0VDUkVULVRPS0VO"}}}\n')
    (proj / ".claude").mkdir()
    link = proj / ".claude" / "settings.local.json"
    link.symlink_to(secret)
    proc = orenv(home, "helper", action, cwd=proj, check=False)
    assert link.is_symlink() and secret.read_text().startswith('{"auths"')
    for f in proj.rglob("*"):
        if f.is_file() and not f.is_symlink():
            assert b"U0VDUkVULVRPS0VO" not in f.read_bytes(), f
    if action == "on":
        assert proc.returncode != 0 and "symbolic link" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_hard_link_and_odd_files_are_refused(home: Home, proj: Path) -> None:
    (proj / ".claude").mkdir()
    target = home.path / "elsewhere.json"
    target.write_text("{}\n")
    (proj / ".claude" / "settings.local.json").hardlink_to(target)
    proc = orenv(home, "helper", "on", cwd=proj, check=False)
    assert proc.returncode != 0 and "plain file" in proc.stderr
    assert target.read_text() == "{}\n"
    (proj / ".claude" / "settings.local.json").unlink()
    (proj / ".claude").rmdir()
    (proj / ".claude").write_text("not a directory")
    proc = orenv(home, "helper", "on", cwd=proj, check=False)
    assert proc.returncode != 0 and "not a directory" in proc.stderr


def test_claude_dir_of_another_user_is_refused(home: Home, proj: Path) -> None:
    import os

    if os.getuid() != 0:
        pytest.skip("changing a directory's owner needs root (CI runs as root)")
    (proj / ".claude").mkdir()
    os.chown(proj / ".claude", 65534, 65534)
    proc = orenv(home, "helper", "on", cwd=proj, check=False)
    assert proc.returncode != 0 and "another user" in proc.stderr
    assert not (proj / ".claude" / "settings.local.json").exists()


# --- issue 12 item 7: helper mode follows the policy ----------------------------------


def test_settings_follow_policy_edits(home: Home, proj: Path) -> None:
    orenv(home, "helper", "on", cwd=proj)
    f = proj / ".claude" / "settings.local.json"
    out = orenv(home, "set", "models.sonnet", "anthropic/claude-sonnet-4.6", cwd=proj)
    assert f"updated {f}" in out.stdout
    env = settings(proj)["env"]
    assert isinstance(env, dict)
    assert env["ANTHROPIC_DEFAULT_SONNET_MODEL"] == "anthropic/claude-sonnet-4.6"
    orenv(home, "unset", "env.API_TIMEOUT_MS", cwd=proj)
    assert "API_TIMEOUT_MS" not in settings(proj)["env"]  # type: ignore[operator]
    # Nothing to change: the file is not rewritten (Claude Code watches it).
    before = f.stat().st_mtime_ns
    time.sleep(0.02)
    assert "updated" not in orenv(home, "allow", str(proj)).stdout
    assert f.stat().st_mtime_ns == before
    # A value changed by hand is the user's: kept, and named.
    data = settings(proj)
    data["env"]["ANTHROPIC_MODEL"] = "opus"  # type: ignore[index]
    f.write_text(json.dumps(data))
    out = orenv(home, "set", "models.sonnet", "anthropic/claude-sonnet-5", cwd=proj)
    assert "kept ANTHROPIC_MODEL" in out.stdout
    env = settings(proj)["env"]
    assert env["ANTHROPIC_MODEL"] == "opus"  # type: ignore[index]
    assert env["ANTHROPIC_DEFAULT_SONNET_MODEL"] == "anthropic/claude-sonnet-5"  # type: ignore[index]
    # An edit made in an editor follows at `orenv allow`.
    (proj / ".orenv.toml").write_text(POLICY.replace("claude-sonnet-4.5", "claude-opus-5"))
    orenv(home, "allow", str(proj))
    assert settings(proj)["env"]["ANTHROPIC_DEFAULT_SONNET_MODEL"] == (  # type: ignore[index]
        "anthropic/claude-opus-5")
    # `off` still takes back exactly what orenv added.
    orenv(home, "helper", "off", cwd=proj)
    assert settings(proj) == {"env": {"ANTHROPIC_MODEL": "opus"}}


def test_doctor_names_orenvs_own_out_of_date_entry(home: Home, proj: Path) -> None:
    """A change no orenv command made (here the config's scrub default): the right fix."""
    orenv(home, "helper", "on", cwd=proj)
    cfg = home.config / "orenv" / "config.toml"
    cfg.write_text(cfg.read_text() + "scrub_subprocess_env = false\n")
    found = json.loads(orenv(home, "doctor", "--json", cwd=proj, check=False).stdout)["findings"]
    stale = [x for x in found if x["code"] == "helper-out-of-date"]
    assert stale and f"orenv helper on --dir {proj}" in stale[0]["fix"]
    assert not [x for x in found if x["code"] == "settings-env-override"]


def test_where_claude_code_picks_the_file_up(home: Home, proj: Path) -> None:
    """Measured: Claude Code reads settings.local.json where it starts and at its git root."""
    out = orenv(home, "helper", "on", cwd=proj).stdout
    assert "only where it starts and at its git root: run claude in" in out
    (proj / ".git").mkdir()
    out = orenv(home, "helper", "on", cwd=proj).stdout
    assert "or any directory below it in this git repository" in out
    sub = proj / "sub"
    sub.mkdir()
    st = json.loads(orenv(home, "status", "--json", cwd=sub).stdout)
    assert not [x for x in st["claude"]["findings"] if x["severity"] == "error"]
    (proj / ".git").rmdir()
    st = json.loads(orenv(home, "status", "--json", cwd=sub).stdout)
    missing = [x for x in st["claude"]["findings"] if x["code"] == "helper-missing"]
    assert missing and f"orenv helper on --dir {sub}" in missing[0]["fix"]


def test_git_root_helper_for_another_policy(home: Home, proj: Path) -> None:
    (proj / ".git").mkdir()
    orenv(home, "helper", "on", cwd=proj)
    orenv(home, "key", "set", "other", input="sk-or-v1-" + "fedcba9876543210" * 4)
    nested = proj / "client-b"
    nested.mkdir()
    (nested / ".orenv.toml").write_text('[openrouter]\nkey = "other"\nmode = "helper"\n')
    orenv(home, "allow", str(nested))
    st = json.loads(orenv(home, "status", "--json", cwd=nested).stdout)
    other = [x for x in st["claude"]["findings"] if x["code"] == "helper-other-policy"]
    assert other and f"orenv helper on --dir {nested}" in other[0]["fix"]
