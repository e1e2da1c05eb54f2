"""The model catalogue: conversion, cache, variant suffixes, checks."""

from __future__ import annotations

import json
import os
import socket
import stat
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standin import StandIn

from orenv import models as m
from orenv.errors import NetworkError, OpenRouterError
from orenv.models import (
    VARIANT_SUFFIXES,
    Model,
    base_model_id,
    cache_file,
    cached_models,
    check_model,
    load_models,
    model_from_api,
)


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as s:
        yield s


def model_requests(s: StandIn) -> int:
    return sum(1 for r in s.requests if r["path"].startswith("/api/v1/models"))


class TestConversion:
    def test_prices_per_million_tokens(self) -> None:
        model = model_from_api(
            {
                "id": "anthropic/claude-sonnet-4.5",
                "name": "Claude Sonnet 4.5",
                "context_length": 1000000,
                "pricing": {"prompt": "0.000003", "completion": "0.000015"},
                "supported_parameters": ["tools", "max_tokens"],
            }
        )
        assert model == Model(
            "anthropic/claude-sonnet-4.5", "Claude Sonnet 4.5", 1000000, 3.0, 15.0, True
        )

    def test_odd_entries(self) -> None:
        assert model_from_api({"name": "no id"}) is None
        model = model_from_api({"id": "openrouter/auto", "pricing": {"prompt": "-1"}})
        assert model is not None
        assert model.name == "openrouter/auto"
        assert model.prompt_price_per_mtok is None and model.completion_price_per_mtok is None
        assert model.context_length is None and model.supports_tools is False
        bad = model_from_api({"id": "x", "pricing": {"prompt": "abc"}, "context_length": "9"})
        assert bad is not None and bad.prompt_price_per_mtok is None and bad.context_length is None

    def test_frozen(self) -> None:
        model = Model("a/b", "B", 1, 0.0, 0.0, True)
        with pytest.raises(AttributeError):
            model.id = "c/d"  # type: ignore[misc]


