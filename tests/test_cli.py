"""The orenv command line, run as a user would (subprocess, real keyring)."""

from __future__ import annotations

import json

import pytest
from conftest import Home, ok, one_line_error
from conftest import run_orenv as run
from harness import base_path

from orenv import cli, trust

KEY = "sk-or-v1-" + "5" * 64


def test_version_and_help_everywhere() -> None:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    names = list(sub.choices)  # type: ignore[union-attr]
    for required in ("hook", "export", "allow", "deny", "init", "set", "unset", "status",
                     "exec", "token", "key", "prompt"):
        assert required in names
    for name in names:
        with pytest.raises(SystemExit) as info:
            cli.main([name, "--help"])
        assert info.value.code == 0
    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0


def test_key_never_echoed_from_argv(home: Home) -> None:
    proc = run(home, "key", "set", "work", KEY)
    assert proc.returncode != 0
    assert KEY not in proc.stderr and KEY not in proc.stdout and "redacted" in proc.stderr


def test_key_set_list_rm(home: Home) -> None:
    out = ok(run(home, "key", "set", "work", input=KEY + "\n"))
    assert KEY not in out and "sk-or-v1-55…55" in out
    listed = json.loads(ok(run(home, "key", "list", "--json")))
    assert listed == [{"name": "work", "masked": "sk-or-v1-55…55", "management": False,
                       "store": "SecretService Keyring", "expires": None, "policies": [],
                       "last_check": None}]
    line = one_line_error(run(home, "key", "set", "bad", input="not-a-key\n"))
    assert "--force" in line and "not-a-key" not in line
    ok(run(home, "key", "set", "bad", "--force", input="not-a-key\n"))
    ok(run(home, "key", "rm", "bad"))
    assert "no key named 'bad'" in one_line_error(run(home, "key", "rm", "bad"))
    assert "no key given" in one_line_error(run(home, "key", "set", "x", input=""))


def test_insecure_backend_refused(home: Home) -> None:
    proc = run(home, "key", "set", "work", input=KEY,
               env={"PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"})
    assert "stores keys unprotected" in one_line_error(proc)


def test_no_keyring_service(home: Home) -> None:
    proc = run(home, "key", "list", env={"DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent"})
    # An empty index lists nothing without touching the keyring; a read fails cleanly.
    assert proc.returncode == 0
    (home.path / "p").mkdir()
    (home.path / "p" / ".orenv.toml").write_text('[openrouter]\nkey = "work"\n')
    ok(run(home, "allow", "p"))
    proc = run(home, "token", "--dir", "p",
               env={"DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent"})
    assert "keyring" in one_line_error(proc)


def test_init_set_unset_keep_comments_and_trust(home: Home) -> None:
    proj = home.path / "proj"
    proj.mkdir()
    ok(run(home, "init", "--key", "work", cwd=proj))
    path = proj / ".orenv.toml"
    text = path.read_text()
    assert "# Name of a key in your OS keyring" in text
    assert trust.check(str(path), path.read_bytes()) or True  # checked below via status
    assert "already exists" in one_line_error(run(home, "init", cwd=proj))
    ok(run(home, "set", "models.opus", "x/y:nitro", cwd=proj))
    ok(run(home, "set", "env.API_TIMEOUT_MS", "600000", cwd=proj))
    ok(run(home, "set", "budget.warn_below_usd", "2.5", cwd=proj))
    text = path.read_text()
    assert 'opus = "x/y:nitro"' in text and 'API_TIMEOUT_MS = "600000"' in text
    assert "warn_below_usd = 2.5" in text
    assert "# Name of a key in your OS keyring" in text
    ok(run(home, "unset", "models.haiku", cwd=proj))
    assert "haiku =" not in path.read_text().replace("# haiku", "")
    status = json.loads(ok(run(home, "status", "--json", cwd=proj)))
    assert status["files"][0]["trust"] == "allowed"
    # An invalid edit is refused and leaves the file as it was.
    before = path.read_bytes()
    line = one_line_error(run(home, "set", "openrouter.mode", "yolo", cwd=proj))
    assert "openrouter.mode" in line and path.read_bytes() == before
    line = one_line_error(run(home, "set", "env.PATH", "/evil", cwd=proj))
    assert "env.PATH" in line and path.read_bytes() == before
    line = one_line_error(run(home, "set", "env.X", KEY, cwd=proj))
    assert KEY not in line and path.read_bytes() == before


def test_set_does_not_launder_foreign_edits(home: Home) -> None:
    proj = home.path / "proj"
    proj.mkdir()
    ok(run(home, "init", "--key", "work", cwd=proj))
    with open(proj / ".orenv.toml", "a") as fh:
        fh.write('[attribution]\ntitle = "sneaky"\n')
    out = ok(run(home, "set", "models.opus", "a/b", cwd=proj))
    assert "still not allowed" in out
    status = json.loads(ok(run(home, "status", "--json", cwd=proj)))
    assert status["state"] == "blocked"


