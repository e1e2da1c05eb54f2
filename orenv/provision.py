"""Scoped keys made through OpenRouter's key-management API.

``provision`` asks OpenRouter (``POST /keys``, with a management key from the
keyring) for a new key with a spending limit and stores the plaintext straight
into the keyring: it is never printed, logged, put in argv or written to a
file. What orenv needs to revoke it later (the upstream *hash*, the base URL,
the management key's name) is not secret and is kept in
``$XDG_DATA_HOME/orenv/provisioned.json``. ``revoke`` deletes the key upstream
(``DELETE /keys/{hash}``) and locally.
"""

from __future__ import annotations

import os
import re
import secrets as _random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import _namestore, budget, keychecks, paths, secrets
from .config import Config, load_config
from .errors import OpenRouterError, OrenvError, SecretNotFoundError, UsageError
from .openrouter import LIMIT_RESETS, OpenRouterClient
from .policy import DEFAULT_BASE_URL, _url_problem

__all__ = [
    "KEYRING_TIMEOUT",
    "Provisioned",
    "Revoked",
    "check_host",
    "check_limit",
    "detach",
    "expiry",
    "generated_name",
    "management_key_name",
    "management_key_value",
    "provision",
    "record",
    "records",
    "revoke",
    "revoked",
    "target_base_url",
    "upstream",
]


# These are commands a person runs, not the prompt: a slow keyring may take longer
# than the prompt's deadline (ORENV_KEYRING_TIMEOUT) without being broken.
KEYRING_TIMEOUT = 5.0


@dataclass(frozen=True)
class Provisioned:
    """A key orenv made upstream: enough to find and revoke it, nothing secret."""

    name: str
    hash: str
    base_url: str
    management_key: str
    label: str
    limit: float | None
    limit_reset: str | None
    created_at: float
    expires_at: str | None = None
    include_byok_in_limit: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "hash": self.hash, "base_url": self.base_url, "management_key": self.management_key,
            "label": self.label, "limit": self.limit, "limit_reset": self.limit_reset,
            "created_at": self.created_at, "expires_at": self.expires_at,
            "include_byok_in_limit": self.include_byok_in_limit,
        }


# ---------------------------------------------------------------- records


def _records_path() -> Path:
    return paths.data_dir() / "provisioned.json"


def _read() -> dict[str, dict[str, Any]]:
    return {k: v for k, v in _namestore.read(_records_path()).items()
            if isinstance(v.get("hash"), str)}


def _write(data: Mapping[str, Mapping[str, Any]]) -> None:
    _namestore.write(_records_path(), data)


def _from_json(name: str, entry: Mapping[str, Any]) -> Provisioned:
    limit = entry.get("limit")
    return Provisioned(
        name=name,
        hash=str(entry["hash"]),
        base_url=str(entry.get("base_url") or DEFAULT_BASE_URL),
        management_key=str(entry.get("management_key") or ""),
        label=str(entry.get("label") or ""),
        limit=float(limit) if isinstance(limit, int | float) else None,
        limit_reset=entry.get("limit_reset") if isinstance(entry.get("limit_reset"), str)
        else None,
        created_at=float(entry.get("created_at") or 0.0),
        expires_at=entry.get("expires_at") if isinstance(entry.get("expires_at"), str) else None,
        include_byok_in_limit=entry.get("include_byok_in_limit") is True,
    )


def records() -> dict[str, Provisioned]:
    return {name: _from_json(name, entry) for name, entry in _read().items()}


def record(name: str) -> Provisioned | None:
    entry = _read().get(name)
    return _from_json(name, entry) if entry is not None else None


def detach(name: str) -> str | None:
    """Keep the record of a provisioned key whose name now holds another key.

    The record moves to ``NAME.replaced-TIMESTAMP`` (still revocable, and
    listed by ``key provisioned``), so ``key revoke NAME`` never deletes the
    old key upstream while removing the new one locally. Returns the new name.
    """
    data = _read()
    entry = data.pop(name, None)
    if entry is None:
        return None
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    moved = f"{name[:40]}.replaced-{stamp}"
    n = 1
    while moved in data:
        n += 1
        moved = f"{name[:40]}.replaced-{stamp}-{n}"
    data[moved] = entry
    _write(data)
    return moved


# ---------------------------------------------------------------- choices


