"""Policy -> variables mapping, routing and attribution merging (pure)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orenv.config import Config
from orenv.errors import PolicyError
from orenv.policy import parse, resolve
from orenv.render import custom_headers, extra_body, policy_env

KEY = "sk-or-v1-" + "c" * 64


def pol(text: str, path: str = "/p/.orenv.toml"):  # type: ignore[no-untyped-def]
    return resolve([parse(path, text.encode())], Config())


def test_export_set() -> None:
    p = pol('[openrouter]\nkey = "w"\n[models]\nopus = "o"\nsonnet = "s"\nhaiku = "h"\n'
            'default = "sonnet"\nsubagent = "h2"\n[env]\nAPI_TIMEOUT_MS = "600000"\n')
    env = policy_env(p, {}, key_value=KEY)
    assert env == {
        "ANTHROPIC_BASE_URL": "https://openrouter.ai/api",
        "ANTHROPIC_AUTH_TOKEN": KEY,
        "ANTHROPIC_API_KEY": "",
        "ANTHROPIC_DEFAULT_OPUS_MODEL": "o",
        "ANTHROPIC_DEFAULT_SONNET_MODEL": "s",
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": "h",
        "ANTHROPIC_MODEL": "sonnet",
        "CLAUDE_CODE_SUBAGENT_MODEL": "h2",
        "CLAUDE_CODE_SUBPROCESS_ENV_SCRUB": "1",  # make deps installs bubblewrap and socat
        "API_TIMEOUT_MS": "600000",
    }


def test_scrub_on_by_default_unless_the_user_or_policy_says_no() -> None:
    """On in every mode where Claude Code's sandbox runs (see test_sandbox)."""
    from orenv.render import SCRUB_VAR

    for mode in ("export", "exec", "helper"):
        p = pol(f'[openrouter]\nkey = "w"\nmode = "{mode}"\n')
        assert policy_env(p, {}, key_value=None, can_scrub=True)[SCRUB_VAR] == "1"
        assert SCRUB_VAR not in policy_env(p, {}, key_value=None, can_scrub=False)
    off = pol('[openrouter]\nkey = "w"\n[claude]\nscrub_subprocess_env = false\n')
    assert SCRUB_VAR not in policy_env(off, {}, key_value=KEY, can_scrub=True)
    cfg_off = resolve([parse("/p/.orenv.toml", b'[openrouter]\nkey = "w"\n')],
                      Config(scrub_subprocess_env=False))
    assert SCRUB_VAR not in policy_env(cfg_off, {}, key_value=KEY, can_scrub=True)
    # a nearer policy can turn it back on where the user's config said no
    back_on = resolve([parse("/p/.orenv.toml", b'[openrouter]\nkey = "w"\n'),
                       parse("/p/s/.orenv.toml", b'[claude]\nscrub_subprocess_env = true\n')],
                      Config(scrub_subprocess_env=False))
    assert policy_env(back_on, {}, key_value=KEY, can_scrub=True)[SCRUB_VAR] == "1"


def test_no_token_without_key() -> None:
    p = pol('[openrouter]\nkey = "w"\nmode = "exec"\n')
    env = policy_env(p, {}, key_value=None)
    assert "ANTHROPIC_AUTH_TOKEN" not in env and env["ANTHROPIC_API_KEY"] == ""


def test_disabled_sets_nothing() -> None:
    assert policy_env(pol("enabled = false\n"), {}, key_value=KEY) == {}


def test_routing_merges_into_users_extra_body() -> None:
    p = pol('[openrouter]\nkey = "w"\n[routing]\norder = ["anthropic"]\nzdr = true\n')
    env = policy_env(p, {"CLAUDE_CODE_EXTRA_BODY": '{"metadata": {"x": 1}, "provider": '
                         '{"sort": "price"}}'}, key_value=None)
    body = json.loads(env["CLAUDE_CODE_EXTRA_BODY"])
    assert body == {"metadata": {"x": 1},
                    "provider": {"sort": "price", "order": ["anthropic"], "zdr": True}}


def test_routing_into_non_object_is_an_error() -> None:
    p = pol('[openrouter]\nkey = "w"\n[routing]\nzdr = true\n')
    with pytest.raises(PolicyError, match="not a JSON object"):
        policy_env(p, {"CLAUDE_CODE_EXTRA_BODY": "[1]"}, key_value=None)


def test_attribution_headers_merge() -> None:
    merged = custom_headers("X-A: 1\nhttp-referer: old", {"referer": "https://e.x", "title": "t"})
    assert merged == "X-A: 1\nHTTP-Referer: https://e.x\nX-OpenRouter-Title: t"
    assert custom_headers(None, {}) is None


routing_tables = st.fixed_dictionaries({}, optional={
    "order": st.lists(st.text(min_size=1, max_size=10), max_size=3),
    "allow_fallbacks": st.booleans(),
    "zdr": st.booleans(),
    "data_collection": st.sampled_from(["allow", "deny"]),
    "sort": st.sampled_from(["price", "throughput", "latency"]),
    "max_price": st.fixed_dictionaries({}, optional={
        "prompt": st.integers(0, 100), "completion": st.floats(0, 100)}),
})


@settings(max_examples=200, deadline=None)
@given(routing_tables)
def test_routing_json_round_trip(routing: dict) -> None:  # type: ignore[type-arg]
    out = extra_body(None, routing, where="/p")
    if not routing:
        assert out is None
    else:
        assert out is not None
        assert json.loads(out) == {"provider": routing}


def test_resolve_over_files(tmp_path: Path) -> None:
    p = pol('[openrouter]\nkey = "w"\n', str(tmp_path / ".orenv.toml"))
    assert p.name == tmp_path.name


def test_every_model_slot_claude_code_documents() -> None:
    p = pol('[openrouter]\nkey = "w"\n[models]\nfable = "f/m"\nopus = "o/m"\ndefault = "best"\n')
    env = policy_env(p, {}, key_value=KEY)
    assert env["ANTHROPIC_DEFAULT_FABLE_MODEL"] == "f/m" and env["ANTHROPIC_MODEL"] == "best"
    assert env["ANTHROPIC_DEFAULT_OPUS_MODEL"] == "o/m"