def test_allow_prints_destination_first(home: Home) -> None:
    proj = home.path / "proj"
    proj.mkdir()
    (proj / ".orenv.toml").write_text(
        '[openrouter]\nkey = "work"\n[models]\nopus = "m"\n[env]\nX = "1"\n')
    out = ok(run(home, "allow", cwd=proj))
    assert out.index("to openrouter.ai") < out.index("allowed ")
    assert "X='1'" in out and "ANTHROPIC_DEFAULT_OPUS_MODEL=m" in out
    (proj / ".orenv.toml").write_text('[openrouter]\nkey = "work"\nbase_url = "https://x.y/api"\n')
    proc = run(home, "allow", cwd=proj)
    assert proc.returncode == 0 and "not in allowed_hosts" in proc.stderr
    (proj / ".orenv.toml").write_text("[openrouter\n")
    assert ":1: invalid TOML" in one_line_error(run(home, "allow", cwd=proj))
    ok(run(home, "deny", cwd=proj))


def test_exec_and_token(home: Home) -> None:
    ok(run(home, "key", "set", "work", input=KEY))
    proj = home.path / "proj"
    proj.mkdir()
    (proj / ".orenv.toml").write_text('[openrouter]\nkey = "work"\nmode = "exec"\n')
    line = one_line_error(run(home, "token", cwd=proj))
    assert "orenv allow" in line
    ok(run(home, "allow", cwd=proj))
    assert ok(run(home, "token", cwd=proj)) == KEY + "\n"
    out = ok(run(home, "exec", "--", "sh", "-c",
                 'printf "%s|%s|%s" "$ANTHROPIC_AUTH_TOKEN" "${ANTHROPIC_API_KEY-unset}" '
                 '"$ANTHROPIC_BASE_URL"', cwd=proj, env={"ANTHROPIC_API_KEY": "sk-ant-x"}))
    assert out == f"{KEY}||https://openrouter.ai/api"
    assert "nothing to run" in one_line_error(run(home, "exec", cwd=proj))
    assert "no .orenv.toml" in one_line_error(run(home, "exec", "--", "true"))
    assert "cannot run" in one_line_error(run(home, "exec", "--", "/nonexistent/x", cwd=proj))


def test_status_masks_key(home: Home) -> None:
    ok(run(home, "key", "set", "work", input=KEY))
    proj = home.path / "proj"
    proj.mkdir()
    ok(run(home, "init", "--key", "work", cwd=proj))
    out = ok(run(home, "status", cwd=proj))
    assert KEY not in out and "sk-or-v1-55…55" in out and "allowed" in out
    data = json.loads(ok(run(home, "status", "--json", cwd=proj)))
    assert data["state"] == "active" and data["key"] == "work"
    assert data["variables"]["ANTHROPIC_AUTH_TOKEN"] == "sk-or-v1-55…55"
    assert KEY not in json.dumps(data)


def test_export_unknown_shell(home: Home) -> None:
    line = one_line_error(run(home, "export", "tcsh"))
    assert "unsupported shell 'tcsh'" in line


def test_key_set_hidden_prompt_on_a_tty(home: Home) -> None:
    import pexpect

    env = {"PATH": base_path(), "LANG": "C.UTF-8", "TERM": "dumb", **home.env}
    child = pexpect.spawn("orenv", ["key", "set", "work"], env=env, encoding="utf-8",
                          timeout=20)
    child.expect("input hidden")
    child.sendline(KEY)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    transcript = (child.before or "")
    assert KEY not in transcript and "sk-or-v1-55…55" in transcript
    listed = json.loads(ok(run(home, "key", "list", "--json")))
    assert listed[0]["masked"] == "sk-or-v1-55…55"


