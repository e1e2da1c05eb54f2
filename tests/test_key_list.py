"""`orenv key list`: a `gh auth status` for keys (issue 13 item 7).

Per key: its masked value, the keyring that holds it, the policies `orenv allow`
recorded that use it, and OpenRouter's verdict the last time orenv asked, all
from files and the keyring, never the network. Run as a user would, against the
stand-in and a real gnome-keyring.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Home, ok, run_orenv
from standin import StandIn, new_key
from test_provision import add_management, allow_loopback, assert_nowhere, run

from orenv import keychecks
from orenv.errors import OpenRouterError
from orenv.secrets import mask


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as s:
        yield s


def policy(home: Home, rel: str, text: str) -> Path:
    d = home.path / rel
    d.mkdir(parents=True, exist_ok=True)
    (d / ".orenv.toml").write_text(text)
    return d / ".orenv.toml"


def test_key_list_shows_store_policies_and_last_check(home: Home, standin: StandIn) -> None:
    allow_loopback(home, standin)
    add_management(home, standin)
    ok(run(home, "key", "provision", "proj-a", "--limit", "5", "--base-url", standin.base_url))
    ok(run(home, "key", "set", "work", input=standin.key + "\n"))
    stale = new_key()  # a well-formed key OpenRouter does not know
    ok(run(home, "key", "set", "old", input=stale + "\n"))
    url = standin.base_url
    a = policy(home, "a", f'[openrouter]\nkey = "proj-a"\nbase_url = "{url}"\n')
    sub = policy(home, "a/sub", 'inherit = true\n[models]\nopus = "x/y"\n')
    w = policy(home, "w", f'[openrouter]\nkey = "work"\nbase_url = "{url}"\n')
    policy(home, "never", '[openrouter]\nkey = "work"\n')  # not allowed: not known
    for p in (a, sub, w):
        ok(run(home, "allow", str(p)))
    with open(w, "a") as fh:
        fh.write("# edited since\n")
    # The online checks orenv itself makes: doctor --online, usage, key provision.
    run(home, "doctor", "--online", cwd=a.parent)
    ok(run(home, "usage", "work", "--base-url", url))
    assert "401" in run(home, "usage", "old", "--base-url", url).stderr

    standin.requests.clear()
    out = ok(run(home, "key", "list"))
    data = json.loads(ok(run(home, "key", "list", "--json")))
    assert standin.requests == []  # from caches only

    assert "\t" not in out
    lines = out.splitlines()
    header = lines[0]
    assert header.split() == ["NAME", "KEY", "STORE", "LAST", "CHECK", "USED", "BY"]
    by_name = {ln.split()[0]: ln for ln in lines[1:] if not ln.startswith(" ")}
    assert set(by_name) == {"mgmt", "proj-a", "work", "old"}
    assert by_name["work"][header.index("KEY"):].startswith(mask(standin.key) + "  ")
    used_at = header.index("USED BY")
    check_at = header.index("LAST CHECK")
    assert by_name["work"][used_at:] == "~/w/.orenv.toml (changed)"
    assert by_name["work"][check_at:used_at].rstrip() == "valid, just now"
    assert by_name["old"][check_at:used_at].rstrip() == "refused (401), just now"
    assert by_name["old"][used_at:] == "-"
    assert by_name["proj-a"][check_at:used_at].rstrip() == "valid, just now"
    assert by_name["proj-a"][used_at:] == "~/a/.orenv.toml"
    follow = lines[lines.index(by_name["proj-a"]) + 1]
    assert follow == " " * used_at + "~/a/sub/.orenv.toml"  # inherits the key
    assert by_name["mgmt"][used_at:] == "management key"
    for name in ("work", "old", "mgmt"):
        assert by_name[name][header.index("STORE"):check_at].rstrip() == "SecretService"
    assert max(len(ln) for ln in lines) <= 100

    entries = {e["name"]: e for e in data}
    assert entries["work"]["store"] == "SecretService Keyring"
    assert entries["work"]["policies"] == [{"path": str(w), "trust":
                                            "changed since it was allowed"}]
    assert entries["proj-a"]["policies"] == [{"path": str(a), "trust": "allowed"},
                                             {"path": str(sub), "trust": "allowed"}]
    assert entries["proj-a"]["last_check"]["via"] == "doctor --online"
    assert entries["work"]["last_check"]["ok"] is True
    assert entries["work"]["last_check"]["via"] == "usage"
    assert {k: v for k, v in entries["old"]["last_check"].items() if k != "checked_at"} == {
        "ok": False, "status": 401, "via": "usage"}
    assert entries["mgmt"]["management"] and entries["mgmt"]["last_check"]["ok"]
    assert entries["mgmt"]["last_check"]["via"] == "key provision"

    # The cache holds names and verdicts, never a key.
    cache = json.loads((home.cache / "orenv" / "keychecks.json").read_text())
    assert set(cache["work"]) == {"checked_at", "ok", "status", "via"}
    assert_nowhere(standin.key, home.path, texts=(out,))
    assert_nowhere(stale, home.path, texts=(out,))

    # A verdict is about the key it was made on: replaced or removed, it is gone.
    ok(run(home, "key", "set", "work", "--force", input=new_key() + "\n"))
    ok(run(home, "key", "rm", "old"))
    data = {e["name"]: e for e in json.loads(ok(run(home, "key", "list", "--json")))}
    assert data["work"]["last_check"] is None and "old" not in data
    assert "never checked" in ok(run(home, "key", "list"))


def test_key_list_without_keys_or_keyring_answers(home: Home) -> None:
    assert ok(run_orenv(home, "key", "list")) == (
        "no keys; store one with `orenv key set NAME` (keyring), or hold one in the orenv "
        "daemon's memory with `orenv key add NAME` (no keyring needed)\n")
    assert json.loads(ok(run_orenv(home, "key", "list", "--json"))) == []


class TestChecking:
    """What counts as a verdict on the key (in-process; no network involved)."""

    def test_verdicts(self) -> None:
        with keychecks.checking("good", "usage"):
            pass
        for status in (401, 500):
            with pytest.raises(OpenRouterError), keychecks.checking(f"s{status}", "usage"):
                raise OpenRouterError(status, "no")
        with pytest.raises(OpenRouterError), \
                keychecks.checking("mgmt", "key revoke", accepted=(404,)):
            raise OpenRouterError(404, "gone")
        good = keychecks.last("good")
        assert good is not None and good.ok and good.verdict() == "valid"
        assert abs(good.checked_at - time.time()) < 60
        bad = keychecks.last("s401")
        assert bad is not None and not bad.ok and bad.verdict() == "refused (401)"
        assert keychecks.last("s500") is None  # a server error says nothing about the key
        mgmt = keychecks.last("mgmt")
        assert mgmt is not None and mgmt.ok
        keychecks.forget("good")
        assert keychecks.last("good") is None
        keychecks.cache_file().write_text('{"x": {"ok": "yes"}, "y": 3}')
        assert keychecks.last("x") is None and keychecks.last("y") is None
