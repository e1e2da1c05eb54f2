"""Running Claude Code sessions with an older setup (issue 12 item 8).

The pure part takes plain mappings: what a process started with (as orenv
set it up then) and the policy now. ``scan`` is tested against a real child
process named like Claude Code, whose environment it reads from /proc; the
real Claude Code CLI is in ``tests/e2e/test_running_sessions.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from orenv import sessions
from orenv.activation import _markers
from orenv.config import Config
from orenv.policy import Policy, parse, resolve
from orenv.render import policy_env
from orenv.sessions import (
    FIX,
    Report,
    Running,
    changes,
    check,
    digest,
    is_claude,
    notice,
    scan,
    started_with,
    status_entry,
    status_lines,
)

KEY = "sk-or-v1-" + "a" * 64
KEY2 = "sk-or-v1-" + "b" * 64
OTHER_SECRETS = {
    "ANTHROPIC_API_KEY": "sk-ant-api03-not-for-openrouter",
    "GITHUB_TOKEN": "ghp_secretsecretsecret",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-value",
}
BASE = ('[openrouter]\nkey = "work"\nmode = "{mode}"\n'
        '[models]\nsonnet = "anthropic/claude-sonnet-4.5"\nopus = "anthropic/claude-opus-4.5"\n')


def pol(text: str, path: str = "/p/.orenv.toml") -> Policy:
    return resolve([parse(path, text.encode())], Config())


def base(mode: str = "export", extra: str = "", path: str = "/p/.orenv.toml") -> Policy:
    return pol(BASE.format(mode=mode) + extra, path)


def started(policy: Policy, key: str | None = KEY, **more: str) -> dict[str, str]:
    """The environment a claude started under *policy* got from orenv (and the user)."""
    shell_key = key if policy.mode == "export" else None
    env = policy_env(policy, {}, key_value=shell_key, can_scrub=True)
    env.update(_markers(policy, "active", list(env)))
    if policy.mode == "exec" and key:
        env["ANTHROPIC_AUTH_TOKEN"] = key  # `orenv exec -- claude` adds it
    return {"PATH": "/usr/bin:/bin", "HOME": "/home/u", **env, **more}


def diff(then: Mapping[str, str], now: Policy, key: str | None = KEY) -> list[str] | None:
    env, token = started_with(then)
    return changes(env, token, now, key=digest(key) if key else None, can_scrub=True)


class TestStartedWith:
    def test_keeps_only_what_is_compared_and_digests_the_key(self) -> None:
        body = json.dumps({"provider": {"order": ["anthropic"]}, "metadata": {"secret": "s3"}})
        headers = ("Authorization: Bearer hdr-secret\nX-OpenRouter-Title: proj\n"
                   "HTTP-Referer: https://example.org")
        environ = started(base(extra='[routing]\norder = ["anthropic"]\n'), **OTHER_SECRETS,
                          CLAUDE_CODE_EXTRA_BODY=body, ANTHROPIC_CUSTOM_HEADERS=headers)
        env, token = started_with(environ)
        assert token == digest(KEY)
        kept = json.dumps(env)
        for secret in (KEY, "not-for-openrouter", "ghp_", "aws-secret", "hdr-secret", "s3"):
            assert secret not in kept
        assert "ANTHROPIC_AUTH_TOKEN" not in env and "ANTHROPIC_API_KEY" not in env
        assert "PATH" not in env and "HOME" not in env and "GITHUB_TOKEN" not in env
        assert json.loads(env["CLAUDE_CODE_EXTRA_BODY"]) == {"order": ["anthropic"]}
        assert env["ANTHROPIC_CUSTOM_HEADERS"] == ("http-referer: https://example.org\n"
                                                   "x-openrouter-title: proj")
        assert env["ANTHROPIC_DEFAULT_SONNET_MODEL"] == "anthropic/claude-sonnet-4.5"
        assert env["ORENV_ACTIVE"] == "/p/.orenv.toml"

    def test_no_key_no_digest(self) -> None:
        assert started_with(started(base("helper"), key=None))[1] is None
        assert started_with({"ANTHROPIC_AUTH_TOKEN": ""})[1] is None

    def test_repr_holds_no_secret(self) -> None:
        env, token = started_with(started(base()))
        proc = Running(1, "/p", 0.0, env, token)
        assert KEY not in repr(proc) and repr(token) not in repr(proc)
        assert "env=" not in repr(proc)

    def test_digest_is_sha256(self) -> None:
        import hashlib

        assert digest(KEY) == hashlib.sha256(KEY.encode()).digest()
        assert digest(KEY) != digest(KEY2)


class TestChanges:
    def test_same_setup_is_current(self) -> None:
        for mode in ("export", "exec", "helper"):
            assert diff(started(base(mode)), base(mode)) == []

    def test_key_rotation(self) -> None:
        then = started(base())
        assert diff(then, base(), key=KEY2) == ["key changed"]
        # The keyring did not answer: the key is not compared.
        assert diff(then, base(), key=None) == []
        exec_then = started(base("exec"))
        assert diff(exec_then, base("exec"), key=KEY2) == ["key changed"]

    def test_helper_mode_is_not_flagged_for_a_key(self) -> None:
        """Claude Code asks `orenv token` again after 5 minutes or a 401."""
        then = started(base("helper"), key=KEY)  # even with a key of its own
        assert diff(then, base("helper"), key=KEY2) == []

    def test_models(self) -> None:
        then = started(base())
        now = pol('[openrouter]\nkey = "work"\n[models]\nsonnet = "anthropic/claude-sonnet-5"\n'
                  'haiku = "anthropic/claude-haiku-4.5"\n')
        assert diff(then, now) == [
            "models.opus removed (was anthropic/claude-opus-4.5)",
            "models.sonnet changed: anthropic/claude-sonnet-4.5 -> anthropic/claude-sonnet-5",
            "models.haiku added: anthropic/claude-haiku-4.5",
        ]

    def test_a_model_the_user_set_outside_orenv_is_not_orenvs(self) -> None:
        then = started(base(), ANTHROPIC_DEFAULT_HAIKU_MODEL="user/choice")
        assert diff(then, base()) == []

    def test_routing(self) -> None:
        routed = base(extra='[routing]\norder = ["anthropic"]\nallow_fallbacks = false\n')
        then = started(routed)
        assert diff(then, routed) == []
        assert diff(started(base()), routed) == ["routing changed"]
        other = base(extra='[routing]\norder = ["google-vertex"]\nallow_fallbacks = false\n')
        assert diff(then, other) == ["routing changed"]
        assert diff(then, base()) == ["routing removed"]

    def test_routing_merged_into_the_users_body(self) -> None:
        routed = base(extra='[routing]\norder = ["anthropic"]\n')
        user = json.dumps({"provider": {"sort": "price"}, "x": 1})
        env = policy_env(routed, {"CLAUDE_CODE_EXTRA_BODY": user}, key_value=KEY,
                         can_scrub=True)
        env.update(_markers(routed, "active", list(env)))
        assert diff(env, routed) == []  # the user's own fields are not orenv's

    def test_attribution(self) -> None:
        titled = base(extra='[attribution]\ntitle = "proj"\n')
        then = started(titled)
        assert diff(then, titled) == []
        assert diff(then, base(extra='[attribution]\ntitle = "renamed"\n')) == [
            "attribution changed"]
        assert diff(then, base()) == ["attribution changed"]
        assert diff(started(base()), titled) == ["attribution changed"]

    def test_env_values_are_not_shown(self) -> None:
        then = started(base(extra='[env]\nAPI_TIMEOUT_MS = "600000"\n'))
        now = base(extra='[env]\nAPI_TIMEOUT_MS = "900000"\nMAX_THINKING_TOKENS = "1024"\n')
        assert diff(then, now) == ["env.API_TIMEOUT_MS changed", "env.MAX_THINKING_TOKENS changed"]
        assert diff(then, base()) == ["env.API_TIMEOUT_MS changed"]

    def test_base_url_mode_scrub_and_policy_file(self) -> None:
        then = started(base())
        moved = pol('[openrouter]\nkey = "work"\nbase_url = "https://openrouter.ai/api/alt"\n'
                    '[models]\nsonnet = "anthropic/claude-sonnet-4.5"\n'
                    'opus = "anthropic/claude-opus-4.5"\n')
        assert diff(then, moved) == [
            "base_url changed: https://openrouter.ai/api -> https://openrouter.ai/api/alt"]
        assert diff(then, base("exec")) == ["mode changed: export -> exec"]
        assert diff(then, base(extra="[claude]\nscrub_subprocess_env = false\n")) == [
            "claude.scrub_subprocess_env changed"]
        assert diff(then, base(path="/p/sub/.orenv.toml")) == [
            "policy changed: /p/.orenv.toml -> /p/sub/.orenv.toml"]

    def test_not_set_up_by_orenv(self) -> None:
        assert diff({"PATH": "/bin", "ANTHROPIC_AUTH_TOKEN": KEY}, base()) is None
        blocked = {**started(base()), "ORENV_STATE": "blocked"}
        assert diff(blocked, base()) is None

    def test_no_secret_in_any_line(self) -> None:
        then = started(base(), **OTHER_SECRETS)
        now = base("exec", extra='[env]\nAPI_TIMEOUT_MS = "1"\n[routing]\norder = ["x"]\n')
        lines = diff(then, now, key=KEY2)
        assert lines and "key changed" in lines
        for line in lines:
            assert KEY not in line and KEY2 not in line and "sk-" not in line


class TestCheck:
    @pytest.fixture
    def tree(self, tmp_path: Path) -> Path:
        for rel in ("proj", "proj/sub", "proj/nested", "other"):
            (tmp_path / rel).mkdir(parents=True)
        for rel in ("proj", "proj/nested", "other"):
            (tmp_path / rel / ".orenv.toml").write_text("")
        return tmp_path

    def proc(self, pid: int, cwd: Path, environ: Mapping[str, str] | None,
             started_at: float = 100.0) -> Running:
        if environ is None:
            return Running(pid, str(cwd), started_at)
        env, token = started_with(environ)
        return Running(pid, str(cwd), started_at, env, token)

    def test_only_this_projects_sessions(self, tree: Path) -> None:
        now = base(path=str(tree / "proj" / ".orenv.toml"))
        old = base(path=str(tree / "proj" / ".orenv.toml"))
        then = started(old)
        asked: list[int] = []

        def key() -> str:
            asked.append(1)
            return KEY2

        reports = check([
            self.proc(11, tree / "proj" / "sub", then, 300.0),   # below it: this project
            self.proc(12, tree / "proj", then, 200.0),
            self.proc(13, tree / "proj" / "nested", then),      # a nearer policy: not this one
            self.proc(14, tree / "other", then),
            self.proc(15, tree / "proj", {"PATH": "/bin"}),     # not started with orenv
            self.proc(16, tree / "proj", None, 400.0),          # environment not readable
        ], now, key=key)
        assert [(r.pid, r.state) for r in reports] == [
            (12, "stale"), (11, "stale"), (16, "unknown")]
        assert reports[0].changes == ("key changed",)
        assert reports[2].note == "cannot tell: its environment is not readable here"
        assert asked == [1]  # read once, for all of them

    def test_key_is_not_read_without_a_session_holding_one(self, tree: Path) -> None:
        now = base("helper", path=str(tree / "proj" / ".orenv.toml"))

        def key() -> str:
            raise AssertionError("the key was read")

        reports = check([self.proc(1, tree / "proj", started(now, key=None))], now, key=key)
        assert [(r.state, r.note) for r in reports] == [
            ("current", "gets a rotated key by itself (apiKeyHelper)")]

    def test_keyring_not_answering(self, tree: Path) -> None:
        now = base(path=str(tree / "proj" / ".orenv.toml"))
        [report] = check([self.proc(1, tree / "proj", started(now))], now, key=lambda: None)
        assert report.state == "current"
        assert report.note == "key: cannot tell (the keyring did not answer)"


def stale(pid: int, *lines: str) -> Report:
    return Report(pid, "/p", 0.0, "stale", lines)


class TestNotice:
    def test_none_when_nothing_is_stale(self) -> None:
        assert notice([]) is None
        assert notice([Report(1, "/p", 0.0, "current"), Report(2, "/p", 0.0, "unknown")]) is None

    def test_wording(self) -> None:
        assert notice([stale(41, "key changed")]) == (
            "orenv: 1 running claude session in this project still uses the previous key "
            "(pid 41): restart it")
        assert notice([stale(41, "key changed"), stale(42, "models.sonnet changed: a -> b"),
                       Report(43, "/p", 0.0, "current")]) == (
            "orenv: 2 running claude sessions in this project still use the previous "
            "key/models (pids 41, 42): restart them")
        assert notice([stale(5, "models.opus added: x")]) == (
            "orenv: 1 running claude session in this project still uses the previous models "
            "(pid 5): restart it")
        assert notice([stale(5, "key changed", "routing changed")]) == (
            "orenv: 1 running claude session in this project still uses the previous setup "
            "(pid 5): restart it")

    def test_many_pids_are_cut(self) -> None:
        text = notice([stale(i, "key changed") for i in range(1, 11)])
        assert text is not None
        assert "10 running claude sessions" in text
        assert "(pids 1, 2, 3, 4, 5, 6, 7, 8, …)" in text


class TestStatus:
    def entry(self) -> dict[str, object]:
        ts = time.mktime((2025, 1, 2, 3, 4, 5, 0, 0, -1))
        reports = [Report(7, "/p", ts, "stale", ("key changed", "models.sonnet changed: a -> b")),
                   Report(8, "/p/sub", ts, "current"),
                   Report(9, "/p", ts, "current", note="gets a rotated key by itself "
                          "(apiKeyHelper)"),
                   Report(10, "/p", ts, "unknown",
                          note="cannot tell: its environment is not readable here")]
        return {"running": [r.to_json() for r in reports], "stale": 1, "complete": False,
                "fix": FIX}

    def test_lines(self) -> None:
        head = "running:   claude pid {} (started 2025-01-02 03:04:05, in {})"
        assert status_lines(self.entry()) == [
            head.format(7, "/p") + ": uses an older setup",
            "             key changed",
            "             models.sonnet changed: a -> b",
            "  fix: restart it: /exit in that session, then run claude again",
            head.format(8, "/p/sub") + ": current",
            head.format(9, "/p") + ": current",
            "  note: gets a rotated key by itself (apiKeyHelper)",
            head.format(10, "/p") + ": cannot tell: its environment is not readable here",
            "running:   (the process scan stopped early; some sessions may be missing)",
        ]

    def test_nothing_to_say(self) -> None:
        assert status_lines(None) == []
        assert status_lines({"running": [], "stale": 0, "complete": True, "fix": FIX}) == []

    def test_json_entry(self, tmp_path: Path) -> None:
        (tmp_path / ".orenv.toml").write_text("")
        now = base(path=str(tmp_path / ".orenv.toml"))
        env, token = started_with(started(now))
        procs = [Running(3, str(tmp_path), 50.0, env, token)]
        entry = status_entry(now, key=lambda: KEY2, procs=(procs, True))
        assert entry is not None
        assert entry["stale"] == 1 and entry["complete"] is True and entry["fix"] == FIX
        [run] = entry["running"]
        assert run["pid"] == 3 and run["state"] == "stale" and run["changes"] == ["key changed"]
        assert KEY not in json.dumps(entry) and KEY2 not in json.dumps(entry)
        assert status_entry(None, key=lambda: KEY) is None
        off = pol('enabled = false\n', str(tmp_path / ".orenv.toml"))
        assert status_entry(off, key=lambda: KEY) is None


def test_is_claude() -> None:
    assert is_claude("claude") and is_claude("claude.exe")
    assert is_claude("node", ["node", "/usr/lib/node_modules/@anthropic-ai/claude-code/cli.js"])
    assert is_claude("node", ["node", "/home/u/.local/bin/claude", "-p"])
    assert is_claude("MainThread", ["/home/u/.local/bin/claude"])
    assert not is_claude("node", ["node", "server.js"])
    assert not is_claude("node", ["node"])
    assert not is_claude("bash", ["bash", "-c", "claude"])


# ------------------------------------------------------------- a real process


@pytest.fixture
def fake_claude(tmp_path: Path) -> Iterator[tuple[Path, Policy, subprocess.Popen[bytes]]]:
    """A real process named ``claude`` (``sleep`` under that name), started in a
    project with the environment orenv's export mode gives it."""
    proj = tmp_path / "proj"
    (proj / "src").mkdir(parents=True)
    (proj / ".orenv.toml").write_text("")
    policy = base(path=str(proj / ".orenv.toml"))
    exe = tmp_path / "bin" / "claude"
    exe.parent.mkdir()
    sleep = shutil.which("sleep")
    assert sleep is not None
    os.symlink(sleep, exe)
    proc = subprocess.Popen([str(exe), "300"], cwd=proj / "src",
                            env=started(policy, **OTHER_SECRETS))
    try:
        yield proj, policy, proc
    finally:
        proc.kill()
        proc.wait()