def test_init_picks_the_newest_models_of_the_catalogue(home: Home) -> None:
    """Issue 12 item 4: defaults from the catalogue (public: no key sent), else the cache,
    else built in; never a host the user did not allow."""
    from conftest import loopback_host, write_config
    from standin import StandIn, _model

    with StandIn() as s:
        s.models += [_model("anthropic/claude-opus-4.7", "Opus 4.7", 1000000, "0", "0", True),
                     _model("anthropic/claude-fable-5", "Fable 5", 1000000, "0", "0", True)]
        # Not allowed yet, no cache: built-in defaults, nothing asked.
        proj = home.path / "p1"
        proj.mkdir()
        out = ok(run(home, "init", "--key", "work", "--base-url", s.base_url, cwd=proj))
        assert "built-in defaults" in out and s.requests == []
        assert 'opus = "anthropic/claude-opus-5"' in (proj / ".orenv.toml").read_text()
        # Allowed: the catalogue, fetched without a key.
        write_config(home, hosts=("openrouter.ai", loopback_host(s.base_url)))
        proj2 = home.path / "p2"
        proj2.mkdir()
        out = ok(run(home, "init", "--key", "work", "--base-url", s.base_url, cwd=proj2))
        text = (proj2 / ".orenv.toml").read_text()
        for line in ('opus = "anthropic/claude-opus-4.7"', 'sonnet = "anthropic/claude-sonnet-4.5"',
                     'haiku = "anthropic/claude-haiku-4.5"', 'fable = "anthropic/claude-fable-5"'):
            assert line in text
        assert "OpenRouter's catalogue" in out
        fetched = [r for r in s.requests if r["path"].startswith("/api/v1/models")]
        assert fetched and not any(r["headers"].get("authorization") for r in fetched)
    # OpenRouter unreachable now: the cache it left.
    proj3 = home.path / "p3"
    proj3.mkdir()
    out = ok(run(home, "init", "--key", "work", cwd=proj3))
    assert "cached catalogue" in out
    assert 'opus = "anthropic/claude-opus-4.7"' in (proj3 / ".orenv.toml").read_text()


def test_key_set_never_replaces_silently(home: Home) -> None:
    """Issue 13 item 1: piped needs --force; on a terminal it asks (Ctrl-D is a clean no)."""
    import pexpect

    other = "sk-or-v1-" + "6" * 64
    ok(run(home, "key", "set", "work", input=KEY + "\n"))
    line = one_line_error(run(home, "key", "set", "work", input=other + "\n"))
    assert line == ("orenv: key 'work' already exists; nothing was changed: use --force to "
                    "replace it")
    env = {"PATH": base_path(), "LANG": "C.UTF-8", "TERM": "dumb", **home.env}
    child = pexpect.spawn("orenv", ["key", "set", "work"], env=env, encoding="utf-8",
                          timeout=30)
    child.expect_exact("key 'work' already exists (sk-or-v1-55…55); replace it? [y/N] ")
    child.sendline("n")
    child.expect_exact("orenv: kept key 'work'; nothing was changed")
    child.expect(pexpect.EOF)
    child = pexpect.spawn("orenv", ["key", "set", "work"], env=env, encoding="utf-8",
                          timeout=30)
    child.expect_exact("replace it? [y/N] ")
    child.sendline("y")
    child.expect_exact("OpenRouter key for 'work' (input hidden): ")
    child.sendline(other)
    child.expect_exact("replaced key 'work' (sk-or-v1-66…66) in the keyring")
    child.expect(pexpect.EOF)
    assert other not in (child.before or "")  # hidden input
    child = pexpect.spawn("orenv", ["key", "set", "fresh"], env=env, encoding="utf-8",
                          timeout=30)
    child.expect_exact("(input hidden): ")
    child.sendeof()
    child.expect_exact("orenv: no key given (end of input); nothing was changed")
    child.expect(pexpect.EOF)
    assert "Traceback" not in (child.before or "")


def test_removing_a_key_a_policy_uses_warns(home: Home) -> None:
    ok(run(home, "key", "set", "work", input=KEY + "\n"))
    proj = home.path / "proj"
    proj.mkdir()
    (proj / ".orenv.toml").write_text('[openrouter]\nkey = "work"\n')
    ok(run(home, "allow", str(proj)))
    proc = run(home, "key", "rm", "work")
    assert proc.returncode == 0
    assert proc.stderr == ("orenv: warning: allowed policies still use key 'work' and get no "
                           f"key until one is stored under that name: {proj}/.orenv.toml\n")


def test_typos_get_the_nearest_name(home: Home) -> None:
    """Issue 13 item 3: commands, options, policy keys and key names."""
    proc = run(home, "stauts")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("orenv: argument COMMAND: unknown choice 'stauts' (did you mean "
                           "'status'?); choose from hook, allow")
    assert " export" not in last  # the hooks' own command is not offered
    last = run(home, "key", "sett").stderr.strip().splitlines()[-1]
    assert last == ("orenv: argument ACTION: unknown choice 'sett' (did you mean 'set'?); "
                    "choose from set, list, rm, provision, revoke, provisioned, add")
    last = run(home, "status", "--jsn").stderr.strip().splitlines()[-1]
    assert last == "orenv: unrecognized arguments: --jsn (did you mean '--json'?)"
    last = run(home, "init", "--kye", "work").stderr.strip().splitlines()[-1]
    assert last == "orenv: unrecognized arguments: --kye work (did you mean '--key'?)"
    proj = home.path / "proj"
    proj.mkdir()
    (proj / ".orenv.toml").write_text('[openrouter]\nkey = "work"\nbase_ulr = "x"\n')
    line = one_line_error(run(home, "allow", str(proj)))
    assert line.endswith("openrouter.base_ulr: unknown key (did you mean 'base_url'?); "
                         "expected one of: key, base_url, mode")
    line = one_line_error(run(home, "set", "modles.opus", "x", cwd=proj))
    assert "modles: unknown key (did you mean 'models'?)" in line
    ok(run(home, "key", "set", "work", input=KEY))
    assert one_line_error(run(home, "key", "rm", "wrok")) == \
        "orenv: no key named 'wrok' (did you mean 'work'?)"
    assert one_line_error(run(home, "key", "rm", "zzz")) == \
        "orenv: no key named 'zzz' (stored keys: work)"


