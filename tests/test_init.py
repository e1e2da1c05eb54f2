"""`orenv init` never invents a key, offers inheritance, and --force keeps what it is not told
to change (issue 13 item 2). Real keyring; terminal cases under a real pty (pexpect)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pexpect
from conftest import Home, ok, one_line_error
from conftest import run_orenv as run
from harness import base_path

KEY = "sk-or-v1-" + "5" * 64
OTHER = "sk-or-v1-" + "6" * 64


def spawn(home: Home, *args: str, cwd: Path) -> pexpect.spawn:
    env = {"PATH": base_path(), "LANG": "C.UTF-8", "TERM": "dumb", **home.env}
    return pexpect.spawn("orenv", ["init", *args], env=env, cwd=str(cwd), encoding="utf-8",
                         timeout=60)


def policy(path: Path) -> dict:
    return tomllib.loads((path / ".orenv.toml").read_text())


def keys(home: Home) -> list[str]:
    return [k["name"] for k in json.loads(ok(run(home, "key", "list", "--json")))]


def body(home: Home, where: Path) -> str:
    """The routing Claude Code would get there (the policies are in exec mode)."""
    return ok(run(home, "exec", "--", "printenv", "CLAUDE_CODE_EXTRA_BODY", cwd=where))


def test_no_key_stored_piped_stops_and_writes_nothing(home: Home) -> None:
    proj = home.path / "proj"
    proj.mkdir()
    line = one_line_error(run(home, "init", cwd=proj))
    assert line == ("orenv: no key is stored yet: store one with `orenv key set NAME` (it "
                    "reads the key from stdin), then run `orenv init --key NAME`; nothing "
                    "was written")
    assert not (proj / ".orenv.toml").exists()


def test_no_key_stored_on_a_terminal_asks_for_one_hidden(home: Home) -> None:
    proj = home.path / "proj"
    proj.mkdir()
    child = spawn(home, cwd=proj)
    child.expect_exact("name for the key [default]: ")
    child.sendline("mine")
    child.expect_exact("OpenRouter key for 'mine' (input hidden): ")
    child.sendline(KEY)
    child.expect_exact("stored key 'mine' (sk-or-v1-55…55) in the keyring")
    child.expect_exact("wrote and allowed")
    child.expect(pexpect.EOF)
    assert KEY not in (child.before or "")  # hidden input
    assert policy(proj)["openrouter"]["key"] == "mine"
    assert keys(home) == ["mine"]
    # The shell gets that key: the policy is allowed and the key is there.
    status = json.loads(ok(run(home, "status", "--json", cwd=proj)))
    assert status["state"] == "active"


def test_no_key_on_a_terminal_ctrl_d_writes_nothing(home: Home) -> None:
    proj = home.path / "proj"
    proj.mkdir()
    child = spawn(home, cwd=proj)
    child.expect_exact("name for the key [default]: ")
    child.sendline("")
    child.expect_exact("(input hidden): ")
    child.sendeof()
    child.expect_exact("orenv: no key given (end of input); nothing was changed")
    child.expect(pexpect.EOF)
    assert "Traceback" not in (child.before or "")
    assert not (proj / ".orenv.toml").exists() and keys(home) == []


def test_several_keys_piped_lists_them_on_a_terminal_asks(home: Home) -> None:
    ok(run(home, "key", "set", "work", input=KEY))
    ok(run(home, "key", "set", "personal", input=OTHER))
    proj = home.path / "proj"
    proj.mkdir()
    line = one_line_error(run(home, "init", cwd=proj))
    assert line == ("orenv: several keys are stored (personal, work): choose one with "
                    "`orenv init --key NAME`; nothing was written")
    assert not (proj / ".orenv.toml").exists()
    child = spawn(home, cwd=proj)
    child.expect_exact("Which key should this project use?")
    child.expect_exact("  1) personal")
    child.expect_exact("  2) work")
    child.expect_exact("key [1-2 or a name]: ")
    child.sendline("2")
    child.expect_exact("(key 'work', mode export)")
    child.expect(pexpect.EOF)
    assert policy(proj)["openrouter"]["key"] == "work"
    (proj / ".orenv.toml").unlink()
    child = spawn(home, cwd=proj)
    child.expect_exact("key [1-2 or a name]: ")
    child.sendline("wrok")
    child.expect_exact("orenv: no stored key 'wrok' (did you mean 'work'?); nothing was written")
    child.expect(pexpect.EOF)
    assert not (proj / ".orenv.toml").exists()


def test_one_key_is_used_and_an_unstored_key_is_named_at_once(home: Home) -> None:
    ok(run(home, "key", "set", "work", input=KEY))
    proj = home.path / "proj"
    proj.mkdir()
    ok(run(home, "init", cwd=proj))
    assert policy(proj)["openrouter"]["key"] == "work"
    other = home.path / "other"
    other.mkdir()
    proc = run(home, "init", "--key", "wrok", cwd=other)
    assert proc.returncode == 0
    assert ("orenv: warning: key 'wrok' is not in the keyring (did you mean 'work'?): fix the "
            "name, or store a key under it with `orenv key set wrok`") in proc.stderr


def test_dir_is_never_created(home: Home) -> None:
    ok(run(home, "key", "set", "work", input=KEY))
    line = one_line_error(run(home, "init", "--dir", "nope/deeper"))
    assert line == (f"orenv: {home.path}/nope/deeper is not a directory: create it first "
                    "(`mkdir -p DIR`); init never creates directories")
    assert not (home.path / "nope").exists()


PARENT = """[openrouter]
key = "work"
mode = "exec"
[models]
opus = "anthropic/claude-opus-5"
[routing]
order = ["anthropic"]
"""


def test_inside_a_project_inheritance_is_offered(home: Home) -> None:
    ok(run(home, "key", "set", "work", input=KEY))
    ok(run(home, "key", "set", "personal", input=OTHER))
    parent = home.path / "client"
    (parent / "app").mkdir(parents=True)
    (parent / ".orenv.toml").write_text(PARENT)
    ok(run(home, "allow", str(parent)))
    app = parent / "app"
    # On a terminal: asked; yes keeps the parent's key, mode, models and routing.
    child = spawn(home, cwd=app)
    child.expect_exact(f"{parent}/.orenv.toml applies above this directory. Layer the new "
                       "policy over it (inherit = true, keeping its key, models and routing "
                       "unless set here)? [Y/n] ")
    child.sendline("")
    child.expect_exact(f"(key 'work', mode exec, inheriting from {parent}/.orenv.toml)")
    child.expect(pexpect.EOF)
    data = policy(app)
    assert data["inherit"] is True and "key" not in data["openrouter"]
    assert data.get("models", {}) == {}
    text = (app / ".orenv.toml").read_text()
    assert '# key = "work"    # inherited' in text
    assert '# opus = "anthropic/claude-opus-5"    # inherited' in text
    status = json.loads(ok(run(home, "status", "--json", cwd=app)))
    assert status["state"] == "active"
    assert "anthropic" in body(home, app)  # routing kept
    # Piped, without --inherit: today's separate policy, and a note saying what stops here.
    (app / ".orenv.toml").unlink()
    proc = run(home, "init", "--key", "personal", cwd=app)
    assert proc.returncode == 0
    assert (f"orenv: note: {parent}/.orenv.toml above is not inherited: its key, models and "
            "routing stop here; `orenv set inherit true` layers this policy over it"
            ) in proc.stderr
    assert policy(app)["inherit"] is False
    # --inherit with an explicit key: that key here, the rest from above.
    (app / ".orenv.toml").unlink()
    ok(run(home, "init", "--inherit", "--key", "personal", cwd=app))
    data = policy(app)
    assert data["inherit"] is True and data["openrouter"]["key"] == "personal"
    assert "anthropic" in body(home, app)
    lone = home.path / "lone"
    lone.mkdir()
    line = one_line_error(run(home, "init", "--inherit", "--key", "work", cwd=lone))
    assert "--inherit: no .orenv.toml applies above this directory" in line


def test_force_keeps_what_it_is_not_asked_to_change(home: Home) -> None:
    ok(run(home, "key", "set", "work", input=KEY))
    ok(run(home, "key", "set", "personal", input=OTHER))
    proj = home.path / "proj"
    proj.mkdir()
    ok(run(home, "init", "--key", "work", cwd=proj))
    ok(run(home, "set", "routing.order", '["anthropic"]', cwd=proj))
    ok(run(home, "set", "models.opus", "anthropic/claude-opus-5", cwd=proj))
    with open(proj / ".orenv.toml", "a") as fh:
        fh.write("# my own note\n")
    ok(run(home, "allow", str(proj)))
    out = ok(run(home, "init", "--force", "--key", "personal", cwd=proj))
    assert out.strip() == (f"updated and allowed {proj}/.orenv.toml (changed: openrouter.key; "
                           "everything else kept)")
    data = policy(proj)
    assert data["openrouter"]["key"] == "personal"
    assert data["routing"] == {"order": ["anthropic"]}
    assert data["models"]["opus"] == "anthropic/claude-opus-5"
    assert "# my own note" in (proj / ".orenv.toml").read_text()
    status = json.loads(ok(run(home, "status", "--json", cwd=proj)))
    assert status["state"] == "active"


def test_force_never_keeps_an_edit_nobody_allowed(home: Home) -> None:
    """Keeping a foreign edit and allowing it would launder it: such a file is replaced."""
    ok(run(home, "key", "set", "work", input=KEY))
    proj = home.path / "proj"
    proj.mkdir()
    (proj / ".orenv.toml").write_text('[openrouter]\nkey = "work"\n'
                                      'base_url = "http://127.0.0.1:9/api"\n')
    ok(run(home, "init", "--force", "--key", "work", cwd=proj))
    data = policy(proj)
    assert data["openrouter"]["base_url"] == "https://openrouter.ai/api"


def test_a_hostile_catalogue_writes_no_policy_text(home: Home) -> None:
    """A model ID with a line break (from the network or a cache) never becomes policy text
    that init allows: such IDs are dropped when the catalogue is read."""
    ok(run(home, "key", "set", "work", input=KEY))
    cache = home.path / ".cache" / "orenv"
    evil = "anthropic/claude-x\n[claude]\nscrub_subprocess_env = false\n#"
    from orenv import models

    entries = [{"id": evil, "supported_parameters": ["tools"]},
               {"id": "anthropic/claude-opus-5", "supported_parameters": ["tools"]}]
    parsed = [m for m in (models.model_from_api(e) for e in entries) if m is not None]
    assert [m.id for m in parsed] == ["anthropic/claude-opus-5"]
    # A cache file written by someone else with such an ID: ignored entry by entry.
    cache.mkdir(parents=True, exist_ok=True)
    (cache / models.CACHE_NAME).write_text(json.dumps({
        "version": models.CACHE_VERSION, "fetched_at": 4102444800,
        "api_root": "https://openrouter.ai/api/v1",
        "models": [{"id": evil, "name": "x", "context_length": None,
                    "prompt_price_per_mtok": None, "completion_price_per_mtok": None,
                    "supports_tools": True},
                   {"id": "anthropic/claude-opus-5", "name": "Opus",
                    "context_length": None, "prompt_price_per_mtok": None,
                    "completion_price_per_mtok": None, "supports_tools": True}]}))
    proj = home.path / "proj"
    proj.mkdir()
    ok(run(home, "init", "--key", "work", cwd=proj))
    text = (proj / ".orenv.toml").read_text()
    assert "scrub_subprocess_env" not in text.replace("# scrub_subprocess_env", "")
    assert "[claude]" not in text
    assert "#   anthropic/claude-opus-5" in text  # the good one is still suggested
    assert "claude" not in policy(proj)
