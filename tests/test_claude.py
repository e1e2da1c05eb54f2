"""orenv.claude: Claude Code's settings, login state and the conflicts they cause."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orenv import claude

WANTED = {
    "ANTHROPIC_BASE_URL": "https://openrouter.ai/api",
    "ANTHROPIC_API_KEY": "",
    "ANTHROPIC_DEFAULT_SONNET_MODEL": "anthropic/claude-sonnet-4.5",
    "ANTHROPIC_MODEL": "sonnet",
}
ORENV_VARS = " ".join([*WANTED, "ANTHROPIC_AUTH_TOKEN", "ORENV_ACTIVE", "ORENV_VARS"])
SECRET = "sk-ant-api03-PLANTED-SECRET-0000"


def env_for(home: Path, **extra: str) -> dict[str, str]:
    env = {"HOME": str(home), **WANTED, "ANTHROPIC_AUTH_TOKEN": "sk-or-v1-x",
           "ORENV_VARS": ORENV_VARS}
    env.update(extra)
    return env


def write(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def codes(findings: list[claude.Finding]) -> dict[str, str]:
    return {f.code: f.severity for f in findings}


def run(tmp_path: Path, env: dict[str, str], mode: str = "export") -> list[claude.Finding]:
    proj = tmp_path / "proj"
    proj.mkdir(exist_ok=True)
    return claude.conflicts(str(proj), env, policy_env=WANTED, mode=mode, policy_dir=str(proj))


def test_clean_setup_has_no_findings(tmp_path: Path) -> None:
    assert run(tmp_path, env_for(tmp_path)) == []


def test_settings_env_overrides_the_shell(tmp_path: Path) -> None:
    write(tmp_path / ".claude" / "settings.json",
          {"env": {"ANTHROPIC_DEFAULT_SONNET_MODEL": "other/model",
                   "ANTHROPIC_BASE_URL": "https://api.anthropic.com"}})
    found = run(tmp_path, env_for(tmp_path))
    overrides = [f for f in found if f.code == "settings-env-override"]
    assert {f.severity for f in overrides} == {"error", "warning"}  # URL error, model warning
    assert all("settings.json" in f.message and f.fix for f in overrides)


def test_project_local_token_is_reported_without_its_value(tmp_path: Path) -> None:
    write(tmp_path / "proj" / ".claude" / "settings.local.json",
          {"env": {"ANTHROPIC_AUTH_TOKEN": SECRET, "ANTHROPIC_API_KEY": SECRET}})
    found = run(tmp_path, env_for(tmp_path))
    assert codes(found)["settings-token"] == "error"
    assert codes(found)["settings-env-override"] == "error"
    assert SECRET not in json.dumps([f.as_dict() for f in found])


def test_parent_settings_are_not_read(tmp_path: Path) -> None:
    # Claude Code reads .claude/ only where it starts (checked with 2.1.197).
    write(tmp_path / ".claude" / "settings.local.json", {"env": {"ANTHROPIC_MODEL": "x"}})
    (tmp_path / "proj").mkdir()
    files = claude.settings_files(str(tmp_path / "proj"), {"HOME": str(tmp_path / "h")})
    assert not any(f.exists for f in files if f.scope != "managed")


def test_non_empty_api_key_and_outside_vars(tmp_path: Path) -> None:
    env = env_for(tmp_path, ANTHROPIC_API_KEY=SECRET, ANTHROPIC_SMALL_FAST_MODEL="x",
                  ANTHROPIC_CUSTOM_HEADERS="X-Secret-Token: hush")
    found = run(tmp_path, env)
    assert codes(found)["api-key-set"] == "error"
    outside = [f.message for f in found if f.code == "anthropic-var-outside"]
    assert any("ANTHROPIC_SMALL_FAST_MODEL" in m for m in outside)
    assert SECRET not in json.dumps([f.as_dict() for f in found])


def test_settings_api_key_empty_beats_shell_key(tmp_path: Path) -> None:
    # In helper mode orenv writes ANTHROPIC_API_KEY "" into settings, which beats the shell.
    write(tmp_path / "proj" / ".claude" / "settings.local.json",
          {"env": {"ANTHROPIC_API_KEY": ""}})
    found = run(tmp_path, env_for(tmp_path, ANTHROPIC_API_KEY=SECRET))
    assert "api-key-set" not in codes(found)


def test_cloud_provider_and_foreign_helper(tmp_path: Path) -> None:
    write(tmp_path / "proj" / ".claude" / "settings.json", {"apiKeyHelper": "echo hi"})
    found = run(tmp_path, env_for(tmp_path, CLAUDE_CODE_USE_BEDROCK="1"))
    assert codes(found)["cloud-provider"] == "error"
    assert codes(found)["foreign-api-key-helper"] == "error"


def test_login_state_never_exposes_values(tmp_path: Path) -> None:
    write(tmp_path / ".claude.json", {"primaryApiKey": SECRET, "oauthAccount": {"e": "x"}})
    login = claude.login_state({"HOME": str(tmp_path)})
    assert login["managed_api_key"] and login["oauth_account"]
    found = run(tmp_path, env_for(tmp_path))
    assert codes(found)["login-api-key"] == "error"  # it is sent as x-api-key
    assert codes(found)["login-subscription"] == "warning"
    assert SECRET not in json.dumps([f.as_dict() for f in found])
    # In helper mode the apiKeyHelper wins over the managed key.
    write(tmp_path / "proj" / ".claude" / "settings.local.json",
          {"apiKeyHelper": claude.helper_command("/x/orenv", str(tmp_path / "proj")),
           "env": WANTED})
    assert codes(run(tmp_path, env_for(tmp_path), mode="helper"))["login-api-key"] == "warning"


def test_helper_mode_without_helper(tmp_path: Path) -> None:
    found = run(tmp_path, env_for(tmp_path), mode="helper")
    assert codes(found)["helper-missing"] == "error"


def test_helper_command_quoting_and_recognition(tmp_path: Path) -> None:
    d = str(tmp_path / "it's a dir; $(x)")
    real = sorted(claude.orenv_programs())[0]
    cmd = claude.helper_command(real, d)
    assert claude.is_orenv_helper(cmd, d)
    assert not claude.is_orenv_helper(cmd, str(tmp_path))
    assert not claude.is_orenv_helper("cat /tmp/key")
    # Only this orenv, by an absolute path: not a repository's look-alike program.
    fake = tmp_path / "orenv"
    fake.write_text("#!/bin/sh\ncurl evil\n")
    assert not claude.is_orenv_helper(claude.helper_command(str(fake), d), d)
    assert not claude.is_orenv_helper(f"./orenv token --dir {d}", d)
    assert not claude.is_orenv_helper(f"{real}-evil token --dir {d}", d)


def test_no_policy_gives_only_information(tmp_path: Path) -> None:
    write(tmp_path / ".claude.json", {"oauthAccount": {"e": "x"}})
    found = claude.conflicts(str(tmp_path), {"HOME": str(tmp_path), "ANTHROPIC_API_KEY": SECRET},
                             policy_env=None, mode=None)
    assert {f.severity for f in found} <= {"info"}


def test_status_entry_and_lines(tmp_path: Path) -> None:
    write(tmp_path / ".claude" / "settings.json", {"env": {"ANTHROPIC_MODEL": "opus"}})
    entry = claude.status_entry(str(tmp_path), env_for(tmp_path), policy_env=WANTED,
                                mode="export")
    assert entry["settings"][0]["env"] == ["ANTHROPIC_MODEL"]
    text = "\n".join(claude.status_lines(entry))
    assert "overriding orenv's value" in text and "fix:" in text


def test_macos_login_in_the_keychain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 12 item 9. macOS cannot run here: `security` is a stand-in that answers
    like the real one (exit 0 when the item exists) and records how it was asked."""
    log = tmp_path / "argv"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    security = bin_dir / "security"
    security.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {log}\n'
                        '[ -e "$0.has-item" ] && { echo "keychain: ..."; exit 0; }\n'
                        'echo "The specified item could not be found." >&2; exit 44\n')
    security.chmod(0o755)
    env = {**env_for(tmp_path), "PATH": f"{bin_dir}:/usr/bin:/bin"}
    monkeypatch.setattr(claude.sys, "platform", "darwin")
    assert not claude.login_state(env)["keychain"]
    assert "login-subscription" not in codes(run(tmp_path, env))
    (bin_dir / "security.has-item").touch()
    assert claude.login_state(env)["keychain"]
    found = {f.code: f for f in run(tmp_path, env)}
    assert found["login-subscription"].severity == "warning"
    assert "Keychain item 'Claude Code-credentials'" in found["login-subscription"].message
    # Only asked whether the item exists: never -w or -g (which print the secret).
    assert log.read_text().split("\n")[:3] == ["find-generic-password", "-s",
                                                "Claude Code-credentials"]
    monkeypatch.setattr(claude.sys, "platform", "linux")
    assert not claude.login_state(env)["keychain"]
