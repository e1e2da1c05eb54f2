"""The OpenRouter client against the loopback stand-in."""

from __future__ import annotations

import socket
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from standin import StandIn

from orenv.errors import NetworkError, OpenRouterError, OrenvError
from orenv.openrouter import OpenRouterClient, api_root


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as s:
        yield s


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TestApiRoot:
    @pytest.mark.parametrize(
        ("base", "root"),
        [
            ("https://openrouter.ai/api", "https://openrouter.ai/api/v1"),
            ("https://openrouter.ai/api/", "https://openrouter.ai/api/v1"),
            ("https://openrouter.ai/api/v1", "https://openrouter.ai/api/v1"),
            ("https://openrouter.ai/api/v1/", "https://openrouter.ai/api/v1"),
            ("http://127.0.0.1:8080/api", "http://127.0.0.1:8080/api/v1"),
        ],
    )
    def test_root(self, base: str, root: str) -> None:
        assert api_root(base) == root


class TestConstruction:
    def test_plain_http_only_for_loopback(self) -> None:
        with pytest.raises(OrenvError, match="plain http"):
            OpenRouterClient("http://example.com/api", "k")
        OpenRouterClient("http://localhost:1/api", "k")
        OpenRouterClient("http://[::1]:1/api", "k")

    @pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://x/api", "openrouter.ai/api"])
    def test_other_schemes_refused(self, url: str) -> None:
        with pytest.raises(OrenvError, match="http"):
            OpenRouterClient(url, "k")

    def test_userinfo_refused(self) -> None:
        with pytest.raises(OrenvError, match="user name"):
            OpenRouterClient("https://u:p@openrouter.ai/api", "k")

    @pytest.mark.parametrize("bad", ["sk-or-v1-abc\nX-Evil: 1", "sk-or-v1- spaced", "sk-ör"])
    def test_malformed_key_refused_without_echo(self, bad: str) -> None:
        with pytest.raises(OrenvError) as info:
            OpenRouterClient("https://openrouter.ai/api", bad)
        assert bad not in str(info.value)
        assert bad not in repr(info.value)

    def test_repr_has_no_key(self) -> None:
        key = "sk-or-v1-" + "ab" * 32
        client = OpenRouterClient("https://openrouter.ai/api", key)
        assert key not in repr(client)
        assert "ab" * 8 not in repr(client)
        assert not hasattr(client, "__dict__")  # slots: vars() cannot dump it either