def management_key_name(explicit: str | None) -> str:
    """--management-key, else the only management key in the index; else a clear error."""
    if explicit:
        return secrets.validate_name(explicit)
    names = sorted(n for n, meta in secrets._read_index().items() if meta.get("management"))
    if len(names) == 1:
        return names[0]
    if not names:
        raise UsageError(
            "no management key: create one in OpenRouter's settings (Provisioning/Management "
            "keys), store it with `orenv key set --management NAME`, then try again")
    raise UsageError(f"several management keys ({', '.join(names)}); choose one with "
                     "--management-key NAME")


def management_key_value(mname: str) -> str:
    """The management key *mname* from the keyring; missing: how to store one."""
    try:
        return secrets.get_key(mname, KEYRING_TIMEOUT)
    except SecretNotFoundError:
        raise SecretNotFoundError(
            f"management key {mname!r} is not in the keyring; store it with "
            f"`orenv key set {mname} --management`, or name another with "
            "--management-key") from None


def target_base_url(explicit: str | None, directory: str) -> str:
    """--base-url, else the base URL of the policy here if you allowed it, else the default.

    A policy nobody allowed (a cloned repository's) never chooses where a key
    or the management key goes.
    """
    if explicit:
        return explicit
    from .activation import trusted_policy

    try:
        policy = trusted_policy(directory)
    except OrenvError:
        policy = None
    if policy is not None and policy.enabled:
        return policy.base_url
    return DEFAULT_BASE_URL


def check_host(base_url: str, config: Config | None = None) -> str:
    """Refuse a base URL whose host is not in allowed_hosts (keys go only there)."""
    problem = _url_problem(base_url)
    if problem:
        raise UsageError(f"base URL {base_url!r} {problem}")
    config = config or load_config()
    refusal = config.url_refusal(base_url)
    if refusal:
        raise UsageError(refusal)
    return base_url


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def generated_name(directory: str, taken: set[str] | None = None) -> str:
    """``proj-<dirname>-<4 hex>``: a key name for a project's own key."""
    base = _UNSAFE.sub("-", os.path.basename(os.path.abspath(directory))).strip("-._")
    base = (base or "root")[:48]
    taken = taken if taken is not None else set(secrets._read_index())
    for _ in range(100):
        name = f"proj-{base}-{_random.token_hex(2)}"
        if name not in taken:
            return name
    raise OrenvError("could not find a free key name; pass one explicitly")  # pragma: no cover


def expiry(text: str | None) -> str | None:
    """An ISO 8601 date or time as OpenRouter's ``expires_at`` (UTC, "Z"); in the future."""
    if text is None:
        return None
    from datetime import UTC, datetime

    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"--expires-at {text!r} is not a date or time; write e.g. 2026-12-31 "
                         "or 2026-12-31T18:00:00Z") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    when = when.astimezone(UTC)
    if when <= datetime.now(UTC):
        raise UsageError(f"--expires-at {text!r} is in the past")
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def upstream(mname: str | None = None, base_url: str | None = None) -> dict[str, dict[str, Any]]:
    """The account's keys upstream (every page), by hash; needs a management key."""
    mname = management_key_name(mname)
    url = check_host(base_url or DEFAULT_BASE_URL)
    client = OpenRouterClient(url, management_key_value(mname))
    with keychecks.checking(mname, "key provisioned --online"):
        listed = client.list_keys()
    return {str(k.get("hash")): k for k in listed}


def check_limit(limit: float | None, reset: str | None) -> None:
    if limit is not None and (limit != limit or limit < 0 or limit == float("inf")):
        raise UsageError("--limit must be a number of USD, zero or more")
    if reset is not None and reset not in LIMIT_RESETS:
        raise UsageError(f"--reset must be one of: {', '.join(LIMIT_RESETS)}")
    if reset is not None and limit is None:
        raise UsageError("--reset needs --limit (a reset only applies to a limit)")


def _exists_locally(name: str) -> bool:
    if name in secrets._read_index():
        return True
    try:
        secrets.get_key(name, KEYRING_TIMEOUT)
    except SecretNotFoundError:
        return False
    return True


# ---------------------------------------------------------------- actions


