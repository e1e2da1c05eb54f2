"""[routing] -> CLAUDE_CODE_EXTRA_BODY and [attribution] -> ANTHROPIC_CUSTOM_HEADERS.

Property tests for the table -> JSON mapping and for bad tables (one clear
line each), model presets and variants, and a real shell (pty) that merges a
user's own CLAUDE_CODE_EXTRA_BODY / ANTHROPIC_CUSTOM_HEADERS inside a project
and restores them exactly outside.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from conftest import Home, ok, one_line_error
from harness import KINDS, Shell
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_provision import SLOW_KEYRING_OK, run

from orenv.config import Config
from orenv.errors import PolicyError
from orenv.models import Model, base_model_id, check_model, is_preset
from orenv.policy import parse, resolve
from orenv.render import custom_headers, policy_env

KEY = "sk-or-v1-" + "7" * 64
PATH = "/proj/.orenv.toml"

# ---------------------------------------------------------------- strategies

providers = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1,
                    max_size=12).filter(lambda s: "\x00" not in s)
prices = st.one_of(st.integers(0, 10**6),
                   st.floats(0, 1e6, allow_nan=False, allow_infinity=False))
QUANTS = ["int4", "int8", "fp4", "mxfp4", "nvfp4", "fp6", "fp8", "mxfp8", "fp16", "bf16",
          "fp32", "unknown"]
SORTS = ["price", "throughput", "latency", "exacto"]
thresholds = st.one_of(prices, st.fixed_dictionaries({}, optional={
    p: prices for p in ("p50", "p75", "p90", "p99")}).filter(bool))

# Every field of OpenRouter's ProviderPreferences with its documented types
# (OpenRouterTeam/docs openapi.yaml).
routing_tables = st.fixed_dictionaries({}, optional={
    "order": st.lists(providers, min_size=1, max_size=4),
    "only": st.lists(providers, min_size=1, max_size=3),
    "ignore": st.lists(providers, min_size=1, max_size=3),
    "allow_fallbacks": st.booleans(),
    "zdr": st.booleans(),
    "require_parameters": st.booleans(),
    "enforce_distillable_text": st.booleans(),
    "data_collection": st.sampled_from(["allow", "deny"]),
    "sort": st.one_of(st.sampled_from(SORTS), st.fixed_dictionaries({}, optional={
        "by": st.sampled_from(SORTS), "partition": st.sampled_from(["model", "none"])
    }).filter(bool)),
    "max_price": st.fixed_dictionaries({}, optional={
        "prompt": prices, "completion": prices, "request": prices, "image": prices,
        "audio": prices}).filter(bool),
    "quantizations": st.lists(st.sampled_from(QUANTS), min_size=1, max_size=4),
    "preferred_min_throughput": thresholds,
    "preferred_max_latency": thresholds,
})


def as_sent(routing: dict[str, Any]) -> dict[str, Any]:
    """What reaches OpenRouter: prices as decimal strings (the spec's type), numbers as floats."""
    out = dict(routing)
    if "max_price" in out:
        out["max_price"] = {k: format(Decimal(repr(float(v))).normalize(), "f")
                            for k, v in out["max_price"].items()}
    for key in ("preferred_min_throughput", "preferred_max_latency"):
        if key in out:
            v = out[key]
            out[key] = {p: float(x) for p, x in v.items()} if isinstance(v, dict) else float(v)
    return out

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-1000, 1000),
                         st.text(max_size=8))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=8)
user_bodies = st.dictionaries(st.text(max_size=8), json_values, max_size=4)


def policy_text(routing: dict[str, Any], extra: dict[str, Any] | None = None) -> str:
    doc: dict[str, Any] = {"openrouter": {"key": "w"}, **(extra or {})}
    if routing:
        doc["routing"] = routing
    return tomlkit.dumps(doc)


def env_for(text: str, base_env: dict[str, str] | None = None) -> dict[str, str]:
    policy = resolve([parse(PATH, text.encode())], Config())
    return policy_env(policy, base_env or {}, key_value=KEY)