class TestLoad:
    def test_fetch_and_cache(self, standin: StandIn) -> None:
        assert cached_models() is None
        got = load_models(standin.base_url, standin.key)
        ids = {x.id for x in got}
        assert {"anthropic/claude-sonnet-4.5", "example/no-tools-model"} <= ids
        sonnet = next(x for x in got if x.id == "anthropic/claude-sonnet-4.5")
        assert sonnet.prompt_price_per_mtok == 3.0 and sonnet.completion_price_per_mtok == 15.0
        assert sonnet.supports_tools
        assert not next(x for x in got if x.id == "example/no-tools-model").supports_tools

        path = cache_file()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert standin.key not in path.read_text()
        assert cached_models() == got
        assert cached_models(standin.base_url) == got
        assert cached_models("https://openrouter.ai/api") is None
        # No temporary files left behind.
        assert [p.name for p in path.parent.iterdir()] == ["models.json"]

    def test_ttl_and_refresh(self, standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
        now = [1_000_000.0]
        monkeypatch.setattr(m.time, "time", lambda: now[0])
        load_models(standin.base_url, None)
        assert model_requests(standin) == 1
        now[0] += 100
        load_models(standin.base_url, None)
        assert model_requests(standin) == 1  # fresh cache
        load_models(standin.base_url, None, refresh=True)
        assert model_requests(standin) == 2
        now[0] += 3599
        load_models(standin.base_url, None)
        assert model_requests(standin) == 2
        now[0] += 2
        load_models(standin.base_url, None)
        assert model_requests(standin) == 3  # expired
        load_models(standin.base_url, None, ttl=0)
        assert model_requests(standin) == 4
        now[0] -= 10_000  # clock went back: the cache is from the future, refetch
        load_models(standin.base_url, None)
        assert model_requests(standin) == 5

    def test_new_catalogue_replaces_cache(self, standin: StandIn) -> None:
        load_models(standin.base_url, None)
        standin.models = standin.models[:2]
        assert len(load_models(standin.base_url, None, refresh=True)) == 2
        assert len(cached_models() or []) == 2

    def test_tools_only(self, standin: StandIn) -> None:
        tools = load_models(standin.base_url, None, tools_only=True)
        assert tools and all(x.supports_tools for x in tools)
        assert "example/no-tools-model" not in {x.id for x in tools}
        # The cache keeps the whole list.
        assert "example/no-tools-model" in {x.id for x in cached_models() or []}

    def test_other_base_url_is_a_miss(self, standin: StandIn) -> None:
        load_models(standin.base_url, None)
        with StandIn() as other:
            load_models(other.base_url, None)
            assert model_requests(other) == 1

    def test_stale_cache_when_offline(self, standin: StandIn) -> None:
        first = load_models(standin.base_url, None)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        base = f"http://127.0.0.1:{port}/api"
        data = json.loads(cache_file().read_text())
        data["api_root"] = base + "/v1"
        data["fetched_at"] = 0
        cache_file().write_text(json.dumps(data))
        assert load_models(base, None) == first  # stale but better than nothing
        with pytest.raises(NetworkError):
            load_models(base, None, refresh=True)

    def test_http_error_is_raised_not_hidden(self, standin: StandIn) -> None:
        load_models(standin.base_url, None)
        standin.fail_next(500)
        with pytest.raises(OpenRouterError):
            load_models(standin.base_url, None, ttl=0)

    def test_no_cache_and_offline_raises(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        with pytest.raises(NetworkError):
            load_models(f"http://127.0.0.1:{port}/api", None)

    @pytest.mark.parametrize(
        "content",
        [
            "",
            "not json",
            "[]",
            '{"version": 99, "models": []}',
            '{"version": 1, "fetched_at": 1, "models": [{"id": 1, "bogus": 2}]}',
        ],
    )
    def test_corrupt_cache_is_ignored(self, standin: StandIn, content: str) -> None:
        cache_file().parent.mkdir(parents=True, exist_ok=True)
        cache_file().write_text(content)
        assert cached_models() is None
        assert load_models(standin.base_url, None)
        assert cached_models()

    def test_cache_dir_private(self, standin: StandIn) -> None:
        load_models(standin.base_url, None)
        mode = stat.S_IMODE(os.stat(cache_file().parent).st_mode)
        assert mode == 0o700


ids = st.from_regex(r"[a-z0-9][a-z0-9-]{0,15}/[a-z0-9][a-z0-9.\-]{0,30}", fullmatch=True)


class TestSuffixes:
    @given(ids, st.lists(st.sampled_from(VARIANT_SUFFIXES), min_size=1, max_size=2))
    def test_suffix_stripped(self, base: str, suffixes: list[str]) -> None:
        assert base_model_id(base + "".join(suffixes)) == base

    @given(ids)
    def test_plain_unchanged(self, base: str) -> None:
        assert base_model_id(base) == base

    @given(st.from_regex(r"@preset/[a-z0-9-]{1,20}(:free|:nitro)?", fullmatch=True))
    def test_presets_unchanged(self, preset: str) -> None:
        assert base_model_id(preset) == preset

    def test_unknown_suffix_kept(self) -> None:
        assert (
            base_model_id("anthropic/claude-3.5-sonnet:beta") == "anthropic/claude-3.5-sonnet:beta"
        )
        assert base_model_id(":free") == ":free"


CATALOGUE = [
    Model("anthropic/claude-sonnet-4.5", "Sonnet", 1, 3.0, 15.0, True),
    Model("example/no-tools-model", "No tools", 1, 0.1, 0.2, False),
    Model("meta-llama/llama-3.3-70b-instruct:free", "Llama free", 1, 0.0, 0.0, True),
]


class TestCheck:
    def test_exists_with_tools(self) -> None:
        assert check_model("anthropic/claude-sonnet-4.5", CATALOGUE)[0]

    def test_variant_of_existing(self) -> None:
        ok, why = check_model("anthropic/claude-sonnet-4.5:nitro", CATALOGUE)
        assert ok and "variant" in why

    def test_catalogue_id_with_suffix(self) -> None:
        assert check_model("meta-llama/llama-3.3-70b-instruct:free", CATALOGUE)[0]

    def test_no_tools(self) -> None:
        ok, why = check_model("example/no-tools-model", CATALOGUE)
        assert not ok and "tool" in why

    def test_missing_with_suggestion(self) -> None:
        ok, why = check_model("anthropic/claude-sonet-4.5", CATALOGUE)
        assert not ok and "not in" in why and "anthropic/claude-sonnet-4.5" in why

    def test_preset(self) -> None:
        ok, why = check_model("@preset/my-coder", CATALOGUE)
        assert ok and "preset" in why

    def test_empty(self) -> None:
        assert not check_model("", CATALOGUE)[0]
        assert not check_model("a/b", [])[0]

    def test_against_standin_catalogue(self, standin: StandIn) -> None:
        catalogue = load_models(standin.base_url, None)
        for model_id in ("anthropic/claude-opus-4.5", "anthropic/claude-haiku-4.5:floor"):
            assert check_model(model_id, catalogue)[0], model_id
        assert not check_model("example/no-tools-model:nitro", catalogue)[0]


def test_newest_of_each_family_in_the_form_claude_code_reads() -> None:
    from orenv.models import newest_per_family

    def m(model_id: str, tools: bool = True) -> Model:
        return Model(model_id, model_id, 200000, 1.0, 2.0, tools)

    catalogue = [
        m("anthropic/claude-opus-4.5"), m("anthropic/claude-opus-4.10"),
        m("anthropic/claude-opus-4.9"),
        m("anthropic/claude-sonnet-4.6"), m("anthropic/claude-sonnet-5", tools=False),
        m("anthropic/claude-haiku-4.5"), m("anthropic/claude-haiku-5:free"),
        m("~anthropic/claude-haiku-latest"), m("anthropic/claude-4.6-sonnet-20260217"),
        m("anthropic/claude-fable-5"), m("openai/gpt-5"),
    ]
    assert newest_per_family(catalogue) == {
        "opus": "anthropic/claude-opus-4.10",  # numbers, not strings: 4.10 > 4.9
        "sonnet": "anthropic/claude-sonnet-4.6",  # 5 cannot use tools
        "haiku": "anthropic/claude-haiku-4.5",  # variants, aliases and dated slugs left out
        "fable": "anthropic/claude-fable-5",
    }