def provision(
    name: str,
    *,
    limit: float | None,
    reset: str | None,
    management: str | None = None,
    base_url: str | None = None,
    directory: str | None = None,
    label: str | None = None,
    expires_at: str | None = None,
    include_byok_in_limit: bool | None = None,
) -> Provisioned:
    """Create a scoped key upstream and store it in the keyring under *name*.

    *expires_at*: an ISO 8601 date or time (UTC unless it says otherwise),
    after which OpenRouter disables the key; *include_byok_in_limit*: count
    requests paid with your own provider keys against the limit too.
    """
    secrets.validate_name(name)
    check_limit(limit, reset)
    expires = expiry(expires_at)
    url = check_host(target_base_url(base_url, directory or os.getcwd()))
    mname = management_key_name(management)
    if mname == name:
        raise UsageError("the new key needs a name other than the management key's")
    if _exists_locally(name):
        raise UsageError(f"a key named {name!r} already exists; pick another name, or remove "
                         f"it first (`orenv key rm {name}`)")
    mgmt_value = management_key_value(mname)
    client = OpenRouterClient(url, mgmt_value)
    label = label or f"orenv {name}"
    with keychecks.checking(mname, "key provision"):
        created = client.create_key(label, limit, reset, expires_at=expires,
                                    include_byok_in_limit=include_byok_in_limit)
    value = created.pop("key")
    key_hash = str(created["hash"])
    try:
        secrets.set_key(name, value)
    except BaseException:
        # Do not leave an orphan key upstream that nobody holds.
        try:
            client.delete_key(key_hash)
        except OrenvError:
            pass
        raise
    finally:
        del value
    rec = Provisioned(
        name=name, hash=key_hash, base_url=url, management_key=mname, label=label,
        limit=limit, limit_reset=reset, created_at=time.time(), expires_at=expires,
        include_byok_in_limit=bool(include_byok_in_limit),
    )
    data = _read()
    data[name] = rec.to_json()
    _write(data)
    _forget_revoked(name)
    # OpenRouter made it just now: valid, as far as `orenv key list` can tell.
    keychecks.record(name, ok=True, status=200, via="key provision")
    # A fresh key's budget is known from the reply: status can show it at once.
    budget.store(name, budget.Usage.from_api(created), url)
    return rec


def _revoked_path() -> Path:
    return paths.data_dir() / "revoked.json"


@dataclass(frozen=True)
class Revoked:
    """What `orenv key revoke` did: deleted upstream now, or found gone there (404)."""

    name: str
    deleted_upstream: bool
    removed_from_keyring: bool
    revoked_at: float
    earlier: bool = False  # revoked by an earlier `orenv key revoke`: nothing done now


def revoked(name: str) -> Revoked | None:
    """The revocation orenv made of key *name* (nothing secret), if any."""
    entry = _namestore.read(_revoked_path()).get(name)
    at = entry.get("revoked_at") if entry else None
    if entry is None or not isinstance(at, int | float):
        return None
    return Revoked(name, entry.get("deleted_upstream") is True, False, float(at), earlier=True)


def _forget_revoked(name: str) -> None:
    data = _namestore.read(_revoked_path())
    if data.pop(name, None) is not None:
        _namestore.write(_revoked_path(), data)


def revoke(name: str, *, management: str | None = None, base_url: str | None = None) -> Revoked:
    """Delete key *name* upstream and from the keyring, and drop orenv's record of it.

    A key already gone upstream (OpenRouter answers 404) is still removed here.
    Revoking it again finds the note left by the first revoke and changes nothing.
    """
    secrets.validate_name(name)
    rec = record(name)
    if rec is None:
        earlier = revoked(name)
        if earlier is not None and not _exists_locally(name):
            return earlier
        raise UsageError(
            f"key {name!r} was not provisioned by orenv (no upstream record), so it cannot be "
            f"revoked here: delete it in OpenRouter's settings, and `orenv key rm {name}`")
    url = check_host(base_url or rec.base_url)
    mname = management or (rec.management_key if rec.management_key in
                           secrets._read_index() else None)
    mname = management_key_name(mname)
    client = OpenRouterClient(url, management_key_value(mname))
    existed = True
    try:
        with keychecks.checking(mname, "key revoke", accepted=(404,)):
            client.delete_key(rec.hash)
    except OpenRouterError as exc:
        if exc.status != 404:
            raise
        existed = False
    removed = True
    try:
        secrets.delete_key(name)
    except SecretNotFoundError:
        removed = False
    data = _read()
    data.pop(name, None)
    _write(data)
    budget.forget(name)
    keychecks.forget(name)
    done = Revoked(name, existed, removed, time.time())
    notes = _namestore.read(_revoked_path())
    notes[name] = {"revoked_at": done.revoked_at, "deleted_upstream": existed}
    _namestore.write(_revoked_path(), notes)
    return done