def deep_merge(base: Any, extra: Any) -> Any:
    if isinstance(base, dict) and isinstance(extra, dict):
        out = dict(base)
        for k, v in extra.items():
            out[k] = deep_merge(base.get(k), v) if k in base else v
        return out
    return extra


# ---------------------------------------------------------------- mapping


class TestRoutingToJson:
    @settings(max_examples=300, deadline=None)
    @given(routing_tables)
    def test_table_becomes_provider_object(self, routing: dict[str, Any]) -> None:
        env = env_for(policy_text(routing))
        if not routing:
            assert "CLAUDE_CODE_EXTRA_BODY" not in env
            return
        body = json.loads(env["CLAUDE_CODE_EXTRA_BODY"])
        assert body == {"provider": as_sent(routing)}
        # Single line JSON, whatever the provider names hold.
        assert "\n" not in env["CLAUDE_CODE_EXTRA_BODY"]

    @settings(max_examples=200, deadline=None)
    @given(routing_tables.filter(bool), user_bodies)
    def test_users_body_is_merged_not_clobbered(
        self, routing: dict[str, Any], user: dict[str, Any]
    ) -> None:
        env = env_for(policy_text(routing), {"CLAUDE_CODE_EXTRA_BODY": json.dumps(user)})
        body = json.loads(env["CLAUDE_CODE_EXTRA_BODY"])
        assert body == deep_merge(user, {"provider": as_sent(routing)})
        for k, v in user.items():  # everything of the user's outside "provider" survives
            if k != "provider":
                assert body[k] == v

    @settings(max_examples=20, deadline=None)
    @given(routing_tables.filter(bool))
    def test_env_table_may_not_shape_the_body(self, routing: dict[str, Any]) -> None:
        # Only [routing] shapes the request body; [env] cannot add fields to it.
        text = policy_text(routing, {"env": {"CLAUDE_CODE_EXTRA_BODY": '{"a": 1}'}})
        with pytest.raises(PolicyError) as info:
            env_for(text, {})
        assert "[routing]" in info.value.message

    def test_no_routing_leaves_users_body_alone(self) -> None:
        env = env_for(policy_text({}), {"CLAUDE_CODE_EXTRA_BODY": '{"a": 1}'})
        assert "CLAUDE_CODE_EXTRA_BODY" not in env  # not touched, so nothing to restore

    @pytest.mark.parametrize("existing", ["[1, 2]", "not json", '"str"', "null", "{"])
    def test_users_body_not_an_object_is_one_clear_error(self, existing: str) -> None:
        with pytest.raises(PolicyError) as info:
            env_for(policy_text({"zdr": True}), {"CLAUDE_CODE_EXTRA_BODY": existing})
        msg = info.value.message
        assert "\n" not in msg and PATH in msg and "CLAUDE_CODE_EXTRA_BODY" in msg

    def test_design_example(self) -> None:
        text = """[openrouter]
key = "w"
[routing]
order = ["anthropic", "google-vertex"]
allow_fallbacks = true
data_collection = "deny"
zdr = true
sort = "throughput"
max_price = { prompt = 5, completion = 25 }
[attribution]
referer = "https://example.com/client-a"
title = "client-a"
"""
        env = env_for(text)
        assert json.loads(env["CLAUDE_CODE_EXTRA_BODY"]) == {"provider": {
            "allow_fallbacks": True, "data_collection": "deny",
            "max_price": {"completion": "25", "prompt": "5"},
            "order": ["anthropic", "google-vertex"], "sort": "throughput", "zdr": True}}
        assert env["ANTHROPIC_CUSTOM_HEADERS"] == (
            "HTTP-Referer: https://example.com/client-a\nX-OpenRouter-Title: client-a")

    def test_sub_table_spelling(self) -> None:
        env = env_for('[openrouter]\nkey = "w"\n[routing]\nsort = "price"\n'
                      "[routing.max_price]\nprompt = 1.5\n")
        assert json.loads(env["CLAUDE_CODE_EXTRA_BODY"]) == {
            "provider": {"max_price": {"prompt": "1.5"}, "sort": "price"}}