def _wait_found(pid: int) -> Running:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        procs, _ = scan(2.0)
        found = [p for p in procs if p.pid == pid]
        if found and found[0].cwd.endswith("src"):  # after exec, not the forked python
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"scan did not find pid {pid}")


def test_scan_reads_a_real_processs_environment(
    fake_claude: tuple[Path, Policy, subprocess.Popen[bytes]]
) -> None:
    proj, policy, proc = fake_claude
    found = _wait_found(proc.pid)
    assert found.cwd == str(proj / "src")
    assert abs(found.started - time.time()) < 60
    assert found.token == digest(KEY)
    assert found.env is not None
    assert found.env["ANTHROPIC_DEFAULT_SONNET_MODEL"] == "anthropic/claude-sonnet-4.5"
    assert not set(found.env) & {*OTHER_SECRETS, "ANTHROPIC_AUTH_TOKEN", "PATH"}
    assert "aws-secret" not in json.dumps(found.env)
    # Its project's policy, now: a new key and a new model.
    newer = pol(BASE.format(mode="export").replace("claude-sonnet-4.5", "claude-sonnet-5"),
                policy.path)
    [report] = check([found], newer, key=lambda: KEY2)
    assert report.state == "stale" and report.pid == proc.pid
    assert report.changes == (
        "key changed",
        "models.sonnet changed: anthropic/claude-sonnet-4.5 -> anthropic/claude-sonnet-5")
    [report] = check([found], policy, key=lambda: KEY)
    assert report.state == "current"


def test_scan_leaves_out_other_programs(tmp_path: Path) -> None:
    """Only Claude Code processes: a plain `sleep` with the same environment is not one."""
    sleep = shutil.which("sleep")
    assert sleep is not None
    proc = subprocess.Popen([sleep, "300"], cwd=tmp_path, env=started(base()))
    try:
        time.sleep(0.2)
        procs, complete = scan(2.0)
        assert complete
        assert proc.pid not in [p.pid for p in procs]
    finally:
        proc.kill()
        proc.wait()


def test_scan_is_bounded_in_time() -> None:
    start = time.monotonic()
    procs, complete = scan(0.0)
    assert not complete and procs == []
    assert time.monotonic() - start < 0.5
    assert sessions.SCAN_SECONDS <= 0.5
