"""A loopback OpenRouter stand-in for the tests (standard library only).

In a test::

    with StandIn() as s:
        client = OpenRouterClient(s.base_url, s.key)
        ...
        assert s.requests[-1]["path"] == "/api/v1/key"

As a script (for shells and the real Claude Code CLI)::

    python tests/standin.py --port 0 --log requests.jsonl

prints the port on the first line of stdout, then one JSON line with the
valid keys, and serves until interrupted.

Endpoints live under ``/api/v1`` (Claude Code's base URL is ``<url>/api``):
``POST messages`` (Anthropic Messages API, SSE when ``stream``),
``POST messages/count_tokens``, ``GET key``, ``GET models``, ``GET|POST keys``,
``GET|PATCH|DELETE keys/{hash}`` and ``GET credits``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import secrets
import socket
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["DEFAULT_TEXT", "MESSAGE_COST_USD", "MODELS", "StandIn", "new_key"]

DEFAULT_TEXT = "hello from the stand-in"
MESSAGE_COST_USD = 0.001  # added to a key's usage for every /messages request
PREFIX = "/api/v1"


def new_key() -> str:
    """A fresh key in OpenRouter's format: ``sk-or-v1-`` + 64 hex."""
    return "sk-or-v1-" + secrets.token_hex(32)


def _model(
    id_: str, name: str, ctx: int, prompt: str, completion: str, tools: bool
) -> dict[str, Any]:
    params = ["max_tokens", "temperature", "top_p", "stop", "response_format"]
    if tools:
        params += ["tools", "tool_choice"]
    return {
        "id": id_,
        "canonical_slug": id_,
        "name": name,
        "created": 1_750_000_000,
        "description": f"{name} (stand-in entry)",
        "context_length": ctx,
        "architecture": {
            "modality": "text->text",
            "input_modalities": ["text"],
            "output_modalities": ["text"],
            "tokenizer": "Other",
        },
        "pricing": {
            "prompt": prompt,
            "completion": completion,
            "request": "0",
            "image": "0",
            "web_search": "0",
            "internal_reasoning": "0",
        },
        "top_provider": {"context_length": ctx, "max_completion_tokens": 64000},
        "supported_parameters": params,
    }


MODELS: list[dict[str, Any]] = [
    _model(
        "anthropic/claude-opus-4.5",
        "Anthropic: Claude Opus 4.5",
        200000,
        "0.000005",
        "0.000025",
        True,
    ),
    _model(
        "anthropic/claude-sonnet-4.5",
        "Anthropic: Claude Sonnet 4.5",
        1000000,
        "0.000003",
        "0.000015",
        True,
    ),
    _model(
        "anthropic/claude-haiku-4.5",
        "Anthropic: Claude Haiku 4.5",
        200000,
        "0.000001",
        "0.000005",
        True,
    ),
    _model("openai/gpt-5", "OpenAI: GPT-5", 400000, "0.00000125", "0.00001", True),
    _model(
        "google/gemini-2.5-pro", "Google: Gemini 2.5 Pro", 1048576, "0.00000125", "0.00001", True
    ),
    _model(
        "meta-llama/llama-3.3-70b-instruct:free",
        "Meta: Llama 3.3 70B Instruct (free)",
        131072,
        "0",
        "0",
        True,
    ),
    _model(
        "example/no-tools-model", "Example: No Tools Model", 8192, "0.0000002", "0.0000004", False
    ),
]