# ---------------------------------------------------------------- bad tables

# (TOML lines under [routing], the dotted key the error must name): wrong types
# of documented fields, and privacy settings, which are never guessed.
BAD: list[tuple[str, str]] = [
    ('order = "anthropic"', "routing.order"),
    ("order = [1, 2]", "routing.order"),
    ('order = ["anthropic", ""]', "routing.order"),
    ("only = []", "routing.only"),
    ("ignore = [true]", "routing.ignore"),
    ('allow_fallbacks = "yes"', "routing.allow_fallbacks"),
    ("zdr = 1", "routing.zdr"),
    ('require_parameters = "true"', "routing.require_parameters"),
    ('enforce_distillable_text = "no"', "routing.enforce_distillable_text"),
    ('data_collection = "maybe"', "routing.data_collection"),
    ("data_collection = false", "routing.data_collection"),
    ('sort = ["price"]', "routing.sort"),
    ("max_price = 5", "routing.max_price"),
    ("max_price = { prompt = -1 }", "routing.max_price.prompt"),
    ('max_price = { prompt = "five" }', "routing.max_price.prompt"),
    ("max_price = { prompt = inf }", "routing.max_price.prompt"),
    ("max_price = { completion = nan }", "routing.max_price.completion"),
    ("max_price.prompt = true", "routing.max_price.prompt"),
    ('quantizations = "fp8"', "routing.quantizations"),
    ('preferred_max_latency = "fast"', "routing.preferred_max_latency"),
    ("preferred_min_throughput = { p90 = -5 }", "routing.preferred_min_throughput.p90"),
]

# An option or value orenv does not know is left out of the request (OpenRouter
# would refuse it) with a warning; the key is still handed out.
DROPPED: list[tuple[str, str]] = [
    ("fallbacks = true", "routing.fallbacks"),
    ('sort = "cheapest"', "routing.sort"),
    ('sort = { by = "vibes" }', "routing.sort"),
    ("max_price = { tokens = 1 }", "routing.max_price"),
    ('quantizations = ["fp9"]', "routing.quantizations"),
    ("preferred_max_latency = { p42 = 1 }", "routing.preferred_max_latency"),
]


class TestUnknownOptionsAreLeftOut:
    @pytest.mark.parametrize(("line", "key"), DROPPED)
    def test_warned_and_left_out(self, line: str, key: str) -> None:
        text = f'[openrouter]\nkey = "w"\n[routing]\nzdr = true\n{line}\n'
        policy = resolve([parse(PATH, text.encode())], Config())
        assert len(policy.warnings) == 1 and f":5: {key}: " in policy.warnings[0]
        assert "\n" not in policy.warnings[0]
        body = json.loads(policy_env(policy, {}, key_value=KEY)["CLAUDE_CODE_EXTRA_BODY"])
        assert body["provider"].get("zdr") is True
        name = key.split(".")[1]
        assert name not in body["provider"] or name in ("quantizations",)
        assert "fp9" not in json.dumps(body) and "vibes" not in json.dumps(body)

    def test_the_key_is_still_handed_out(self, home: Home) -> None:
        ok(run(home, "key", "set", "w", input=KEY + "\n"))
        proj = home.path / "proj"
        proj.mkdir()
        (proj / ".orenv.toml").write_text(
            '[openrouter]\nkey = "w"\n[routing]\nsort = "fastest"\nfuture_option = 1\n')
        ok(run(home, "allow", cwd=proj))
        out = ok(run(home, "export", "bash", cwd=proj))
        assert "ANTHROPIC_AUTH_TOKEN" in out and "fastest" not in out.split("__orenv_msg")[0]
        msg = [ln for ln in out.splitlines() if ln.startswith("__orenv_msg")]
        assert len(msg) == 1 and "routing.sort" in msg[0] and "routing.future_option" in msg[0]


