"""`orenv key set|list|rm`: keys live in the OS keyring, never in argv or files.

Provisioning scoped keys through OpenRouter (``key provision``/``revoke``) is
registered from ``orenv.commands.key_provision`` when present.
"""

from __future__ import annotations

import argparse
import getpass
import importlib
import os
import sys
from typing import Any

from .. import keychecks, secrets, trust
from ..errors import PolicyError, SecretNotFoundError, UsageError
from ..policy import find_chain, read_policy_file
from ._common import confirm, interactive, print_json, say, table

__all__ = ["known_policies", "policies_using", "read_secret", "register"]


def read_secret(prompt: str) -> str:
    """A secret from a hidden prompt on a terminal, or from stdin when piped."""
    if sys.stdin is not None and sys.stdin.isatty():
        try:
            value = getpass.getpass(prompt)
        except EOFError:  # Ctrl-D
            raise UsageError("no key given (end of input); nothing was changed") from None
    else:
        value = sys.stdin.read() if sys.stdin is not None else ""
    value = value.strip()
    if not value:
        raise UsageError("no key given: type it at the prompt or pipe it on stdin")
    if "\n" in value:
        raise UsageError("the input has more than one line; give just the key")
    return value


def _existing_mask(name: str) -> str | None:
    """The masked value of key *name* when one is stored (the value stays in memory)."""
    try:
        return secrets.mask(secrets.get_key(name))
    except SecretNotFoundError:
        return None


def run_set(args: argparse.Namespace) -> int:
    name = secrets.validate_name(args.name)
    old = _existing_mask(name)
    if old is not None and not args.force:
        question = f"key {name!r} already exists ({old}); replace it? [y/N] "
        if not interactive():
            raise UsageError(f"key {name!r} already exists; nothing was changed: "
                             "use --force to replace it")
        if not confirm(question):
            raise UsageError(f"kept key {name!r}; nothing was changed")
    value = read_secret(f"OpenRouter key for {name!r} (input hidden): ")
    if not secrets.looks_like_key(value) and not args.force:
        raise UsageError("that is not an OpenRouter key (sk-or-v1- followed by 64 hex "
                         "characters); use --force to store it anyway")
    from .. import provision

    # The record of a provisioned key follows that key, not the name.
    moved = provision.detach(name) if old is not None else None
    secrets.set_key(name, value, management=args.management)
    keychecks.forget(name)  # a verdict on the key it replaced
    kind = "management key" if args.management else "key"
    verb = "replaced" if old is not None else "stored"
    say(f"{verb} {kind} {name!r} ({secrets.mask(value)}) in the keyring")
    if moved:
        say(f"orenv: note: the key it replaced was provisioned on OpenRouter and still exists "
            f"there; `orenv key revoke {moved}` deletes it upstream", file=sys.stderr)
    return 0


def known_policies() -> dict[str, list[tuple[str, trust.TrustStatus]]]:
    """Key name -> the policies in the trust store that use it, with their trust state.

    Known means recorded by `orenv allow`: still allowed, or changed since (the
    key is then the one the file names now). Inheritance counts: a policy with
    ``inherit = true`` and no key of its own uses its parent's. Reads files
    only, never the keyring or the network.
    """
    found: dict[str, list[tuple[str, trust.TrustStatus]]] = {}
    for path in trust.allowed_paths():
        try:
            first = read_policy_file(path)  # never blocks on a FIFO
            chain = find_chain(os.path.dirname(path), first=first) if first.key is None \
                else [first]
        except (OSError, PolicyError):
            continue
        key = next((pf.key for pf in chain if pf.key is not None), None)
        state = trust.status(path, first.content)
        if key is not None and state in (trust.TrustStatus.ALLOWED, trust.TrustStatus.CHANGED):
            found.setdefault(key, []).append((path, state))
    return found


def policies_using(name: str) -> list[str]:
    """Allowed policy files (as recorded by `orenv allow`) that name key *name*."""
    return [path for path, state in known_policies().get(name, [])
            if state is trust.TrustStatus.ALLOWED]


def warn_if_used(name: str) -> None:
    used = policies_using(name)
    if used:
        say(f"orenv: warning: allowed policies still use key {name!r} and get no key until "
            f"one is stored under that name: {', '.join(used)}", file=sys.stderr)


