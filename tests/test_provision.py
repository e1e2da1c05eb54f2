"""`orenv key provision|revoke` and `orenv init --provision` against the stand-in.

Run as a user would (subprocess, real gnome-keyring). The keyring is shared by
the tests of a session, so every test uses key names of its own.
"""

from __future__ import annotations

import json
import os
import re
import secrets as rnd
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Home, loopback_host, ok, one_line_error, run_orenv, write_config
from standin import StandIn

# These tests are not about the prompt's keyring deadline (0.8 s); on a loaded 2-core
# machine a keyring read can take longer, so the shells they start get more time
# (orenv runs get the test home's 5 s).
SLOW_KEYRING_OK = {"ORENV_KEYRING_TIMEOUT": "10"}


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as s:
        yield s


def run(home: Home, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return run_orenv(home, *args, timeout=60, **kwargs)


def keyring_value(home: Home, name: str) -> str | None:
    """The keyring entry (test-side only; orenv itself never prints it)."""
    code = ("import keyring, sys; v = keyring.get_password('orenv', sys.argv[1]); "
            "sys.stdout.write(v or '')")
    proc = subprocess.run([sys.executable, "-c", code, name], capture_output=True, text=True,
                          env={**os.environ, **home.env}, timeout=30, check=True)
    return proc.stdout or None


def allow_loopback(home: Home, s: StandIn) -> None:
    write_config(home, hosts=("openrouter.ai", loopback_host(s.base_url)))


def add_management(home: Home, s: StandIn, name: str = "mgmt") -> None:
    ok(run(home, "key", "set", "--management", name, input=s.management_key + "\n"))


def uniq(prefix: str) -> str:
    return f"{prefix}-{rnd.token_hex(3)}"


def assert_nowhere(value: str, *roots: Path, texts: tuple[str, ...] = ()) -> None:
    """*value* is in no file under *roots* and in none of *texts*."""
    for text in texts:
        assert value not in text
    for root in roots:
        for dirpath, _dirs, files in os.walk(root):
            for f in files:
                p = Path(dirpath, f)
                if p.is_symlink() or not p.is_file():
                    continue
                data = p.read_bytes()
                # gnome-keyring's own (encrypted) store holds it, by design.
                assert value.encode() not in data, f"key found in {p}"


class TestProvision:
    def test_provision_stores_key_only_in_keyring_and_revoke_deletes_it(
        self, home: Home, standin: StandIn
    ) -> None:
        allow_loopback(home, standin)
        add_management(home, standin)
        name = uniq("client-a")
        before = set(standin.keys)
        proc = run(home, "key", "provision", name, "--limit", "5", "--reset", "monthly",
                   "--base-url", standin.base_url)
        out = ok(proc)
        (new,) = set(standin.keys) - before
        info = standin.keys[new]
        assert info["limit"] == 5.0 and info["limit_reset"] == "monthly"
        assert info["name"] == f"orenv {name}" and not info["is_management_key"]
        # Stored in the keyring under NAME; only the masked form was shown.
        assert keyring_value(home, name) == new
        assert f"sk-or-v1-{new[9:11]}…{new[-2:]}" in out
        assert_nowhere(new, home.path, texts=(proc.stdout, proc.stderr))
        # The POST went out with the management key, and nothing else carried a key.
        post = [r for r in standin.requests if r["method"] == "POST"]
        assert post[-1]["headers"]["authorization"] == f"Bearer {standin.management_key}"
        assert post[-1]["path"] == "/api/v1/keys"
        # The upstream hash is kept (not secret), with where the key lives.
        listed = json.loads(ok(run(home, "key", "provisioned", "--json")))
        assert listed[0]["name"] == name and listed[0]["hash"] == info["hash"]
        assert listed[0]["base_url"] == standin.base_url
        assert listed[0]["management_key"] == "mgmt"
        keys = json.loads(ok(run(home, "key", "list", "--json")))
        assert {k["name"] for k in keys} == {"mgmt", name}

        out = ok(run(home, "key", "revoke", name))
        assert "revoked" in out
        assert new not in standin.keys
        delete = [r for r in standin.requests if r["method"] == "DELETE"]
        assert delete[-1]["path"] == f"/api/v1/keys/{info['hash']}"
        assert keyring_value(home, name) is None
        assert json.loads(ok(run(home, "key", "provisioned", "--json"))) == []
        assert {k["name"] for k in json.loads(ok(run(home, "key", "list", "--json")))} == {
            "mgmt"}

    def test_expiry_byok_and_every_page_of_keys(self, home: Home, standin: StandIn) -> None:
        allow_loopback(home, standin)
        add_management(home, standin)
        name = uniq("expiring")
        ok(run(home, "key", "provision", name, "--limit", "2", "--expires-at", "2099-12-31",
               "--include-byok-in-limit", "--base-url", standin.base_url))
        post = [r for r in standin.requests if r["method"] == "POST"][-1]
        assert post["body"]["expires_at"] == "2099-12-31T00:00:00Z"
        assert post["body"]["include_byok_in_limit"] is True
        for bad in ("yesterday", "2001-01-01"):
            line = one_line_error(run(home, "key", "provision", uniq("x"), "--expires-at", bad,
                                      "--base-url", standin.base_url))
            assert "--expires-at" in line
        # 230 more keys upstream: OpenRouter answers 100 at a time; ours is the oldest.
        for i in range(230):
            standin.add_key(name=f"other {i}")
        listed = json.loads(ok(run(home, "key", "provisioned", "--online", "--json")))
        assert listed[0]["name"] == name and listed[0]["upstream"].startswith("active")
        assert listed[0]["expires_at"] == "2099-12-31T00:00:00Z"
        pages = [r["path"] for r in standin.requests
                 if r["method"] == "GET" and r["path"].startswith("/api/v1/keys?")]
        assert len(pages) == 3 and "offset=200" in pages[-1]
        text = ok(run(home, "key", "provisioned", "--online"))
        header, row = text.splitlines()
        assert "\t" not in text and header.split() == ["NAME", "LIMIT", "EXPIRES", "UPSTREAM",
                                                      "BASE", "URL"]
        for column, value in (("NAME", name), ("LIMIT", "$2.00"),
                              ("EXPIRES", "2099-12-31T00:00:00Z"),
                              ("UPSTREAM", "active, used $0.00"),
                              ("BASE URL", standin.base_url)):
            assert row[header.index(column):].startswith(value + ("  " if column != "BASE URL"
                                                                  else "")), (column, row)

    def test_revoke_when_already_gone_upstream(self, home: Home, standin: StandIn) -> None:
        allow_loopback(home, standin)
        add_management(home, standin)
        name = uniq("gone")
        ok(run(home, "key", "provision", name, "--limit", "1", "--base-url", standin.base_url))
        value = keyring_value(home, name)
        assert value is not None
        del standin.keys[value]
        out = ok(run(home, "key", "revoke", name))
        assert out == (f"key {name!r} was already gone upstream (deleted on OpenRouter's side); "
                       "removed it from the keyring and dropped orenv's record of it\n")
        assert keyring_value(home, name) is None
        assert json.loads(ok(run(home, "key", "provisioned", "--json"))) == []
        # Again: orenv remembers it revoked it, asks nobody, and says so.
        seen = len(standin.requests)
        out = ok(run(home, "key", "revoke", name))
        assert re.fullmatch(rf"key '{name}' was already revoked on \d{{4}}-\d\d-\d\d "
                            r"\d\d:\d\d UTC: it is gone upstream and from the keyring; "
                            r"nothing left to do\n", out), out
        assert len(standin.requests) == seen
        # A key stored by hand under that name since is not orenv's to revoke.
        ok(run(home, "key", "set", name, input=standin.key + "\n"))
        assert "not provisioned by orenv" in one_line_error(run(home, "key", "revoke", name))

    def test_revoke_twice(self, home: Home, standin: StandIn) -> None:
        allow_loopback(home, standin)
        add_management(home, standin)
        name = uniq("twice")
        ok(run(home, "key", "provision", name, "--limit", "1", "--base-url", standin.base_url))
        ok(run(home, "key", "rm", name))  # the local copy went first
        out = ok(run(home, "key", "revoke", name))
        assert out == f"revoked key {name!r} upstream (it was no longer in the keyring)\n"
        out = ok(run(home, "key", "revoke", name))
        assert "was already revoked on" in out and "nothing left to do" in out

    def test_base_url_from_policy_here_only_once_allowed(
        self, home: Home, standin: StandIn
    ) -> None:
        allow_loopback(home, standin)
        add_management(home, standin)
        proj = home.path / "proj"
        proj.mkdir()
        (proj / ".orenv.toml").write_text(
            f'[openrouter]\nkey = "x"\nbase_url = "{standin.base_url}"\n')
        # Not allowed yet: a cloned repository's policy never chooses where the
        # management key goes (OpenRouter's default, unreachable here).
        line = one_line_error(run(home, "key", "provision", uniq("here"), "--limit", "2",
                                  cwd=proj))
        assert "openrouter.ai" in line and standin.requests == []
        ok(run(home, "allow", str(proj)))
        ok(run(home, "key", "provision", uniq("here"), "--limit", "2", cwd=proj))
        assert standin.requests[-1]["path"] == "/api/v1/keys"

    def test_management_key_choice(self, home: Home, standin: StandIn) -> None:
        allow_loopback(home, standin)
        url = standin.base_url
        line = one_line_error(run(home, "key", "provision", uniq("k"), "--base-url", url))
        assert "no management key" in line and "orenv key set --management" in line
        add_management(home, standin, "m1")
        add_management(home, standin, "m2")
        line = one_line_error(run(home, "key", "provision", uniq("k"), "--base-url", url))
        assert "several management keys (m1, m2)" in line and "--management-key" in line
        assert standin.requests == []
        ok(run(home, "key", "provision", uniq("k"), "--management-key", "m2", "--base-url", url))
        line = one_line_error(run(home, "key", "provision", uniq("k"), "--management-key",
                                  "nosuch", "--base-url", url))
        assert "`orenv key set nosuch --management`" in line, line
        # An ordinary key is not a management key: OpenRouter says so, in one line.
        ok(run(home, "key", "set", "plain", input=standin.key + "\n"))
        line = one_line_error(run(home, "key", "provision", uniq("k"), "--management-key",
                                  "plain", "--base-url", url))
        assert "403" in line and standin.key not in line

    def test_refusals_send_nothing(self, home: Home, standin: StandIn) -> None:
        add_management(home, standin)
        # The stand-in's host is not allowed yet: the management key must not go there.
        line = one_line_error(run(home, "key", "provision", uniq("k"), "--limit", "1",
                                  "--base-url", standin.base_url))
        assert "not in allowed_hosts" in line
        allow_loopback(home, standin)
        line = one_line_error(run(home, "key", "provision", "mgmt", "--base-url",
                                  standin.base_url))
        assert "already exists" in line or "other than the management key" in line
        proc = run(home, "key", "provision", uniq("k"), "--limit", "-3")
        assert proc.returncode == 2 and "zero or more" in proc.stderr
        proc = run(home, "key", "provision", uniq("k"), "--reset", "yearly")
        assert proc.returncode == 2
        line = one_line_error(run(home, "key", "provision", uniq("k"), "--reset", "daily",
                                  "--base-url", standin.base_url))
        assert "--reset needs --limit" in line
        line = one_line_error(run(home, "key", "provision", uniq("k"),
                                  "--base-url", "http://example.com/api"))
        assert "plain http" in line
        assert standin.requests == []
        # A name already in the keyring is never overwritten.
        taken = uniq("taken")
        ok(run(home, "key", "set", taken, input=standin.key + "\n"))
        line = one_line_error(run(home, "key", "provision", taken, "--base-url",
                                  standin.base_url))
        assert "already exists" in line
        assert standin.requests == []
        assert keyring_value(home, taken) == standin.key

    def test_revoke_needs_a_provisioned_key(self, home: Home, standin: StandIn) -> None:
        name = uniq("handmade")
        ok(run(home, "key", "set", name, input=standin.key + "\n"))
        line = one_line_error(run(home, "key", "revoke", name))
        assert "not provisioned by orenv" in line and f"orenv key rm {name}" in line
        assert keyring_value(home, name) == standin.key

    def test_upstream_errors_are_one_line(self, home: Home, standin: StandIn) -> None:
        allow_loopback(home, standin)
        add_management(home, standin)
        name = uniq("k")
        standin.fail_next(402, path="/keys")
        line = one_line_error(run(home, "key", "provision", name, "--base-url",
                                  standin.base_url))
        assert "402" in line and standin.management_key not in line
        assert keyring_value(home, name) is None
        standin.fail_next(401, path="/keys")
        line = one_line_error(run(home, "key", "provision", name, "--base-url",
                                  standin.base_url))
        assert "401" in line
        # Revoke fails upstream: the local key stays, so it can be retried.
        ok(run(home, "key", "provision", name, "--base-url", standin.base_url))
        standin.fail_next(500, path="/keys/")
        assert "500" in one_line_error(run(home, "key", "revoke", name))
        assert keyring_value(home, name) is not None
        ok(run(home, "key", "revoke", name))


class TestInitProvision:
    def test_init_provision_end_to_end(self, home: Home, standin: StandIn) -> None:
        allow_loopback(home, standin)
        add_management(home, standin)
        proj = home.path / "Client Site!"
        proj.mkdir()
        before = set(standin.keys)
        proc = run(home, "init", "--provision", "--limit", "20", "--reset", "monthly",
                   "--base-url", standin.base_url, cwd=proj)
        assert "provisioned key 'proj-Client-Site-" in ok(proc)
        (new,) = set(standin.keys) - before
        assert standin.keys[new]["limit"] == 20.0
        policy = proj / ".orenv.toml"
        text = policy.read_text()
        m = re.search(r'^key = "(proj-Client-Site-[0-9a-f]{4})"$', text, re.M)
        assert m, text
        name = m.group(1)
        assert keyring_value(home, name) == new
        assert "warn_below_usd = 2.0" in text
        captured = [proc.stdout, proc.stderr]

        # Budget known at once from the create reply: status shows it, offline.
        status = json.loads(ok(run(home, "status", "--json", cwd=proj)))
        assert status["state"] == "active" and status["key"] == name
        assert status["files"][0]["trust"] == "allowed"
        assert status["budget"]["known"] and status["budget"]["remaining"] == 20.0
        assert status["budget"]["warning"] is None
        # Spend, then `orenv usage` (no NAME: this directory's key).
        info = standin.keys[new]
        info["usage"] = info["usage_monthly"] = 18.5
        info["usage_daily"] = 1.25
        proc = run(home, "usage", "--json", cwd=proj)
        captured += [proc.stdout, proc.stderr]
        usage = json.loads(ok(proc))
        assert usage["key"] == name and usage["remaining"] == 1.5
        assert usage["usage_daily"] == 1.25 and usage["limit_reset"] == "monthly"
        assert "below [budget] warn_below_usd" in usage["warning"]
        assert standin.requests[-1]["headers"]["authorization"] == f"Bearer {new}"
        proc = run(home, "usage", cwd=proj)
        captured += [proc.stdout, proc.stderr]
        assert "remaining: $1.50" in ok(proc) and "warning" in proc.stderr
        # status: from the cache, with the warning; the stand-in is not asked.
        n = len(standin.requests)
        proc = run(home, "status", cwd=proj)
        captured += [proc.stdout, proc.stderr]
        text_out = ok(proc)
        assert "budget:    $1.50 left of $20.00 monthly" in text_out
        assert "warning:   remaining budget $1.50 is below" in text_out
        assert len(standin.requests) == n
        # The key is nowhere on disk (outside the keyring) nor in any output.
        assert_nowhere(new, home.path, proj, texts=tuple(captured))

    def test_init_provision_named_key_and_no_limit(self, home: Home, standin: StandIn) -> None:
        allow_loopback(home, standin)
        add_management(home, standin)
        proj = home.path / "p2"
        proj.mkdir()
        name = uniq("own")
        out = ok(run(home, "init", "--provision", "--key", name, "--base-url",
                     standin.base_url, cwd=proj))
        assert "no limit" in out
        text = (proj / ".orenv.toml").read_text()
        assert f'key = "{name}"' in text and "# warn_below_usd" in text
        assert keyring_value(home, name) is not None

    def test_init_provision_refusals_write_nothing(self, home: Home, standin: StandIn) -> None:
        proj = home.path / "p3"
        proj.mkdir()
        # No management key: nothing written, nothing sent.
        allow_loopback(home, standin)
        line = one_line_error(run(home, "init", "--provision", "--limit", "1", "--base-url",
                                  standin.base_url, cwd=proj))
        assert "no management key" in line
        add_management(home, standin)
        # Host not allowed (default OpenRouter host is allowed, a loopback one here is not).
        write_config(home, hosts=("x.y",))
        line = one_line_error(run(home, "init", "--provision", "--base-url",
                                  standin.base_url, cwd=proj))
        assert "not in allowed_hosts" in line
        allow_loopback(home, standin)
        line = one_line_error(run(home, "init", "--limit", "5", cwd=proj))
        assert "go with --provision" in line
        assert not (proj / ".orenv.toml").exists()
        assert standin.requests == []
        # Upstream refusal: no policy written either.
        standin.fail_next(402, path="/keys")
        line = one_line_error(run(home, "init", "--provision", "--base-url",
                                  standin.base_url, cwd=proj))
        assert "402" in line
        assert not (proj / ".orenv.toml").exists()


def test_replacing_a_provisioned_key_keeps_its_record_true(home: Home, standin: StandIn) -> None:
    """Issue 13 item 1: `key revoke` deleted the old key upstream and the new one locally."""
    allow_loopback(home, standin)
    add_management(home, standin)
    name = uniq("client-a")
    before = set(standin.keys)
    ok(run(home, "key", "provision", name, "--base-url", standin.base_url))
    (old,) = set(standin.keys) - before
    mine = "sk-or-v1-" + "c" * 64
    refused = run(home, "key", "set", name, input=mine + "\n")
    assert "already exists" in one_line_error(refused) and keyring_value(home, name) == old
    proc = run(home, "key", "set", name, "--force", input=mine + "\n")
    assert "replaced key" in ok(proc)
    moved = proc.stderr.split("`orenv key revoke ")[1].split("`")[0]
    assert moved.startswith(f"{name}.replaced-")
    listed = {r["name"] for r in json.loads(ok(run(home, "key", "provisioned", "--json")))}
    assert listed == {moved}
    assert "not provisioned" in one_line_error(run(home, "key", "revoke", name))
    ok(run(home, "key", "revoke", moved))
    assert old not in standin.keys  # the old key, upstream
    assert keyring_value(home, name) == mine  # the new one stays