class TestBadRoutingTables:
    @pytest.mark.parametrize(("line", "key"), BAD)
    def test_one_clear_line_naming_file_line_and_key(self, line: str, key: str) -> None:
        text = f'# a client project\n[openrouter]\nkey = "w"\n\n[routing]\n{line}\n'
        with pytest.raises(PolicyError) as info:
            parse(PATH, text.encode())
        msg = info.value.message
        assert "\n" not in msg
        assert msg.startswith(f"{PATH}:6: {key}: "), msg

    def test_sub_table_error_has_its_line(self) -> None:
        text = '[openrouter]\nkey = "w"\n[routing]\nzdr = true\n[routing.max_price]\n' \
               'prompt = 1\ncompletion = "x"\n'
        with pytest.raises(PolicyError) as info:
            parse(PATH, text.encode())
        assert info.value.message.startswith(f"{PATH}:7: routing.max_price.completion: ")

    def test_routing_not_a_table(self) -> None:
        with pytest.raises(PolicyError, match=r":1: routing: must be a table"):
            parse(PATH, b'routing = "fast"\n')

    @settings(max_examples=200, deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(routing_tables, st.sampled_from(BAD))
    def test_any_good_table_plus_one_bad_entry(
        self, routing: dict[str, Any], bad: tuple[str, str]
    ) -> None:
        line, key = bad
        name = key.split(".")[1]
        good = {k: v for k, v in routing.items() if k != name}
        text = policy_text(good)
        if "[routing]\n" not in text:
            text += "[routing]\n"
        text = text.replace("[routing]\n", f"[routing]\n{line}\n", 1)
        with pytest.raises(PolicyError) as info:
            parse(PATH, text.encode())
        msg = info.value.message
        assert "\n" not in msg and f": {key}: " in msg and msg.startswith(f"{PATH}:")

    def test_cli_reports_one_line_and_applies_nothing(self, home: Home) -> None:
        proj = home.path / "proj"
        proj.mkdir()
        (proj / ".orenv.toml").write_text('[openrouter]\nkey = "w"\n[routing]\nsort = 5\n')
        line = one_line_error(run(home, "allow", cwd=proj))
        assert ".orenv.toml:4: routing.sort: " in line
        out = ok(run(home, "export", "bash", cwd=proj))
        assert "CLAUDE_CODE_EXTRA_BODY" not in out and "ANTHROPIC_AUTH_TOKEN" not in out


# ---------------------------------------------------------------- attribution


header_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1,
                        max_size=20).map(str.strip).filter(bool)
header_names = st.from_regex(r"\A[A-Za-z][A-Za-z0-9-]{0,12}\Z")


