"""A small OpenRouter REST client on the standard library.

The key is a constructor argument and goes into exactly one place: the
``Authorization`` header of each request. It never appears in a message, an
exception (or its chain), a repr or a log line. Errors are raised outside the
``except`` blocks that caught the low-level ones, so no exception carries a
``__context__`` that could hold request data.

Redirects are not followed: urllib would forward the ``Authorization`` header
to whatever host a redirect names, which would defeat the allowed-hosts check.
"""

from __future__ import annotations

import http.client
import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from .errors import NetworkError, OpenRouterError, OrenvError
from .policy import is_loopback

__all__ = [
    "DEFAULT_TIMEOUT",
    "LIMIT_RESETS",
    "OpenRouterClient",
    "api_root",
]

DEFAULT_TIMEOUT = 10.0
LIMIT_RESETS = ("daily", "weekly", "monthly")
_MAX_MESSAGE = 200
_MAX_BODY = 64 * 1024 * 1024  # the full model list is a few MB
_INVALID = object()
_KEYS_PAGE = 100

_FIXED_MESSAGES = {
    401: "OpenRouter rejected the key (401): check it with `orenv key set NAME`",
    402: "OpenRouter: out of credits / limit reached (402): add credits or raise the key's limit",
    429: "OpenRouter: rate limited, try again later (429)",
}


def api_root(base_url: str) -> str:
    """Turn the Anthropic-style base (``https://openrouter.ai/api``) into the REST root.

    >>> api_root("https://openrouter.ai/api")
    'https://openrouter.ai/api/v1'
    >>> api_root("https://openrouter.ai/api/v1/")
    'https://openrouter.ai/api/v1'
    """
    root = base_url.strip().rstrip("/")
    if root.endswith("/v1"):
        return root
    return root + "/v1"


_is_loopback = is_loopback  # one definition of "loopback" for policy and client


def _one_line(text: str, limit: int = _MAX_MESSAGE) -> str:
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return flat


def _valid_header_value(value: str) -> bool:
    return bool(value) and all(0x21 <= ord(ch) <= 0x7E for ch in value)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx then surfaces as an HTTPError we report