def _home_short(path: str) -> str:
    home = os.path.expanduser("~")
    return "~" + path[len(home):] if home != "/" and path.startswith(home + os.sep) else path


def _last_check_text(check: keychecks.Check | None) -> str:
    if check is None:
        return "never checked"
    from ..budget import describe_age

    return f"{check.verdict()}, {describe_age(check.checked_at)}"


def run_list(args: argparse.Namespace) -> int:
    entries = secrets.list_keys()
    used = known_policies()
    checks = {e.name: keychecks.last(e.name) for e in entries}
    if args.json:
        print_json([{
            "name": e.name, "masked": e.masked, "management": e.management, "store": e.store,
            "expires": e.expires,
            "policies": [{"path": path, "trust": state.value}
                         for path, state in used.get(e.name, [])],
            "last_check": (c.to_json() if (c := checks[e.name]) is not None else None),
        } for e in entries])
        return 0
    if not entries:
        say("no keys; store one with `orenv key set NAME` (keyring), or hold one in the "
            "orenv daemon's memory with `orenv key add NAME` (no keyring needed)")
        return 0
    rows: list[list[str]] = []
    for e in entries:
        store = (e.store or "-").removesuffix(" Keyring")
        if e.store == "memory" and not e.masked.startswith("("):
            from ..memstore import describe_expiry

            store += ", " + describe_expiry(e.expires).removesuffix(" (logout, reboot)")
        policies = [_home_short(path) + ("" if state is trust.TrustStatus.ALLOWED
                                         else " (changed)")
                    for path, state in used.get(e.name, [])]
        if e.management:
            policies.insert(0, "management key")
        rows.append([e.name, e.masked, store, _last_check_text(checks[e.name]),
                     policies[0] if policies else "-"])
        rows.extend(["", "", "", "", more] for more in policies[1:])
    for line in table(["NAME", "KEY", "STORE", "LAST CHECK", "USED BY"], rows):
        say(line)
    return 0


def run_rm(args: argparse.Namespace) -> int:
    where = secrets.delete_key(args.name)
    keychecks.forget(args.name)
    say(f"removed key {args.name!r} from the "
        + ("orenv daemon's memory" if where == "memory" else "keyring"))
    warn_if_used(args.name)
    from ..provision import record

    if record(args.name) is not None:
        say(f"orenv: note: {args.name!r} was provisioned on OpenRouter and still exists "
              f"there; `orenv key revoke {args.name}` deletes it upstream", file=sys.stderr)
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("key", help="manage keys in the OS keyring")
    ks = p.add_subparsers(dest="key_command", metavar="ACTION")
    s = ks.add_parser("set", help="store a key (hidden prompt, or stdin when piped)",
                      description="The key is read from a hidden prompt or stdin, never "
                      "from the command line: `orenv key set work`, or "
                      "`pass show or | orenv key set work`.")
    s.add_argument("name", help="key name, e.g. work")
    s.add_argument("--force", action="store_true", help="replace an existing key without "
                   "asking, or store a value that is not an OpenRouter key")
    s.add_argument("--management", action="store_true",
                   help="this is an OpenRouter management key (for `orenv key provision`)")
    s.set_defaults(func=run_set)
    ls = ks.add_parser("list", help="keys: masked value, keyring, policies using them, last "
                       "online check", description="Every stored key with its masked value, "
                       "the keyring backend that holds it, the policies `orenv allow` "
                       "recorded that use it (allowed, or changed since), and whether "
                       "OpenRouter accepted it the last time orenv asked (doctor --online, "
                       "usage, key provision). Reads caches only: never goes online.")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.set_defaults(func=run_list)
    rm = ks.add_parser("rm", help="remove a key from the keyring")
    rm.add_argument("name", help="key name (see `orenv key list`)")
    rm.set_defaults(func=run_rm)
    try:
        extra = importlib.import_module(".key_provision", __package__)
    except ModuleNotFoundError as exc:
        if exc.name != f"{__package__}.key_provision":
            raise
    else:
        extra.register(ks)
    from . import key_memory  # `orenv key add`: keys in the daemon's memory only

    key_memory.register(ks)

    def no_action(_: argparse.Namespace) -> int:
        p.print_help(sys.stderr)
        return 2

    p.set_defaults(func=no_action)