class TestAttribution:
    @settings(max_examples=200, deadline=None)
    @given(st.fixed_dictionaries({}, optional={"referer": header_values,
                                               "title": header_values}),
           st.lists(st.tuples(header_names, header_values), max_size=4))
    def test_merged_with_users_headers(
        self, attribution: dict[str, str], existing: list[tuple[str, str]]
    ) -> None:
        users = "\n".join(f"{n}: {v}" for n, v in existing)
        out = custom_headers(users or None, attribution)
        if not attribution:
            assert out == (users or None)
            return
        assert out is not None
        lines = out.split("\n")
        ours = {"referer": "HTTP-Referer", "title": "X-OpenRouter-Title"}
        for k, v in attribution.items():
            assert lines.count(f"{ours[k]}: {v}") == 1
        replaced = {ours[k].lower() for k in attribution}
        kept = [f"{n}: {v}" for n, v in existing if n.lower() not in replaced]
        assert lines[: len(kept)] == kept  # the user's other headers, in order, first
        names = [ln.split(":", 1)[0].lower() for ln in lines]
        for name in replaced:
            assert names.count(name) == 1

    def test_bad_attribution(self) -> None:
        for text, key in [('[attribution]\nreferer = 3\n', "attribution.referer"),
                          ('[attribution]\ntitle = "a\\nb"\n', "attribution.title"),
                          ('[attribution]\nname = "x"\n', "attribution.name"),
                          ('[attribution]\ncategories = ["CLI Agent"]\n',
                           "attribution.categories")]:
            with pytest.raises(PolicyError) as info:
                parse(PATH, text.encode())
            assert f":2: {key}: " in info.value.message

    @pytest.mark.parametrize("char", ["\u2019", "\U0001f680", "\u20ac", "\u0007", "\u007f"])
    def test_characters_claude_code_cannot_send_are_named(self, char: str) -> None:
        """Claude Code refuses every request with such a header: name the character."""
        escaped = f"\\u{ord(char):04x}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08x}"
        text = f'[attribution]\nreferer = "https://x.example"\ntitle = "it{escaped}s"\n'
        with pytest.raises(PolicyError) as info:
            parse(PATH, text.encode("utf-8"))
        msg = info.value.message
        assert ":3: attribution.title: " in msg and f"U+{ord(char):04X}" in msg
        # Latin-1 is fine.
        parse(PATH, '[attribution]\nreferer = "https://x.example"\ntitle = "café"\n'.encode())

    def test_title_alone_warns_and_categories_are_sent(self) -> None:
        policy = resolve([parse(PATH, b'[openrouter]\nkey = "w"\n[attribution]\n'
                               b'title = "t"\ncategories = ["cli-agent", "cloud-agent", "x"]\n')],
                         Config())
        warnings = " ".join(policy.warnings)
        assert "referer" in warnings and "at most 2" in warnings
        headers = policy_env(policy, {}, key_value=KEY)["ANTHROPIC_CUSTOM_HEADERS"]
        assert "X-OpenRouter-Categories: cli-agent,cloud-agent" in headers.split("\n")


# ---------------------------------------------------------------- model values


CATALOGUE = [
    Model(id="anthropic/claude-sonnet-4.5", name="Sonnet", context_length=1,
          prompt_price_per_mtok=3.0, completion_price_per_mtok=15.0, supports_tools=True),
    Model(id="example/no-tools", name="No tools", context_length=1,
          prompt_price_per_mtok=0.0, completion_price_per_mtok=0.0, supports_tools=False),
]


class TestModelValues:
    @pytest.mark.parametrize("model", [
        "@preset/client-a", "anthropic/claude-sonnet-4.5:nitro",
        "anthropic/claude-sonnet-4.5:floor", "meta-llama/llama-3.3-70b-instruct:free",
        "anthropic/claude-sonnet-4.5:exacto", "openrouter/auto",
    ])
    def test_policy_passes_presets_and_variants_literally(self, model: str) -> None:
        env = env_for(f'[openrouter]\nkey = "w"\n[models]\nsonnet = "{model}"\n'
                      f'default = "{model}"\n')
        assert env["ANTHROPIC_DEFAULT_SONNET_MODEL"] == model
        assert env["ANTHROPIC_MODEL"] == model

    def test_check_model_understands_suffixes_and_presets(self) -> None:
        assert is_preset("@preset/x") and not is_preset("a/b")
        assert base_model_id("a/b:nitro") == "a/b"
        assert base_model_id("@preset/x") == "@preset/x"
        assert check_model("anthropic/claude-sonnet-4.5:nitro", CATALOGUE)[0]
        assert check_model("anthropic/claude-sonnet-4.5:exacto", CATALOGUE)[0]
        good, why = check_model("@preset/client-a", CATALOGUE)
        assert good and "preset" in why
        good, why = check_model("example/no-tools:floor", CATALOGUE)
        assert not good and "tool" in why
        assert not check_model("nope/model:nitro", CATALOGUE)[0]


# ---------------------------------------------------------------- real shells


PROJECT_POLICY = """[openrouter]
key = "{key}"
base_url = "https://openrouter.ai/api"
[routing]
order = ["anthropic", "google-vertex"]
allow_fallbacks = false
data_collection = "deny"
[attribution]
referer = "https://example.com/client-a"
title = "client-a"
"""

