"""No key where Claude Code's own settings would send it elsewhere.

Claude Code reads settings files where it starts (the directory's
``.claude/``, the git root's ``settings.local.json``), the user's and the
managed ones, and their ``env`` blocks beat the shell. So a repository can
ship ``.claude/settings.json`` with ``ANTHROPIC_BASE_URL`` (or a proxy, or an
``apiKeyHelper``) and receive whatever key the shell holds. ``refusal``
looks at every file Claude Code would read in the given directories and says
why no key may be handed out there, in one line naming the file and entry.

Rules (tables in ``orenv.rules``):

* every file: ``SETTINGS_REDIRECTS`` entries (base URL or proxy to a host
  not in ``allowed_hosts``, unix sockets, other providers' endpoints, TLS
  checks off); a file that cannot be read or parsed cannot be checked;
* files that come with the directory (project and local scope, i.e. a
  repository): ``env`` names must pass the same allowlist as a policy's
  ``[env]``; ``ANTHROPIC_CUSTOM_HEADERS`` and ``CLAUDE_CODE_EXTRA_BODY`` only
  with orenv's own values; an ``apiKeyHelper`` only if it is orenv's.

Commands in settings (hooks, a status line) are reported by ``orenv status``
and ``doctor`` but are not refused here: code that runs as you can read your
keyring anyway (SECURITY.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from . import claude, places, rules
from .claude import SettingsFile
from .config import Config
from .errors import UnsafeSettingsError

__all__ = ["check", "refusal"]

_OFF = frozenset({"", "0", "false", "no", "off"})
_C0_AND_SPACE = "".join(chr(c) for c in range(0x21))  # what WHATWG trims around a URL
# Managed names a repository's settings may set only to orenv's own value:
# they change what every request carries (headers, body fields).
_ORENV_VALUE_ONLY = ("ANTHROPIC_CUSTOM_HEADERS", "CLAUDE_CODE_EXTRA_BODY")


def refusal(directories: Iterable[str], env: Mapping[str, str], config: Config,
            wanted: Mapping[str, str], mode: str = "export") -> str | None:
    """Why no key may be handed out where Claude Code starts in any of *directories*.

    Args:
        directories: where Claude Code may start (the shell's directory, and
            for ``exec``/``token`` also the process's own).
        env: the environment Claude Code inherits (``CLAUDE_CONFIG_DIR``, ``HOME``).
        config: the user's config (``allowed_hosts``, ``allow_env``).
        wanted: the non-secret variables orenv sets here.
        mode: the policy's mode; in helper mode orenv's own apiKeyHelper (in the
            local settings, which take precedence) wins over the user's.
    """
    no_key = "orenv gives out no key where Claude Code reads it"
    seen: set[str] = set()
    owners: dict[str, str | None] = {}
    for directory in dict.fromkeys(os.path.abspath(d) for d in directories):
        for path, why in places.places(directory).problems:
            return (f"{path} {why}, so where Claude Code reads its settings cannot be "
                    f"checked; {no_key}: fix or remove it")
        for f in claude.settings_files(directory, env):
            if f.path in seen:
                continue
            seen.add(f.path)
            # Present or not: whoever can write there decides what Claude Code reads.
            other = places.others_can_change(f.path, owners)
            if other:
                return (f"{f.path} could be changed by someone else ({other}); {no_key}: "
                        "make the directories yours and not writable by others "
                        "(chmod go-w), or work somewhere only you can write")
            if not f.exists:
                continue
            problem = _file_problem(f, config, wanted, mode)
            if problem:
                return problem
    return None


def check(directories: Iterable[str], env: Mapping[str, str], config: Config,
          wanted: Mapping[str, str], mode: str = "export") -> None:
    """``refusal`` as an ``UnsafeSettingsError``."""
    problem = refusal(directories, env, config, wanted, mode)
    if problem:
        raise UnsafeSettingsError(problem)


def _file_problem(f: SettingsFile, config: Config, wanted: Mapping[str, str],
                  mode: str) -> str | None:
    no_key = "orenv gives out no key where Claude Code reads it"
    if f.error:
        return (f"{f.path} {f.error}, so what Claude Code does with it cannot be checked; "
                f"{no_key}: fix or remove it")
    # Claude Code runs an apiKeyHelper with your environment (the key, in export
    # and exec modes) and sends its answer along. A repository's never counts;
    # the user's or the administrator's is shadowed only by orenv's own helper.
    foreign = not claude.helper_is_ours(f)
    if foreign and (f.from_repository or mode != "helper"):
        return (f"{f.path} sets an apiKeyHelper that is not orenv's (Claude Code would run it "
                f"with your environment and send its answer); {no_key}: remove it"
                + (", or run `orenv helper on` here" if f.from_repository else
                   ", or use mode = \"helper\" (orenv's own helper then wins)"))
    for name, value in f.env.items():
        problem = _env_problem(f, name, value, config, wanted)
        if problem:
            return f"{f.path} sets {name}, which {problem}; {no_key}: {_fix(f, name, config)}"
    return None


def _env_problem(f: SettingsFile, name: str, value: str, config: Config,
                 wanted: Mapping[str, str]) -> str | None:
    upper = name.upper()
    if upper == "ANTHROPIC_BASE_URL":
        # Empty means Claude Code's default, Anthropic's API: not an allowed host either.
        return _url_problem(value if value.strip() else "https://api.anthropic.com", config,
                            "sends every request, key included")
    if upper == "CLAUDE_CODE_SUBPROCESS_ENV_SCRUB":
        # Claude Code reads anything but 1/true/yes/on (e.g. "2", "enabled") as off.
        if wanted.get(upper) and value.strip().lower() not in rules.SWITCH_VALUES:
            return ("turns off the scrubbing orenv asks for: the agent's Bash tool, hooks and "
                    "MCP servers would see the key")
        return None
    if upper in _ORENV_VALUE_ONLY:
        if f.from_repository and value != wanted.get(upper):
            return ("changes what every request carries (only orenv's own value, from the "
                    "policy's [routing] and [attribution], is accepted here)")
        return None
    if upper in ("ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY") and f.from_repository \
            and value.strip():
        # Not a leak of yours: the repository's own key replaces orenv's, so your
        # prompts and code would be billed to, and logged by, its account.
        return ("replaces your key with one the repository chose (your prompts and code "
                "would go to its account)")
    if upper in {n.upper() for n in rules.ORENV_MANAGED}:
        return None  # model names and the like: no redirect (status reports the conflict)
    redirect = rules.settings_redirect(name)
    if redirect is not None:
        kind, reason = redirect
        if kind == "url":
            if not value.strip():
                return None  # an empty proxy is no proxy
            # No Python strip(): it removes Unicode spaces a URL parser keeps.
            url = value if "://" in value else "http://" + value.strip(_C0_AND_SPACE)
            return _url_problem(url, config, reason.split(",")[0],
                                proxy=upper != "ANTHROPIC_BASE_URL")
        if upper.startswith("CLAUDE_CODE_USE_") and value.strip().lower() in _OFF:
            return None
        if value.strip():
            return reason
    if not f.from_repository:
        return None  # the user's and the administrator's own settings
    verdict, reason = rules.env_verdict(name, value, config.allow_env)
    if verdict == "ok":
        return None
    if verdict == "never":
        return reason
    if verdict == "switch":
        return f"turns off a protection ({reason}); only \"1\" is accepted from a repository"
    return "is not known to be harmless (Claude Code's settings beat the shell)"


def _url_problem(url: str, config: Config, what: str, *, proxy: bool = False) -> str | None:
    text = config.url_refusal(url, proxy=proxy)
    if text is None:
        return None
    marker = " is not in allowed_hosts"
    if text.startswith("host ") and marker in text:
        return f"{what} to {text[5:text.index(marker)]}, not in allowed_hosts"
    if " is plain http to " in text:
        return f"{what} unencrypted (plain http to a host that is not loopback)"
    # Never quote the value: it may hold a password, or be built to confuse a parser.
    return f"{what} to an address orenv cannot check (only a plain host[:port] URL is)"


def _fix(f: SettingsFile, name: str, config: Config) -> str:
    where = "remove it from that file"
    cfg = config.path or "config.toml"
    redirect = rules.settings_redirect(name)
    if name.upper() == "ANTHROPIC_BASE_URL" or (redirect is not None and redirect[0] == "url"):
        return f"{where}, or add its host to allowed_hosts in {cfg} if you trust it"
    if name.upper() == "CLAUDE_CODE_SUBPROCESS_ENV_SCRUB":
        return (f"{where}, or opt out with [claude] scrub_subprocess_env = false in the "
                f"policy (or scrub_subprocess_env = false in {cfg})")
    if f.from_repository and rules.env_verdict(name, None)[0] == "unknown":
        return f'{where}, or add "{name}" to allow_env in {cfg} if you trust it'
    return where
