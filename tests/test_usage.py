"""`orenv usage`, the budget cache, and the budget line of `orenv status`."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Home, ok, one_line_error
from standin import StandIn
from test_provision import allow_loopback, run, uniq

from orenv import budget
from orenv.budget import Usage


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as s:
        yield s


def project(home: Home, s: StandIn, key: str, extra: str = "") -> Path:
    proj = home.path / "proj"
    proj.mkdir(exist_ok=True)
    (proj / ".orenv.toml").write_text(
        f'[openrouter]\nkey = "{key}"\nbase_url = "{s.base_url}"\n{extra}')
    ok(run(home, "allow", cwd=proj))
    return proj


class TestBudgetModule:
    def test_from_api_keeps_numbers_only(self) -> None:
        u = Usage.from_api({"label": "sk-or-v1-ab...", "limit": 10, "limit_remaining": 7.5,
                            "usage": 2.5, "usage_daily": "x", "limit_reset": "weekly",
                            "is_free_tier": False, "hash": "abc"}, fetched_at=5.0)
        assert u == Usage(limit=10.0, limit_reset="weekly", limit_remaining=7.5, usage=2.5,
                          is_free_tier=False, fetched_at=5.0)
        assert u.remaining == 7.5
        assert "label" not in u.to_json() and "hash" not in u.to_json()

    @pytest.mark.parametrize(
        ("data", "remaining"),
        [
            ({"limit": None, "usage": 3}, None),
            ({"limit": 5, "usage": 3}, 2.0),
            ({"limit": 5, "usage": 9}, 0.0),
            ({"limit": 5, "limit_remaining": -1}, 0.0),
            ({"limit": 5, "limit_remaining": 4, "usage": 3}, 4.0),
        ],
    )
    def test_remaining(self, data: dict[str, float | None], remaining: float | None) -> None:
        assert Usage.from_api(data).remaining == remaining

    def test_warning(self) -> None:
        u = Usage.from_api({"limit": 10, "limit_remaining": 1.5})
        assert budget.low_budget_warning(u, None) is None
        assert budget.low_budget_warning(u, 1.5) is None
        w = budget.low_budget_warning(u, 2)
        assert w is not None and "$1.50" in w and "warn_below_usd $2.00" in w
        assert budget.low_budget_warning(Usage.from_api({"limit": None}), 100) is None

    def test_cache_round_trip_and_garbage(self) -> None:
        assert budget.cached("k") is None
        u = Usage.from_api({"limit": 3, "usage": 1, "limit_reset": "daily"}, fetched_at=7.0)
        budget.store("k", u, "https://openrouter.ai/api")
        assert budget.cached("k") == u
        raw = json.loads(budget.cache_file().read_text())
        assert raw["k"]["base_url"] == "https://openrouter.ai/api"
        assert budget.cache_file().stat().st_mode & 0o077 == 0
        budget.forget("k")
        assert budget.cached("k") is None
        budget.cache_file().write_text("{not json")
        assert budget.cached("k") is None
        budget.cache_file().write_text('{"k": {"limit": "lots", "fetched_at": "x"}}')
        assert budget.cached("k") == Usage(fetched_at=0.0)

    def test_status_lines(self) -> None:
        assert budget.status_lines(None) == []
        unknown = budget.status_entry("k", 2.0)
        assert budget.status_lines(unknown) == [
            "budget:    unknown (run `orenv usage` to fetch it)"]
        budget.store("k", Usage.from_api({"limit": None, "usage": 4}, fetched_at=time.time()))
        assert budget.status_lines(budget.status_entry("k", 2.0)) == [
            "budget:    no limit; spent $4.00 (just now)"]
        budget.store("k", Usage.from_api({"limit": 20, "usage": 19},
                                         fetched_at=time.time() - 7200))
        lines = budget.status_lines(budget.status_entry("k", 2.0))
        assert lines[0].startswith("budget:    $1.00 left of $20.00 (as of 2 h ago")
        assert lines[1].startswith("warning:   remaining budget $1.00 is below")


class TestUsageCommand:
    def test_usage_by_name(self, home: Home, standin: StandIn) -> None:
        allow_loopback(home, standin)
        name = uniq("work")
        ok(run(home, "key", "set", name, input=standin.key + "\n"))
        info = standin.keys[standin.key]
        info.update(limit=10.0, limit_reset="weekly", usage=4.0, usage_daily=0.5,
                    usage_weekly=4.0, usage_monthly=4.0)
        data = json.loads(ok(run(home, "usage", name, "--json", "--base-url",
                                 standin.base_url)))
        assert data["key"] == name and data["base_url"] == standin.base_url
        assert (data["usage_daily"], data["usage_weekly"], data["usage_monthly"]) == (
            0.5, 4.0, 4.0)
        assert (data["limit"], data["limit_reset"], data["remaining"]) == (10.0, "weekly", 6.0)
        assert data["warning"] is None
        req = standin.requests[-1]
        assert req["path"] == "/api/v1/key" and req["method"] == "GET"
        assert req["headers"]["authorization"] == f"Bearer {standin.key}"
        text = ok(run(home, "usage", name, "--base-url", standin.base_url))
        assert "today $0.50, this week $4.00, this month $4.00" in text
        assert "limit:     $10.00, resets weekly" in text and "remaining: $6.00" in text
        # Cached: numbers only, never the key.
        cache = (home.cache / "orenv" / "budget.json").read_text()
        assert standin.key not in cache
        assert json.loads(cache)[name]["limit_remaining"] == 6.0

    def test_usage_of_policy_here_and_status_from_cache(
        self, home: Home, standin: StandIn
    ) -> None:
        allow_loopback(home, standin)
        name = uniq("proj")
        ok(run(home, "key", "set", name, input=standin.key + "\n"))
        proj = project(home, standin, name, "[budget]\nwarn_below_usd = 5\n")
        status = json.loads(ok(run(home, "status", "--json", cwd=proj)))
        assert status["budget"] == {"key": name, "known": False, "warn_below_usd": 5.0,
                                    "warning": None}
        assert "budget:    unknown" in ok(run(home, "status", cwd=proj))
        assert standin.requests == []
        standin.keys[standin.key].update(limit=8.0, usage=4.0)
        proc = run(home, "usage", cwd=proj)
        assert "remaining: $4.00" in ok(proc)
        assert "warning: remaining budget $4.00 is below [budget] warn_below_usd $5.00" in (
            proc.stderr)
        assert proc.returncode == 0  # a warning is not an error
        # Usage NAME of the policy's own key picks up the policy's base URL and threshold.
        data = json.loads(ok(run(home, "usage", name, "--json", cwd=proj)))
        assert data["base_url"] == standin.base_url and data["warn_below_usd"] == 5.0
        standin.stop()  # status never goes online: it works with the stand-in gone
        status = json.loads(ok(run(home, "status", "--json", cwd=proj)))
        assert status["budget"]["remaining"] == 4.0
        assert "below" in status["budget"]["warning"]
        text = ok(run(home, "status", cwd=proj))
        assert "budget:    $4.00 left of $8.00" in text and "warning:   remaining" in text
        # And `orenv usage` offline is one clear line.
        line = one_line_error(run(home, "usage", cwd=proj))
        assert "cannot reach 127.0.0.1" in line

    def test_usage_errors(self, home: Home, standin: StandIn) -> None:
        allow_loopback(home, standin)
        line = one_line_error(run(home, "usage"))
        assert "no .orenv.toml here or above" in line
        bad = "sk-or-v1-" + "0" * 64
        name = uniq("revoked")
        ok(run(home, "key", "set", name, input=bad + "\n"))
        line = one_line_error(run(home, "usage", name, "--base-url", standin.base_url))
        assert "401" in line and bad not in line
        line = one_line_error(run(home, "usage", name, "--base-url", "https://evil.example/api"))
        assert "not in allowed_hosts" in line
        line = one_line_error(run(home, "usage", uniq("missing"), "--base-url",
                                  standin.base_url))
        assert "not in the keyring" in line
        # An untrusted policy is not used to send a key anywhere.
        proj = home.path / "untrusted"
        proj.mkdir()
        (proj / ".orenv.toml").write_text(
            f'[openrouter]\nkey = "{name}"\nbase_url = "{standin.base_url}"\n')
        line = one_line_error(run(home, "usage", cwd=proj))
        assert "orenv allow" in line
        assert all(r["headers"].get("authorization") != f"Bearer {bad}" or
                   r["path"] == "/api/v1/key" for r in standin.requests)
        assert len(standin.requests) == 1