USER_BODY = '{"metadata": {"user_id": "it\'s me"}, "provider": {"sort": "price"}, "x": [1]}'
USER_HEADERS = "X-Team: blue\nHTTP-Referer: https://old.example"


def _export(kind: str, name: str, value: str) -> str:
    if kind == "fish":
        return f"set -gx {name} '" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return f"export {name}='" + value.replace("'", "'\\''") + "'"


@pytest.mark.parametrize("kind", KINDS)
def test_shell_merges_users_extra_body_and_restores_it(
    kind: str, home: Home, shell_factory: Callable[..., Shell], tmp_path: Path
) -> None:
    name = f"route-{kind}"
    ok(run(home, "key", "set", name, input=KEY + "\n"))
    proj = tmp_path / "client-a"
    proj.mkdir()
    (proj / ".orenv.toml").write_text(PROJECT_POLICY.format(key=name))
    ok(run(home, "allow", cwd=proj))
    sh = shell_factory(kind, env=SLOW_KEYRING_OK, rc_before="\n".join([
        _export(kind, "CLAUDE_CODE_EXTRA_BODY", USER_BODY),
        _export(kind, "ANTHROPIC_CUSTOM_HEADERS", USER_HEADERS),
    ]))
    outside = sh.env()
    assert outside["CLAUDE_CODE_EXTRA_BODY"] == USER_BODY
    sh.cd(proj)
    inside = sh.env()
    assert inside["ANTHROPIC_AUTH_TOKEN"] == KEY
    body = json.loads(inside["CLAUDE_CODE_EXTRA_BODY"])
    assert body == {"metadata": {"user_id": "it's me"}, "x": [1], "provider": {
        "sort": "price", "order": ["anthropic", "google-vertex"], "allow_fallbacks": False,
        "data_collection": "deny"}}
    assert inside["ANTHROPIC_CUSTOM_HEADERS"] == (
        "X-Team: blue\nHTTP-Referer: https://example.com/client-a\n"
        "X-OpenRouter-Title: client-a")
    # A subdirectory keeps the same merge (not merged twice into our own value).
    (proj / "src").mkdir()
    sh.cd(proj / "src")
    again = sh.env()
    assert again["CLAUDE_CODE_EXTRA_BODY"] == inside["CLAUDE_CODE_EXTRA_BODY"]
    assert again["ANTHROPIC_CUSTOM_HEADERS"] == inside["ANTHROPIC_CUSTOM_HEADERS"]
    sh.cd(tmp_path)
    after = sh.env()
    assert after["CLAUDE_CODE_EXTRA_BODY"] == USER_BODY
    assert after["ANTHROPIC_CUSTOM_HEADERS"] == USER_HEADERS
    assert "ANTHROPIC_AUTH_TOKEN" not in after
    moving = ("_", "PWD", "OLDPWD")
    assert {k: v for k, v in after.items() if k not in moving} == {
        k: v for k, v in outside.items() if k not in moving}


@pytest.mark.parametrize("kind", ["bash"])
def test_shell_without_users_body_unsets_on_leaving(
    kind: str, home: Home, shell_factory: Callable[..., Shell], tmp_path: Path
) -> None:
    name = f"route2-{kind}"
    ok(run(home, "key", "set", name, input=KEY + "\n"))
    proj = tmp_path / "p"
    proj.mkdir()
    (proj / ".orenv.toml").write_text(PROJECT_POLICY.format(key=name))
    ok(run(home, "allow", cwd=proj))
    sh = shell_factory(kind, env=SLOW_KEYRING_OK)
    sh.cd(proj)
    assert json.loads(sh.var("CLAUDE_CODE_EXTRA_BODY") or "{}")["provider"]["order"] == [
        "anthropic", "google-vertex"]
    sh.cd(tmp_path)
    env = sh.env()
    assert "CLAUDE_CODE_EXTRA_BODY" not in env and "ANTHROPIC_CUSTOM_HEADERS" not in env