class OpenRouterClient:
    """OpenRouter's REST API (``<base_url>/v1/...``) with one key.

    Args:
        base_url: the Anthropic-style base URL of the policy, e.g.
            ``https://openrouter.ai/api``; an already ``/v1`` URL works too.
        key: the OpenRouter key sent as ``Authorization: Bearer``; ``None``
            for the public endpoints (``models``).
        timeout: seconds for connecting and for each read.
    """

    __slots__ = ("_host", "_key", "_opener", "root", "timeout")

    def __init__(self, base_url: str, key: str | None, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.root = api_root(base_url)
        parts = urllib.parse.urlsplit(self.root)
        host = parts.hostname or ""
        if parts.scheme not in ("http", "https") or not host:
            raise OrenvError(f"base_url must be an http(s) URL, got scheme {parts.scheme!r}")
        if parts.username is not None or parts.password is not None:
            raise OrenvError("base_url must not contain a user name or password")
        if parts.scheme == "http" and not _is_loopback(host):
            raise OrenvError(
                f"base_url uses plain http for {host}; use https (http is for loopback only)"
            )
        if key is not None and not _valid_header_value(key):
            # Never echo the value: it is a secret even when malformed.
            raise OrenvError(
                "the key contains spaces or characters that cannot be sent; "
                "set it again with `orenv key set NAME`"
            )
        try:
            port = parts.port
        except ValueError:
            raise OrenvError("base_url has an invalid port") from None
        self._host = host if port is None else f"{host}:{port}"
        self._key = key
        self.timeout = float(timeout)
        handlers: list[urllib.request.BaseHandler] = [_NoRedirect()]
        if _is_loopback(host):
            handlers.append(urllib.request.ProxyHandler({}))  # a proxy cannot reach our loopback
        self._opener = urllib.request.build_opener(*handlers)

    def __repr__(self) -> str:
        return f"OpenRouterClient({self.root!r}, key={'set' if self._key else 'none'})"

    # -- transport ---------------------------------------------------------

    def _scrub(self, text: str) -> str:
        if self._key and self._key in text:
            text = text.replace(self._key, "[redacted]")
        return text

    def _request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        query: dict[str, str] | None = None,
    ) -> Any:
        url = self.root + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        headers = {"Accept": "application/json", "User-Agent": "orenv"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self._key is not None:
            headers["Authorization"] = f"Bearer {self._key}"
        # The scheme was checked in __init__ (http or https only).
        req = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310

        # Every failure is turned into (status, message) here and raised after
        # the except blocks, so the raised error has neither cause nor context.
        status = 0
        raw = b""
        problem: str | None = None
        try:
            with self._opener.open(req, timeout=self.timeout) as resp:
                status = resp.status
                raw = resp.read(_MAX_BODY)
        except urllib.error.HTTPError as exc:
            status = exc.code
            try:
                raw = exc.read(_MAX_BODY)
            except (OSError, http.client.HTTPException):
                raw = b""
            finally:
                exc.close()
        except urllib.error.URLError as exc:
            problem = self._reason(exc.reason)
        except (OSError, http.client.HTTPException) as exc:
            problem = self._reason(exc)

        if problem is not None:
            raise NetworkError(
                f"cannot reach {self._host}: {problem}; check your network or base_url"
            )
        if status >= 300 or status < 200:
            raise OpenRouterError(status, self._error_message(status, raw))
        if not raw.strip():
            return None
        payload: Any = _INVALID
        try:
            payload = json.loads(raw)
        except ValueError:
            pass
        if payload is _INVALID:
            raise OpenRouterError(status, f"OpenRouter sent a reply that is not JSON ({status})")
        return payload

    def _reason(self, exc: object) -> str:
        if isinstance(exc, TimeoutError | socket.timeout):
            return f"timed out after {self.timeout:g}s"
        if isinstance(exc, socket.gaierror):
            return f"name lookup failed ({exc.strerror or exc})"
        if isinstance(exc, ConnectionRefusedError):
            return "connection refused"
        if isinstance(exc, OSError) and exc.strerror:
            return _one_line(self._scrub(exc.strerror), 120)
        if isinstance(exc, http.client.HTTPException):
            return _one_line(self._scrub(f"{type(exc).__name__}: {exc}"), 120)
        return _one_line(self._scrub(str(exc)), 120) or type(exc).__name__

    def _error_message(self, status: int, raw: bytes) -> str:
        fixed = _FIXED_MESSAGES.get(status)
        if fixed is not None:
            return fixed
        detail = ""
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
        if isinstance(payload, dict):
            err = payload.get("error")
            if isinstance(err, dict) and isinstance(err.get("message"), str):
                detail = err["message"]
            elif isinstance(err, str):
                detail = err
            elif isinstance(payload.get("message"), str):
                detail = payload["message"]
        if not detail:
            detail = http.client.responses.get(status, "unexpected reply")
        detail = _one_line(self._scrub(detail))
        return f"OpenRouter error {status}: {detail}"

    def _data(self, payload: Any, what: str) -> Any:
        if isinstance(payload, dict) and "data" in payload:
            return payload["data"]
        raise OpenRouterError(200, f"OpenRouter reply to {what} has no data field")

    # -- API ---------------------------------------------------------------

    def key_info(self) -> dict[str, Any]:
        """``GET /key``: label, limit, limit_remaining, usage…, of this client's key."""
        data = self._data(self._request("GET", "/key"), "GET /key")
        if not isinstance(data, dict):
            raise OpenRouterError(200, "OpenRouter reply to GET /key is not an object")
        return data

    def models(self, tools: bool = False) -> list[dict[str, Any]]:
        """``GET /models``; with *tools*, only models that support tool use."""
        query = {"supported_parameters": "tools"} if tools else None
        data = self._data(self._request("GET", "/models", query=query), "GET /models")
        if not isinstance(data, list):
            raise OpenRouterError(200, "OpenRouter reply to GET /models is not a list")
        return [m for m in data if isinstance(m, dict)]

    def list_keys(self) -> list[dict[str, Any]]:
        """``GET /keys`` (management key): all the account's keys (disabled ones too),
        without their values, page by page."""
        out: list[dict[str, Any]] = []
        offset = 0
        while True:  # OpenRouter answers the newest 100 per request: page on
            query = {"offset": str(offset), "include_disabled": "true"}
            data = self._data(self._request("GET", "/keys", query=query), "GET /keys")
            if not isinstance(data, list):
                raise OpenRouterError(200, "OpenRouter reply to GET /keys is not a list")
            out += [k for k in data if isinstance(k, dict)]
            if len(data) < _KEYS_PAGE or offset > 100_000:
                return out
            offset += len(data)

    def create_key(
        self,
        name: str,
        limit: float | None = None,
        limit_reset: str | None = None,
        *,
        expires_at: str | None = None,
        include_byok_in_limit: bool | None = None,
    ) -> dict[str, Any]:
        """``POST /keys`` (management key).

        Returns the new key's data with its ``hash`` and the plaintext ``key``
        (shown only in this reply): store it straight into the keyring, never
        print or log it.
        """
        if limit_reset is not None and limit_reset not in LIMIT_RESETS:
            raise OrenvError(f"limit reset must be one of {', '.join(LIMIT_RESETS)}")
        if limit is not None and limit < 0:
            raise OrenvError("limit must be zero or more USD")
        body: dict[str, Any] = {"name": name, "limit": limit, "limit_reset": limit_reset}
        if expires_at is not None:
            body["expires_at"] = expires_at
        if include_byok_in_limit is not None:
            body["include_byok_in_limit"] = include_byok_in_limit
        payload = self._request("POST", "/keys", body=body)
        data = self._data(payload, "POST /keys")
        if not isinstance(data, dict):
            raise OpenRouterError(200, "OpenRouter reply to POST /keys is not an object")
        result = dict(data)
        if isinstance(payload, dict) and isinstance(payload.get("key"), str):
            result["key"] = payload["key"]
        if not isinstance(result.get("key"), str) or not isinstance(result.get("hash"), str):
            raise OpenRouterError(200, "OpenRouter reply to POST /keys lacks the key or its hash")
        return result

    def _key_path(self, key_hash: str) -> str:
        if not key_hash:
            raise OrenvError("a key hash is required")
        return "/keys/" + urllib.parse.quote(key_hash, safe="")

    def get_key(self, key_hash: str) -> dict[str, Any]:
        """``GET /keys/{hash}`` (management key)."""
        data = self._data(self._request("GET", self._key_path(key_hash)), "GET /keys/{hash}")
        if not isinstance(data, dict):
            raise OpenRouterError(200, "OpenRouter reply to GET /keys/{hash} is not an object")
        return data

    def update_key(self, key_hash: str, **fields: Any) -> dict[str, Any]:
        """``PATCH /keys/{hash}`` (management key), e.g. ``disabled=True``, ``limit=5``."""
        if not fields:
            raise OrenvError("nothing to update")
        payload = self._request("PATCH", self._key_path(key_hash), body=fields)
        data = self._data(payload, "PATCH /keys/{hash}")
        if not isinstance(data, dict):
            raise OpenRouterError(200, "OpenRouter reply to PATCH /keys/{hash} is not an object")
        return data

    def delete_key(self, key_hash: str) -> None:
        """``DELETE /keys/{hash}`` (management key)."""
        self._request("DELETE", self._key_path(key_hash))

    def credits(self) -> dict[str, Any]:
        """``GET /credits`` (management key): ``total_credits`` and ``total_usage`` in USD."""
        data = self._data(self._request("GET", "/credits"), "GET /credits")
        if not isinstance(data, dict):
            raise OpenRouterError(200, "OpenRouter reply to GET /credits is not an object")
        return data