class TestMethods:
    def test_key_info(self, standin: StandIn) -> None:
        info = OpenRouterClient(standin.base_url, standin.key).key_info()
        assert info["is_management_key"] is False
        assert info["limit"] is None and info["usage"] == 0
        req = standin.requests[-1]
        assert req["method"] == "GET" and req["path"] == "/api/v1/key"
        assert req["headers"]["authorization"] == f"Bearer {standin.key}"
        assert "x-api-key" not in req["headers"]

    def test_trailing_slash_and_v1_base(self, standin: StandIn) -> None:
        for base in (standin.base_url + "/", standin.base_url + "/v1"):
            OpenRouterClient(base, standin.key).key_info()
            assert standin.requests[-1]["path"] == "/api/v1/key"

    def test_models(self, standin: StandIn) -> None:
        client = OpenRouterClient(standin.base_url, None)
        every = client.models()
        tools = client.models(tools=True)
        assert "example/no-tools-model" in {m["id"] for m in every}
        assert "example/no-tools-model" not in {m["id"] for m in tools}
        assert {m["id"] for m in tools} < {m["id"] for m in every}
        assert standin.requests[-1]["path"] == "/api/v1/models?supported_parameters=tools"
        assert "authorization" not in standin.requests[-1]["headers"]

    def test_key_management_round_trip(self, standin: StandIn) -> None:
        mgmt = OpenRouterClient(standin.base_url, standin.management_key)
        created = mgmt.create_key("client-a", 20.0, "monthly")
        new_key, key_hash = created["key"], created["hash"]
        assert new_key.startswith("sk-or-v1-") and len(new_key) == 9 + 64
        assert created["limit"] == 20.0 and created["limit_reset"] == "monthly"
        body = standin.requests[-1]["body"]
        assert body == {"name": "client-a", "limit": 20.0, "limit_reset": "monthly"}

        # The new key works at once, with its limit.
        info = OpenRouterClient(standin.base_url, new_key).key_info()
        assert info["limit"] == 20.0 and info["limit_remaining"] == 20.0

        listed = mgmt.list_keys()
        assert key_hash in {k["hash"] for k in listed}
        assert all("key" not in k for k in listed)
        assert mgmt.get_key(key_hash)["name"] == "client-a"

        updated = mgmt.update_key(key_hash, disabled=True, limit=5)
        assert updated["disabled"] is True and updated["limit"] == 5
        assert standin.requests[-1]["method"] == "PATCH"
        with pytest.raises(OpenRouterError) as info_exc:
            OpenRouterClient(standin.base_url, new_key).key_info()
        assert info_exc.value.status == 401

        mgmt.delete_key(key_hash)
        assert standin.requests[-1]["method"] == "DELETE"
        with pytest.raises(OpenRouterError) as gone:
            mgmt.get_key(key_hash)
        assert gone.value.status == 404

    def test_create_key_with_expiry_and_no_limit(self, standin: StandIn) -> None:
        mgmt = OpenRouterClient(standin.base_url, standin.management_key)
        created = mgmt.create_key("x", None, None, expires_at="2030-01-01T00:00:00Z")
        assert created["limit"] is None and created["expires_at"] == "2030-01-01T00:00:00Z"

    def test_create_key_validates_locally(self, standin: StandIn) -> None:
        mgmt = OpenRouterClient(standin.base_url, standin.management_key)
        with pytest.raises(OrenvError, match="daily"):
            mgmt.create_key("x", 1, "hourly")
        with pytest.raises(OrenvError, match="limit"):
            mgmt.create_key("x", -1, None)
        assert standin.requests == []

    def test_credits(self, standin: StandIn) -> None:
        data = OpenRouterClient(standin.base_url, standin.management_key).credits()
        assert data == {"total_credits": 100.0, "total_usage": 0.0}

    def test_management_needs_management_key(self, standin: StandIn) -> None:
        client = OpenRouterClient(standin.base_url, standin.key)
        for call in (client.list_keys, client.credits, lambda: client.create_key("x")):
            with pytest.raises(OpenRouterError) as info:
                call()
            assert info.value.status == 403
            assert "management" in str(info.value)

    def test_hash_is_quoted_in_path(self, standin: StandIn) -> None:
        mgmt = OpenRouterClient(standin.base_url, standin.management_key)
        with pytest.raises(OpenRouterError):
            mgmt.get_key("../credits")
        assert standin.requests[-1]["path"] == "/api/v1/keys/..%2Fcredits"


KEY = "sk-or-v1-" + "c0ffee" * 10 + "beef"  # recognisable, never to be seen in an error


def _texts(exc: BaseException) -> list[str]:
    """str/repr of *exc* and of every exception chained to it, plus the traceback."""
    out = ["".join(traceback.format_exception(exc))]
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        out += [str(item), repr(item), repr(item.args)]
        out += [repr(v) for v in vars(item).values()] if hasattr(item, "__dict__") else []
        stack += [item.__cause__, item.__context__]
    return out


def _assert_no_key(exc: BaseException) -> None:
    for text in _texts(exc):
        assert KEY not in text
        assert KEY[9:] not in text
    assert exc.__cause__ is None and exc.__context__ is None