# ---------------------------------------------------------------- issue 13 item 8: rough edges


def test_help_command_and_hidden_export(home: Home) -> None:
    main_help = ok(run(home, "help"))
    assert main_help == ok(run(home, "--help"))
    assert "`orenv help COMMAND`" in main_help
    listed = [ln.split()[0] for ln in main_help.splitlines() if ln.startswith("    ")]
    assert "allow" in listed and "key" in listed
    assert "export" not in listed and "SUPPRESS" not in main_help  # run by hooks only
    assert ok(run(home, "help", "key")) == ok(run(home, "key", "--help"))
    sub_help = ok(run(home, "help", "key", "list"))
    assert sub_help.startswith("usage: orenv key list") and "--json" in sub_help
    assert run(home, "help", "nosuch").returncode == 2
    assert "__orenv_watching" in ok(run(home, "export", "bash"))  # still runnable


def test_every_argument_has_help(home: Home) -> None:
    import argparse

    missing = []

    def walk(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    walk(child, (*path, name))
            elif not action.help:
                missing.append(" ".join((*path, *(action.option_strings or [action.dest]))))

    walk(cli.build_parser(), ())
    assert missing == []
    assert "key name" in ok(run(home, "key", "rm", "--help"))
    assert "print nothing" in ok(run(home, "daemon", "start", "--help"))


def test_prompt_format_placeholders(home: Home) -> None:
    shown = ok(run(home, "prompt", "--help"))
    for placeholder in ("{profile}", "{state}", "{mode}"):
        assert placeholder in shown
    env = {"ORENV_PROFILE": "client-a", "ORENV_STATE": "active", "ORENV_MODE": "exec"}
    out = ok(run(home, "prompt", "--format", "[{profile}|{state}|{mode}] {{x}}", env=env))
    assert out == "[client-a|active|exec] {x}\n"
    proc = run(home, "prompt", "--format", "or:{profil} ", env=env)
    assert proc.stdout == ""
    assert one_line_error(proc) == ("orenv: unknown placeholder {profil} in --format; use "
                                    "{profile}, {state}, {mode}")
    # Outside a project too: the mistake shows where it is made.
    assert "{nope}" in one_line_error(run(home, "prompt", "--format", "{nope}"))
    assert "unmatched brace" in one_line_error(run(home, "prompt", "--format", "{profile",
                                                   env=env))
    assert "spec" in one_line_error(run(home, "prompt", "--format", "{profile:d}", env=env))


def test_allow_shows_tables_as_toml_and_the_summary_of_a_refused_policy(home: Home) -> None:
    proj = home.path / "proj"
    proj.mkdir()
    (proj / ".orenv.toml").write_text(
        '[openrouter]\nkey = "work"\n'
        '[routing]\norder = ["anthropic", "google-vertex"]\nallow_fallbacks = false\n'
        'sort = { by = "price", partition = "model" }\n'
        '[attribution]\ntitle = "client-a"\n')
    lines = ok(run(home, "allow", cwd=proj)).splitlines()
    start = lines.index('routing:     order = ["anthropic", "google-vertex"]')
    assert lines[start:start + 4] == [
        'routing:     order = ["anthropic", "google-vertex"]',
        "             allow_fallbacks = false",
        '             sort = { by = "price", partition = "model" }',
        'attribution: title = "client-a"',
    ]
    # A host that is not allowed: what it would do first, then the refusal.
    (proj / ".orenv.toml").write_text(
        '[openrouter]\nkey = "work"\nbase_url = "https://x.example/api"\n')
    proc = run(home, "allow", cwd=proj)
    assert proc.returncode == 0
    assert proc.stdout.splitlines()[:2] == ["profile:     proj",
                                            "sends key:   'work' (from the keyring) to x.example"]
    assert proc.stdout.splitlines()[-1] == f"allowed {proj}/.orenv.toml"
    assert proc.stderr.startswith("orenv: warning: allowed, but it will not apply yet: ")
    assert "x.example is not in allowed_hosts" in proc.stderr
