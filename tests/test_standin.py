"""The loopback OpenRouter stand-in itself, and the real Claude Code CLI against it."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from harness import REPO_ROOT, SYSTEM_PATH
from standin import DEFAULT_TEXT, MESSAGE_COST_USD, StandIn

CLAUDE = REPO_ROOT / ".tools" / "node" / "node_modules" / ".bin" / "claude"
SONNET = "anthropic/claude-sonnet-4.5"


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as s:
        yield s


def call(
    s: StandIn,
    method: str,
    path: str,
    body: Any = None,
    key: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    try:
        hdrs = dict(headers or {})
        if key:
            hdrs["Authorization"] = f"Bearer {key}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def parse_sse(raw: str) -> list[tuple[str, dict[str, Any]]]:
    """Events per the SSE spec: fields up to a blank line; ``data`` lines joined."""
    events: list[tuple[str, dict[str, Any]]] = []
    name, data = "message", []
    for line in raw.split("\n"):
        line = line.removesuffix("\r")
        if line == "":
            if data:
                events.append((name, json.loads("\n".join(data))))
            name, data = "message", []
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
    assert not data, "stream ended inside an event"
    return events


MESSAGE = {
    "model": SONNET,
    "max_tokens": 100,
    "messages": [{"role": "user", "content": "hi"}],
}


class TestMessages:
    def test_streaming_is_anthropic_sse(self, standin: StandIn) -> None:
        status, headers, raw = call(
            standin,
            "POST",
            "/api/v1/messages?beta=true",
            {**MESSAGE, "stream": True},
            key=standin.key,
        )
        assert status == 200
        assert headers["content-type"].startswith("text/event-stream")
        events = parse_sse(raw.decode())
        names = [n for n, _ in events if n != "ping"]
        assert names == [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
        for name, data in events:
            assert data["type"] == name
        start = events[0][1]["message"]
        assert start["type"] == "message" and start["role"] == "assistant"
        assert start["content"] == [] and start["model"] == SONNET
        assert start["id"].startswith("msg_") and start["stop_reason"] is None
        assert "input_tokens" in start["usage"] and "output_tokens" in start["usage"]
        text = "".join(
            d["delta"]["text"]
            for n, d in events
            if n == "content_block_delta" and d["delta"]["type"] == "text_delta"
        )
        assert text == DEFAULT_TEXT
        delta = next(d for n, d in events if n == "message_delta")
        assert delta["delta"]["stop_reason"] == "end_turn"
        assert delta["usage"]["output_tokens"] >= 1

    def test_non_streaming(self, standin: StandIn) -> None:
        standin.text = "custom reply"
        status, _, raw = call(standin, "POST", "/api/v1/messages", MESSAGE, key=standin.key)
        assert status == 200
        msg = json.loads(raw)
        assert msg["type"] == "message" and msg["role"] == "assistant"
        assert msg["model"] == SONNET and msg["stop_reason"] == "end_turn"
        assert msg["content"] == [{"type": "text", "text": "custom reply"}]

    def test_keep_alive_after_stream(self, standin: StandIn) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", standin.port, timeout=10)
        try:
            for _ in range(2):
                conn.request(
                    "POST",
                    "/api/v1/messages",
                    json.dumps({**MESSAGE, "stream": True}),
                    {"Authorization": f"Bearer {standin.key}"},
                )
                resp = conn.getresponse()
                assert resp.status == 200
                assert "message_stop" in resp.read().decode()
        finally:
            conn.close()

    @pytest.mark.parametrize("auth", [None, "Bearer sk-or-v1-" + "0" * 64, "Basic abc"])
    def test_auth_errors_in_anthropic_shape(self, standin: StandIn, auth: str | None) -> None:
        headers = {"Authorization": auth} if auth else {}
        status, _, raw = call(standin, "POST", "/api/v1/messages", MESSAGE, headers=headers)
        assert status == 401
        body = json.loads(raw)
        assert body["type"] == "error"
        assert body["error"]["type"] == "authentication_error" and body["error"]["message"]

    def test_x_api_key_alone_is_not_enough(self, standin: StandIn) -> None:
        status, _, _ = call(
            standin, "POST", "/api/v1/messages", MESSAGE, headers={"x-api-key": standin.key}
        )
        assert status == 401
        assert standin.requests[-1]["headers"]["x-api-key"] == standin.key

    def test_management_key_cannot_chat(self, standin: StandIn) -> None:
        status, _, raw = call(
            standin, "POST", "/api/v1/messages", MESSAGE, key=standin.management_key
        )
        assert status == 403 and json.loads(raw)["error"]["type"] == "permission_error"

    def test_count_tokens(self, standin: StandIn) -> None:
        status, _, raw = call(
            standin, "POST", "/api/v1/messages/count_tokens?beta=true", MESSAGE, key=standin.key
        )
        assert status == 200 and json.loads(raw) == {"input_tokens": 10}

    def test_usage_grows_and_limit_gives_402(self, standin: StandIn) -> None:
        key = standin.add_key(limit=MESSAGE_COST_USD * 2)
        for _ in range(2):
            assert call(standin, "POST", "/api/v1/messages", MESSAGE, key=key)[0] == 200
        _, _, raw = call(standin, "GET", "/api/v1/key", key=key)
        data = json.loads(raw)["data"]
        assert data["usage"] == pytest.approx(2 * MESSAGE_COST_USD)
        assert data["usage_daily"] == data["usage_weekly"] == data["usage_monthly"] == data["usage"]
        assert data["limit_remaining"] == pytest.approx(0)
        status, _, raw = call(standin, "POST", "/api/v1/messages", MESSAGE, key=key)
        assert status == 402 and json.loads(raw)["error"]["type"] == "billing_error"

    def test_bad_json_and_missing_model(self, standin: StandIn) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", standin.port, timeout=10)
        conn.request(
            "POST", "/api/v1/messages", b"{nope", {"Authorization": f"Bearer {standin.key}"}
        )
        assert conn.getresponse().status == 400
        conn.close()
        assert call(standin, "POST", "/api/v1/messages", {"x": 1}, key=standin.key)[0] == 400


class TestOpenRouterEndpoints:
    def test_key_shape(self, standin: StandIn) -> None:
        status, _, raw = call(standin, "GET", "/api/v1/key", key=standin.key)
        assert status == 200
        data = json.loads(raw)["data"]
        for field in (
            "label",
            "limit",
            "limit_reset",
            "limit_remaining",
            "usage",
            "usage_daily",
            "usage_weekly",
            "usage_monthly",
            "is_free_tier",
            "is_management_key",
            "expires_at",
        ):
            assert field in data
        assert call(standin, "GET", "/api/v1/key")[0] == 401

    def test_models_filter(self, standin: StandIn) -> None:
        _, _, raw = call(standin, "GET", "/api/v1/models")
        every = json.loads(raw)["data"]
        _, _, raw = call(standin, "GET", "/api/v1/models?supported_parameters=tools")
        tools = json.loads(raw)["data"]
        assert len(tools) == len(every) - 1
        assert all("tools" in x["supported_parameters"] for x in tools)
        for x in every:
            assert {"id", "name", "context_length", "pricing", "supported_parameters"} <= set(x)
            float(x["pricing"]["prompt"]), float(x["pricing"]["completion"])

    def test_created_key_format_and_only_shown_once(self, standin: StandIn) -> None:
        status, _, raw = call(
            standin,
            "POST",
            "/api/v1/keys",
            {"name": "p", "limit": 5, "limit_reset": "weekly"},
            key=standin.management_key,
        )
        assert status in (200, 201)
        reply = json.loads(raw)
        key = reply["key"]
        assert key.startswith("sk-or-v1-") and len(key) == 73
        int(key[9:], 16)
        assert key in standin.keys and standin.keys[key]["limit"] == 5
        key_hash = reply["data"]["hash"]
        for path in ("/api/v1/keys", f"/api/v1/keys/{key_hash}"):
            _, _, listed = call(standin, "GET", path, key=standin.management_key)
            assert key.encode() not in listed

    def test_key_management_needs_management_key(self, standin: StandIn) -> None:
        for method, path in (
            ("GET", "/api/v1/keys"),
            ("POST", "/api/v1/keys"),
            ("GET", "/api/v1/keys/abc"),
            ("DELETE", "/api/v1/keys/abc"),
            ("GET", "/api/v1/credits"),
        ):
            assert call(standin, method, path, {"name": "x"}, key=standin.key)[0] == 403
            assert call(standin, method, path, {"name": "x"})[0] == 401

    @pytest.mark.parametrize(
        "body",
        [{}, {"name": ""}, {"name": "x", "limit": -1}, {"name": "x", "limit_reset": "hourly"}],
    )
    def test_create_key_validation(self, standin: StandIn, body: dict[str, Any]) -> None:
        assert call(standin, "POST", "/api/v1/keys", body, key=standin.management_key)[0] == 400

    def test_unknown_path_404_json(self, standin: StandIn) -> None:
        status, headers, raw = call(standin, "GET", "/api/v1/nope", key=standin.key)
        assert status == 404 and headers["content-type"] == "application/json"
        assert json.loads(raw)["error"]["code"] == 404

    def test_head_base_probe(self, standin: StandIn) -> None:
        assert call(standin, "HEAD", "/api")[0] == 200


class TestControls:
    def test_fail_next(self, standin: StandIn) -> None:
        standin.fail_next(429, times=2)
        statuses = [call(standin, "GET", "/api/v1/key", key=standin.key)[0] for _ in range(3)]
        assert statuses == [429, 429, 200]
        standin.fail_next(500, path="/messages")
        assert call(standin, "GET", "/api/v1/key", key=standin.key)[0] == 200
        status, _, raw = call(standin, "POST", "/api/v1/messages", MESSAGE, key=standin.key)
        assert status == 500 and json.loads(raw)["error"]["type"] == "api_error"

    def test_openrouter_error_shape(self, standin: StandIn) -> None:
        standin.fail_next(402, message="no money")
        _, _, raw = call(standin, "GET", "/api/v1/key", key=standin.key)
        assert json.loads(raw) == {"error": {"code": 402, "message": "no money"}}

    def test_delay(self, standin: StandIn) -> None:
        standin.delay = 0.3
        start = time.monotonic()
        call(standin, "GET", "/api/v1/models")
        assert time.monotonic() - start >= 0.3

    def test_stop_interrupts_delay_and_idle_connections(self) -> None:
        s = StandIn().start()
        s.delay = 30
        idle = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
        idle.connect()
        errors: list[BaseException] = []

        def slow_request() -> None:
            try:
                call(s, "GET", "/api/v1/models")
            except (OSError, http.client.HTTPException) as exc:
                errors.append(exc)  # the stand-in hangs up on stop, as intended

        t = threading.Thread(target=slow_request, daemon=True)
        t.start()
        while not s.requests:
            time.sleep(0.01)
        start = time.monotonic()
        s.stop()
        assert time.monotonic() - start < 3
        idle.close()
        t.join(5)
        assert not t.is_alive() and errors

    def test_records_requests_concurrently(self, standin: StandIn, tmp_path: Path) -> None:
        standin.log = tmp_path / "log.jsonl"
        threads = [
            threading.Thread(target=call, args=(standin, "GET", f"/api/v1/models?n={i}"))
            for i in range(20)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(r["path"] for r in standin.requests) == sorted(
            f"/api/v1/models?n={i}" for i in range(20)
        )
        lines = [json.loads(x) for x in standin.log.read_text().splitlines()]
        assert len(lines) == 20 and {"method", "path", "headers", "body"} <= set(lines[0])

    def test_records_headers_and_body(self, standin: StandIn) -> None:
        call(
            standin,
            "POST",
            "/api/v1/messages?beta=true",
            MESSAGE,
            key=standin.key,
            headers={"X-Title": "t"},
        )
        req = standin.messages_requests()[-1]
        assert req["method"] == "POST" and req["path"] == "/api/v1/messages?beta=true"
        assert req["headers"]["authorization"] == f"Bearer {standin.key}"
        assert req["headers"]["x-title"] == "t"
        assert req["body"] == MESSAGE


def test_script_mode(tmp_path: Path) -> None:
    log = tmp_path / "req.jsonl"
    key = "sk-or-v1-" + "1" * 64
    proc = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).with_name("standin.py")),
            "--port",
            "0",
            "--log",
            str(log),
            "--key",
            key,
            "--text",
            "scripted",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        keys = json.loads(proc.stdout.readline())
        assert keys["key"] == key and keys["management_key"] == ""
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request(
            "POST", "/api/v1/messages", json.dumps(MESSAGE), {"Authorization": f"Bearer {key}"}
        )
        resp = conn.getresponse()
        assert json.loads(resp.read())["content"][0]["text"] == "scripted"
        conn.close()
        assert json.loads(log.read_text().splitlines()[0])["path"] == "/api/v1/messages"
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout:
            proc.stdout.close()


def test_real_claude_code_cli(standin: StandIn, tmp_path: Path) -> None:
    """The real `claude -p` talks to the stand-in as OpenRouter's guide sets it up."""
    if not CLAUDE.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CLAUDE.relative_to(REPO_ROOT)} missing: run `make deps`")
        pytest.skip("Claude Code is not installed under .tools (make deps installs it)")
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": os.pathsep.join([str(CLAUDE.parent), SYSTEM_PATH]),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "ANTHROPIC_BASE_URL": standin.base_url,
        "ANTHROPIC_AUTH_TOKEN": standin.key,
        "ANTHROPIC_API_KEY": "",
        "ANTHROPIC_DEFAULT_SONNET_MODEL": SONNET,
        "ANTHROPIC_MODEL": "sonnet",
    }
    proc = subprocess.run(
        [str(CLAUDE), "-p", "hi"],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert DEFAULT_TEXT in proc.stdout
    posts = standin.messages_requests()
    assert posts, [r["path"] for r in standin.requests]
    for req in posts:
        assert req["path"] == "/api/v1/messages?beta=true"
        assert req["headers"]["authorization"] == f"Bearer {standin.key}"
        assert "x-api-key" not in req["headers"]
        assert req["body"]["model"] == SONNET
        assert req["body"]["stream"] is True
    assert standin.usage(standin.key) > 0