class TestErrors:
    @pytest.fixture
    def client(self, standin: StandIn) -> OpenRouterClient:
        standin.add_key(KEY, name="recognisable")
        return OpenRouterClient(standin.base_url, KEY)

    @pytest.mark.parametrize(
        ("status", "words"),
        [
            (401, "rejected the key (401): check it with `orenv key set NAME`"),
            (402, "out of credits / limit reached"),
            (429, "rate limited, try again later"),
        ],
    )
    def test_fixed_messages(
        self, standin: StandIn, client: OpenRouterClient, status: int, words: str
    ) -> None:
        standin.fail_next(status)
        with pytest.raises(OpenRouterError) as info:
            client.key_info()
        assert info.value.status == status
        assert words in str(info.value)
        _assert_no_key(info.value)

    def test_unknown_key_is_401(self, standin: StandIn) -> None:
        other = "sk-or-v1-" + "d" * 64
        with pytest.raises(OpenRouterError) as info:
            OpenRouterClient(standin.base_url, other).key_info()
        assert info.value.status == 401
        assert other not in "".join(traceback.format_exception(info.value))

    def test_other_status_uses_api_message_on_one_line(
        self, standin: StandIn, client: OpenRouterClient
    ) -> None:
        standin.fail_next(500, message="upstream\nexploded " + "x" * 400)
        with pytest.raises(OpenRouterError) as info:
            client.key_info()
        msg = str(info.value)
        assert info.value.status == 500
        assert "\n" not in msg and "upstream exploded" in msg and "500" in msg
        assert len(msg) <= 260
        _assert_no_key(info.value)

    def test_api_message_echoing_the_key_is_scrubbed(
        self, standin: StandIn, client: OpenRouterClient
    ) -> None:
        standin.fail_next(400, message=f"bad token {KEY}")
        with pytest.raises(OpenRouterError) as info:
            client.key_info()
        assert "[redacted]" in str(info.value)
        _assert_no_key(info.value)

    def test_unknown_path_is_404(self, standin: StandIn, client: OpenRouterClient) -> None:
        with pytest.raises(OpenRouterError) as info:
            OpenRouterClient(standin.url + "/nothing", KEY).key_info()
        assert info.value.status == 404
        _assert_no_key(info.value)

    def test_connection_refused(self) -> None:
        port = closed_port()
        with pytest.raises(NetworkError) as info:
            OpenRouterClient(f"http://127.0.0.1:{port}/api", KEY).key_info()
        assert not isinstance(info.value, OpenRouterError)
        assert str(info.value) == (
            f"cannot reach 127.0.0.1:{port}: connection refused; check your network or base_url"
        )
        _assert_no_key(info.value)

    def test_dns_failure(self) -> None:
        with pytest.raises(NetworkError) as info:
            OpenRouterClient("https://no-such-host.invalid/api", KEY, timeout=3).key_info()
        assert "cannot reach no-such-host.invalid" in str(info.value)
        _assert_no_key(info.value)

    def test_timeout(self, standin: StandIn) -> None:
        standin.add_key(KEY)
        standin.delay = 2.0
        start = time.monotonic()
        with pytest.raises(NetworkError) as info:
            OpenRouterClient(standin.base_url, KEY, timeout=0.3).key_info()
        assert time.monotonic() - start < 1.5
        assert "timed out after 0.3s" in str(info.value)
        _assert_no_key(info.value)

    def test_redirect_not_followed(self, standin: StandIn, client: OpenRouterClient) -> None:
        standin.fail_next(307, message="elsewhere")
        with pytest.raises(OpenRouterError) as info:
            client.key_info()
        assert info.value.status == 307
        assert len(standin.requests) == 1
        _assert_no_key(info.value)

    @pytest.mark.parametrize(
        "call",
        [
            lambda c: c.key_info(),
            lambda c: c.models(tools=True),
            lambda c: c.list_keys(),
            lambda c: c.create_key("n", 1, "daily"),
            lambda c: c.get_key("h"),
            lambda c: c.update_key("h", disabled=True),
            lambda c: c.delete_key("h"),
            lambda c: c.credits(),
        ],
    )
    @pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 429, 500, 502, 503])
    def test_every_method_and_status_keeps_the_key_out(
        self,
        standin: StandIn,
        client: OpenRouterClient,
        call: Callable[[OpenRouterClient], Any],
        status: int,
    ) -> None:
        standin.fail_next(status, message=f"something about {KEY}")
        with pytest.raises(OpenRouterError) as info:
            call(client)
        assert info.value.status == status
        _assert_no_key(info.value)