def _has_tool_result(body: Any) -> bool:
    for msg in body.get("messages") or []:
        content = msg.get("content") if isinstance(msg, dict) else None
        if isinstance(content, list) and any(
                isinstance(p, dict) and p.get("type") == "tool_result" for p in content):
            return True
    return False


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class _Reply(Exception):
    """Raised inside a handler to send a JSON reply and stop."""

    def __init__(self, status: int, payload: Any) -> None:
        super().__init__(status)
        self.status = status
        self.payload = payload


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True
    request_queue_size = 128  # bursts of parallel clients must not hit SYN retries
    standin: StandIn


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 30  # an idle keep-alive connection does not hold a thread forever

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet; requests are recorded instead

    def setup(self) -> None:
        super().setup()
        self.server.standin._track(self.connection, add=True)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.standin._track(self.connection, add=False)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        body: Any = None
        bad_json = False
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                bad_json = True
                body = raw.decode("utf-8", "replace")
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            lname = name.lower()
            headers[lname] = f"{headers[lname]}, {value}" if lname in headers else value
        s = self.server.standin
        s._record(
            {
                "method": self.command,
                "path": self.path,
                "headers": headers,
                "body": body,
                "time": time.time(),
            }
        )
        if s.delay > 0 and s._stopping.wait(s.delay):
            self.close_connection = True
            return
        route = urlsplit(self.path).path
        try:
            if bad_json:
                raise _Reply(400, s._error(route, 400, "request body is not valid JSON"))
            failure = s._take_failure(route)
            if failure is not None:
                status, message = failure
                raise _Reply(status, s._error(route, status, message))
            s._route(self, route, body)
        except _Reply as reply:
            self._send_json(reply.status, reply.payload)

    # -- replies -----------------------------------------------------------

    def _send_json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _send_sse(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("request-id", "req_" + uuid.uuid4().hex[:24])
        self.end_headers()
        for name, data in events:
            chunk = f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class StandIn:
    """The stand-in server; a context manager that serves from a thread.

    Attributes (change them freely from a test):
        keys: valid keys, key -> info (label, limit, usage…, is_management_key).
        key, management_key: one ordinary and one management key made at start.
        text: what ``/messages`` answers.
        delay: seconds each request waits before it is answered.
        requests: every request received, oldest first (see ``_record``).
    """

    def __init__(
        self,
        *,
        port: int = 0,
        text: str = DEFAULT_TEXT,
        log: str | Path | None = None,
        keys: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._failures: list[list[Any]] = []  # [status, remaining, message, path]
        self._thread: threading.Thread | None = None
        self.requests: list[dict[str, Any]] = []
        self.text = text
        self.delay = 0.0
        # {"name": "Bash", "input": {...}}: the first /messages answer asks
        # Claude Code to run this tool; the answer after its result is `text`.
        self.tool_use: dict[str, Any] | None = None
        self.total_credits = 100.0
        self.log = Path(log) if log else None
        self.models = [dict(m) for m in MODELS]
        self.keys: dict[str, dict[str, Any]] = {}
        if keys is None:
            self.key = self.add_key(name="stand-in user key")
            self.management_key = self.add_key(name="stand-in management key", management=True)
        else:
            for k, info in keys.items():
                self.add_key(k, **info)
            self.key = next((k for k, v in self.keys.items() if not v["is_management_key"]), "")
            self.management_key = next(
                (k for k, v in self.keys.items() if v["is_management_key"]), ""
            )
        self._server = _Server(("127.0.0.1", port), _Handler, bind_and_activate=True)
        self._server.standin = self

    # -- lifecycle ---------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What ``ANTHROPIC_BASE_URL`` / a policy's ``base_url`` should be."""
        return f"{self.url}/api"

    def start(self) -> StandIn:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"standin-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
            self._thread = None
        with self._lock:
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._server.server_close()  # joins the handler threads

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        try:
            self._server.serve_forever(poll_interval=0.2)
        finally:
            self.stop()

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    # -- test controls -----------------------------------------------------

    def add_key(
        self,
        key: str | None = None,
        *,
        name: str = "",
        limit: float | None = None,
        limit_reset: str | None = None,
        management: bool = False,
        expires_at: str | None = None,
        **extra: Any,
    ) -> str:
        """Make *key* (or a new one) valid; returns it."""
        key = key or new_key()
        if "is_management_key" in extra:
            management = bool(extra.pop("is_management_key"))
        info = {
            "name": name or f"key {len(self.keys) + 1}",
            "label": name or f"key {len(self.keys) + 1}",
            "hash": hashlib.sha256(key.encode()).hexdigest(),
            "limit": limit,
            "limit_reset": limit_reset,
            "usage": 0.0,
            "usage_daily": 0.0,
            "usage_weekly": 0.0,
            "usage_monthly": 0.0,
            "is_free_tier": False,
            "is_management_key": management,
            "disabled": False,
            "expires_at": expires_at,
            "created_at": _now(),
            "updated_at": None,
        }
        info.update(extra)
        with self._lock:
            self.keys[key] = info
        return key

    def fail_next(
        self, status: int, times: int = 1, *, message: str | None = None, path: str | None = None
    ) -> None:
        """Answer the next *times* requests (whose path contains *path*) with *status*."""
        with self._lock:
            self._failures.append([status, times, message, path])

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def messages_requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if urlsplit(r["path"]).path == f"{PREFIX}/messages"]

    def usage(self, key: str) -> float:
        with self._lock:
            return float(self.keys[key]["usage"])

    # -- internals ---------------------------------------------------------

    def _record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(entry)
            if self.log is not None:
                with self.log.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(entry) + "\n")

    def _take_failure(self, route: str) -> tuple[int, str] | None:
        with self._lock:
            for failure in self._failures:
                status, remaining, message, path = failure
                if path is not None and path not in route:
                    continue
                failure[1] = remaining - 1
                if failure[1] <= 0:
                    self._failures.remove(failure)
                return status, message or _DEFAULT_FAILURES.get(status, "stand-in failure")
        return None

    @staticmethod
    def _error(route: str, status: int, message: str) -> dict[str, Any]:
        if route.startswith(f"{PREFIX}/messages"):
            kind = _ANTHROPIC_ERROR_TYPES.get(status, "api_error")
            return {"type": "error", "error": {"type": kind, "message": message}}
        return {"error": {"code": status, "message": message}}

    def _auth(self, handler: _Handler, route: str, *, management: bool | None) -> tuple[str, dict]:
        """The key and its info; *management* True requires, False forbids one."""
        header = handler.headers.get("Authorization", "")
        token = header[7:].strip() if header[:7].lower() == "bearer " else ""
        with self._lock:
            info = self.keys.get(token) if token else None
        if info is None:
            msg = "No auth credentials found" if not token else "User not found."
            raise _Reply(401, self._error(route, 401, msg))
        if info.get("disabled"):
            raise _Reply(401, self._error(route, 401, "This key is disabled"))
        if management is True and not info["is_management_key"]:
            raise _Reply(403, self._error(route, 403, "Only management keys can do this"))
        if management is False and info["is_management_key"]:
            raise _Reply(
                403, self._error(route, 403, "Management keys cannot be used for completions")
            )
        return token, info

    @staticmethod
    def _public(info: dict[str, Any]) -> dict[str, Any]:
        out = dict(info)
        out["limit_remaining"] = (
            None if info["limit"] is None else max(0.0, info["limit"] - info["usage"])
        )
        return out

    def _route(self, h: _Handler, route: str, body: Any) -> None:
        method = h.command
        if method == "HEAD" and route.rstrip("/") in ("", "/api"):
            # Claude Code probes its base URL with an unauthenticated HEAD first.
            raise _Reply(200, {})
        if route == f"{PREFIX}/messages" and method == "POST":
            self._messages(h, route, body)
        elif route == f"{PREFIX}/messages/count_tokens" and method == "POST":
            self._auth(h, route, management=False)
            raise _Reply(200, {"input_tokens": 10})
        elif route == f"{PREFIX}/key" and method == "GET":
            _, info = self._auth(h, route, management=None)
            with self._lock:
                data = self._public(info)
            data.pop("hash", None)
            data.pop("name", None)
            raise _Reply(200, {"data": data})
        elif route == f"{PREFIX}/models" and method == "GET":
            query = parse_qs(urlsplit(h.path).query)
            wanted = [p for v in query.get("supported_parameters", []) for p in v.split(",") if p]
            data = [m for m in self.models if all(p in m["supported_parameters"] for p in wanted)]
            raise _Reply(200, {"data": data})
        elif route == f"{PREFIX}/keys" and method == "GET":
            # OpenRouter: the newest 100 keys; `offset` pages on; disabled keys
            # only with include_disabled=true.
            self._auth(h, route, management=True)
            query = parse_qs(urlsplit(h.path).query)
            offset = int((query.get("offset") or ["0"])[0] or 0)
            disabled = (query.get("include_disabled") or ["false"])[0] == "true"
            with self._lock:
                data = [self._public(i) for i in reversed(self.keys.values())
                        if not i["is_management_key"] and (disabled or not i["disabled"])]
            raise _Reply(200, {"data": data[offset:offset + 100]})
        elif route == f"{PREFIX}/keys" and method == "POST":
            self._auth(h, route, management=True)
            self._create_key(route, body)
        elif route.startswith(f"{PREFIX}/keys/") and method in ("GET", "PATCH", "DELETE"):
            self._auth(h, route, management=True)
            self._one_key(route, method, route[len(f"{PREFIX}/keys/") :], body)
        elif route == f"{PREFIX}/credits" and method == "GET":
            self._auth(h, route, management=True)
            with self._lock:
                used = sum(i["usage"] for i in self.keys.values())
            raise _Reply(200, {"data": {"total_credits": self.total_credits, "total_usage": used}})
        else:
            raise _Reply(404, self._error(route, 404, f"Not found: {method} {route}"))

    def _create_key(self, route: str, body: Any) -> None:
        if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"]:
            raise _Reply(400, self._error(route, 400, "name is required"))
        limit = body.get("limit")
        if limit is not None and (not isinstance(limit, int | float) or limit < 0):
            raise _Reply(400, self._error(route, 400, "limit must be a non-negative number"))
        reset = body.get("limit_reset")
        if reset not in (None, "daily", "weekly", "monthly"):
            raise _Reply(400, self._error(route, 400, "limit_reset must be daily|weekly|monthly"))
        byok = body.get("include_byok_in_limit")
        if byok is not None and not isinstance(byok, bool):
            raise _Reply(400, self._error(route, 400, "include_byok_in_limit must be a boolean"))
        key = self.add_key(
            name=body["name"],
            limit=None if limit is None else float(limit),
            limit_reset=reset,
            expires_at=body.get("expires_at"),
            include_byok_in_limit=bool(byok),
        )
        with self._lock:
            data = self._public(self.keys[key])
        raise _Reply(201, {"data": data, "key": key})

    def _one_key(self, route: str, method: str, key_hash: str, body: Any) -> None:
        with self._lock:
            found = [(k, i) for k, i in self.keys.items() if i["hash"] == key_hash]
            if not found or found[0][1]["is_management_key"]:
                raise _Reply(404, self._error(route, 404, "Key not found"))
            key, info = found[0]
            if method == "DELETE":
                del self.keys[key]
                raise _Reply(200, {"deleted": True})
            if method == "PATCH":
                if not isinstance(body, dict):
                    raise _Reply(400, self._error(route, 400, "a JSON object is required"))
                for field in body:
                    if field not in ("name", "disabled", "limit", "limit_reset"):
                        raise _Reply(400, self._error(route, 400, f"unknown field {field}"))
                info.update(body)
                if "name" in body:
                    info["label"] = body["name"]
                info["updated_at"] = _now()
            raise _Reply(200, {"data": self._public(info)})

    def _tool_use(self, h: _Handler, model: str, msg_id: str, tool: dict[str, Any], *,
                  stream: bool) -> None:
        block_id = "toolu_" + uuid.uuid4().hex[:20]
        block = {"type": "tool_use", "id": block_id, "name": tool["name"], "input": tool["input"]}
        if not stream:
            raise _Reply(200, {"id": msg_id, "type": "message", "role": "assistant",
                               "model": model, "content": [block], "stop_reason": "tool_use",
                               "stop_sequence": None,
                               "usage": {"input_tokens": 12, "output_tokens": 5}})
        h._send_sse([
            ("message_start", {"type": "message_start", "message": {
                "id": msg_id, "type": "message", "role": "assistant", "model": model,
                "content": [], "stop_reason": None, "stop_sequence": None,
                "usage": {"input_tokens": 12, "cache_creation_input_tokens": 0,
                          "cache_read_input_tokens": 0, "output_tokens": 1}}}),
            ("content_block_start", {"type": "content_block_start", "index": 0,
                                     "content_block": {**block, "input": {}}}),
            ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {
                "type": "input_json_delta", "partial_json": json.dumps(tool["input"])}}),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ("message_delta", {"type": "message_delta", "delta": {
                "stop_reason": "tool_use", "stop_sequence": None},
                "usage": {"output_tokens": 5}}),
            ("message_stop", {"type": "message_stop"}),
        ])

    def tool_results(self) -> list[str]:
        """The text of every tool_result Claude Code sent back (what the tool printed)."""
        out: list[str] = []
        for r in self.messages_requests():
            body = r.get("body")
            for msg in (body or {}).get("messages") or []:
                for part in msg.get("content") or [] if isinstance(msg, dict) else []:
                    if isinstance(part, dict) and part.get("type") == "tool_result":
                        content = part.get("content")
                        out.append(json.dumps(content) if not isinstance(content, str)
                                   else content)
        return out

    def _messages(self, h: _Handler, route: str, body: Any) -> None:
        _, info = self._auth(h, route, management=False)
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            raise _Reply(400, self._error(route, 400, "model: Field required"))
        with self._lock:
            if info["limit"] is not None and info["usage"] >= info["limit"]:
                raise _Reply(402, self._error(route, 402, "Key limit exceeded"))
            for field in ("usage", "usage_daily", "usage_weekly", "usage_monthly"):
                info[field] = round(info[field] + MESSAGE_COST_USD, 9)
        model = body["model"]
        text = self.text
        msg_id = "msg_" + uuid.uuid4().hex[:24]
        usage_in, usage_out = 12, max(1, len(text.split()))
        tool = self.tool_use
        if tool is not None and not _has_tool_result(body):
            # Ask Claude Code to run a tool first; its result comes in the next request.
            self._tool_use(h, model, msg_id, tool, stream=bool(body.get("stream")))
            return
        if not body.get("stream"):
            raise _Reply(
                200,
                {
                    "id": msg_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [{"type": "text", "text": text}],
                    "stop_reason": "end_turn",
                    "stop_sequence": None,
                    "usage": {"input_tokens": usage_in, "output_tokens": usage_out},
                },
            )
        h._send_sse(
            [
                (
                    "message_start",
                    {
                        "type": "message_start",
                        "message": {
                            "id": msg_id,
                            "type": "message",
                            "role": "assistant",
                            "model": model,
                            "content": [],
                            "stop_reason": None,
                            "stop_sequence": None,
                            "usage": {
                                "input_tokens": usage_in,
                                "cache_creation_input_tokens": 0,
                                "cache_read_input_tokens": 0,
                                "output_tokens": 1,
                            },
                        },
                    },
                ),
                (
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": 0,
                        "content_block": {"type": "text", "text": ""},
                    },
                ),
                ("ping", {"type": "ping"}),
                (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": text},
                    },
                ),
                ("content_block_stop", {"type": "content_block_stop", "index": 0}),
                (
                    "message_delta",
                    {
                        "type": "message_delta",
                        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                        "usage": {"output_tokens": usage_out},
                    },
                ),
                ("message_stop", {"type": "message_stop"}),
            ]
        )


_DEFAULT_FAILURES = {
    400: "Bad request",
    401: "User not found.",
    402: "Insufficient credits. Add more using https://openrouter.ai/credits",
    403: "Forbidden",
    404: "Not found",
    408: "Request timed out",
    429: "Rate limit exceeded",
    500: "Internal Server Error",
    502: "Provider returned error",
    503: "No available provider",
}

_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--log", help="append every request as a JSON line to this file")
    parser.add_argument("--text", default=DEFAULT_TEXT, help="what /messages answers")
    parser.add_argument("--key", action="append", default=[], help="a valid key (repeatable)")
    parser.add_argument(
        "--management-key", action="append", default=[], help="a valid management key (repeatable)"
    )
    args = parser.parse_args(argv)
    keys: dict[str, dict[str, Any]] | None = None
    if args.key or args.management_key:
        keys = {k: {"name": "user key"} for k in args.key}
        keys.update(
            {k: {"name": "management key", "management": True} for k in args.management_key}
        )
    standin = StandIn(port=args.port, text=args.text, log=args.log, keys=keys)
    print(standin.port, flush=True)
    print(json.dumps({"key": standin.key, "management_key": standin.management_key}), flush=True)
    try:
        standin.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
