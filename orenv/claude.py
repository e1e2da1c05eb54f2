"""What Claude Code will actually use here: its settings files, login state, conflicts.

Pure-ish functions: they read Claude Code's files (never write them) and the
environment they are given, and return plain data and ``Finding`` objects that
``orenv status`` and ``orenv doctor`` render. No value of a secret is ever put
into a finding: names and file paths only.

Facts relied on (checked with Claude Code 2.1.197 and 2.1.332 against the
stand-in; see REFERENCE.md):

* Project settings are read from ``.claude/`` in the directory Claude Code
  starts in; 2.1.332 also reads the git root's ``.claude/settings.local.json``
  (the main checkout's, for a worktree: ``orenv.places``). A
  ``.claude/settings.json`` in a parent is not read.
* A settings file that is not plain JSON (comments, trailing commas) is
  ignored; a byte-order mark is accepted.
* Settings precedence: managed > local > project > user; a settings ``env``
  value beats the shell's environment.
* Auth precedence: cloud-provider variables > ``ANTHROPIC_AUTH_TOKEN`` >
  ``ANTHROPIC_API_KEY`` > ``apiKeyHelper`` > login. But an ``apiKeyHelper``'s
  output and a ``/login`` managed key (``primaryApiKey``) are still sent as
  ``x-api-key`` next to the Bearer token: to OpenRouter.
* An ``apiKeyHelper`` in a project file works with ``claude -p`` without the
  workspace being trusted.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import stat
import sys
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import paths, places, rules

__all__ = [
    "AUTH_VARS",
    "CLOUD_VARS",
    "DOTTED_IDS_READ_RIGHT",
    "KEYCHAIN_SERVICE",
    "MANAGED_DIRS",
    "REPO_SCOPES",
    "SETTINGS_NAMES",
    "SEVERITIES",
    "Finding",
    "SettingsFile",
    "claude_config_dir",
    "code_version",
    "conflicts",
    "helper_command",
    "helper_is_ours",
    "helper_record",
    "helper_record_file",
    "helper_records",
    "is_orenv_helper",
    "login_state",
    "managed_files",
    "misread_ids",
    "orenv_programs",
    "project_dirs",
    "project_settings_path",
    "read_settings",
    "settings_files",
    "settings_watch",
    "status_entry",
    "status_lines",
]

SEVERITIES = ("error", "warning", "info", "ok")
CLOUD_VARS = ("CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX", "CLAUDE_CODE_USE_FOUNDRY")
AUTH_VARS = ("ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL")
SETTINGS_NAMES = ("settings.json", "settings.local.json")
# Directories in which any new entry can change what Claude Code reads.
EVENT_DIRS = (".claude", "managed-settings.d")
REPO_SCOPES = ("project", "local")  # files that come with the directory (a repository)
_SECRETISH = ("KEY", "TOKEN", "SECRET", "PASSWORD")
# Managed settings: managed-settings.json, then managed-settings.d/*.json.
MANAGED_DIRS = {
    "linux": "/etc/claude-code",
    "darwin": "/Library/Application Support/ClaudeCode",
}
_MAX_SETTINGS = 1024 * 1024


@dataclass(frozen=True)
class Finding:
    """One problem (or all-clear) with the command that fixes it."""

    severity: str  # error | warning | info | ok
    code: str  # stable identifier, e.g. "settings-env-override"
    message: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class SettingsFile:
    """One Claude Code settings file, lowest precedence first in lists.

    ``env`` values are strings as Claude Code would see them; ``commands``
    names the settings keys that make Claude Code run a command.
    """

    path: str
    scope: str  # user | project | local | managed
    exists: bool = False
    env: Mapping[str, str] = field(default_factory=dict)
    api_key_helper: str | None = None
    commands: tuple[str, ...] = ()
    error: str | None = None

    @property
    def from_repository(self) -> bool:
        return self.scope in REPO_SCOPES


def _secretish(name: str) -> bool:
    upper = name.upper()
    return any(part in upper for part in _SECRETISH)


def claude_config_dir(env: Mapping[str, str], directory: str | None = None) -> Path:
    """``$CLAUDE_CONFIG_DIR`` or ``~/.claude``; a relative value is taken from *directory*."""
    custom = env.get("CLAUDE_CONFIG_DIR", "")
    if custom:
        if os.path.isabs(custom):
            return Path(custom)
        return Path(directory or os.getcwd()) / custom
    home = env.get("HOME") or os.path.expanduser("~")
    return Path(home) / ".claude"


def _state_file(env: Mapping[str, str]) -> Path:
    custom = env.get("CLAUDE_CONFIG_DIR", "")
    if custom and os.path.isabs(custom):
        return Path(custom) / ".claude.json"
    home = env.get("HOME") or os.path.expanduser("~")
    return Path(home) / ".claude.json"


def project_settings_path(directory: str) -> Path:
    """Where ``orenv helper`` writes: ``DIR/.claude/settings.local.json``."""
    return Path(directory) / ".claude" / "settings.local.json"


def _read_bytes(path: Path) -> tuple[bool, bytes, str | None]:
    """(exists, bytes, error): a regular file of at most 1 MiB; FIFOs never block."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return False, b"", None
    except NotADirectoryError:
        return False, b"", None
    except OSError as exc:
        return os.path.lexists(path), b"", f"cannot be read ({exc.strerror})"
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return True, b"", "is not a regular file"
        if st.st_size > _MAX_SETTINGS:
            return True, b"", "is larger than 1 MiB"
        raw = os.read(fd, _MAX_SETTINGS + 1)
        if len(raw) > _MAX_SETTINGS:
            return True, b"", "is larger than 1 MiB"
        return True, raw, None
    except OSError as exc:
        return True, b"", f"cannot be read ({exc.strerror})"
    finally:
        os.close(fd)


def _read_json(path: Path) -> tuple[bool, Any, str | None]:
    exists, raw, error = _read_bytes(path)
    if not exists or error:
        return exists, None, error
    try:
        # Claude Code accepts a byte-order mark, and nothing but plain JSON.
        return True, json.loads(raw.decode("utf-8-sig")), None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return True, None, f"is not valid JSON ({type(exc).__name__})"


def _as_env_value(value: Any) -> str:
    """An env value as Claude Code (JavaScript) turns it into a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(value, separators=(",", ":"))


def read_settings(path: Path, scope: str) -> SettingsFile:
    exists, data, error = _read_json(path)
    if not exists or error:
        return SettingsFile(str(path), scope, exists, error=error)
    if not isinstance(data, dict):
        return SettingsFile(str(path), scope, True, error="is not a JSON object")
    env_raw = data.get("env")
    env = ({str(k): _as_env_value(v) for k, v in env_raw.items() if v is not None}
           if isinstance(env_raw, dict) else {})
    helper = data.get("apiKeyHelper")
    commands = tuple(k for k in rules.SETTINGS_COMMANDS if data.get(k))
    return SettingsFile(str(path), scope, True, env=env,
                        api_key_helper=helper if isinstance(helper, str) and helper else None,
                        commands=commands)


def project_dirs(directory: str) -> list[str]:
    """Directories whose ``.claude/`` Claude Code started in *directory* may read.

    The start directory first (``settings.json`` and ``settings.local.json``),
    then every one whose ``settings.local.json`` it may read as its git root
    (``orenv.places``: worktrees, ``.git`` files, the physical path).
    """
    return places.places(directory).dirs


def user_settings_paths(env: Mapping[str, str], directory: str | None = None) -> list[Path]:
    """The user's settings files: ``settings.json``, and with
    ``CLAUDE_CODE_USE_COWORK_PLUGINS`` set, ``cowork_settings.json`` (Claude Code
    then reads that one instead; both are checked)."""
    base = claude_config_dir(env, directory)
    out = [base / "settings.json"]
    if env.get("CLAUDE_CODE_USE_COWORK_PLUGINS", "").strip():
        out.append(base / "cowork_settings.json")
    return out


def managed_files() -> list[Path]:
    """Managed settings of this platform: the file, then the drop-ins in name order."""
    base = MANAGED_DIRS.get(sys.platform)
    if not base:
        return []
    root = Path(base)
    out = [root / "managed-settings.json"]
    try:
        names = sorted(n for n in os.listdir(root / "managed-settings.d")
                       if n.endswith(".json") and not n.startswith("."))
    except OSError:
        names = []
    out += [root / "managed-settings.d" / n for n in names]
    return out


def settings_files(directory: str, env: Mapping[str, str]) -> list[SettingsFile]:
    """The settings Claude Code started in *directory* reads, lowest precedence first."""
    dirs = project_dirs(directory)
    out = [read_settings(p, "user") for p in user_settings_paths(env, directory)]
    out.append(read_settings(Path(dirs[0]) / ".claude" / "settings.json", "project"))
    for d in reversed(dirs):  # the git root's local file, then the start directory's
        out.append(read_settings(Path(d) / ".claude" / "settings.local.json", "local"))
    out += [read_settings(p, "managed") for p in managed_files()]
    return out


def settings_watch(directory: str, env: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """What to watch so that a change to Claude Code's settings is seen at the next prompt.

    Returns (present, absent): paths that exist (a change makes them newer) and
    paths whose appearance matters (a ``.claude`` directory, a settings file,
    a ``.git`` that moves the git root).
    """
    present: list[str] = []
    absent: list[str] = []

    def note(path: Path | str) -> None:
        (present if os.path.lexists(path) else absent).append(str(path))

    found = places.places(directory)
    for i, d in enumerate(found.dirs):
        claude_dir = Path(d) / ".claude"
        note(claude_dir)
        names = SETTINGS_NAMES if i == 0 else ("settings.local.json",)
        if claude_dir.is_dir():
            for name in names:
                note(claude_dir / name)
    for moved in found.watch:  # .git entries and commondir files that move the git root
        note(moved)
    for user in user_settings_paths(env, directory):
        note(user)
    base = MANAGED_DIRS.get(sys.platform)
    if base:
        note(Path(base) / "managed-settings.json")
        note(Path(base) / "managed-settings.d")
        present += [str(p) for p in managed_files()[1:]]
    return present, absent


def login_state(env: Mapping[str, str]) -> dict[str, Any]:
    """Whether Claude Code is logged in (never the values): file, oauth, managed key."""
    state_path = _state_file(env)
    _, data, _ = _read_json(state_path)
    data = data if isinstance(data, dict) else {}
    creds_path = claude_config_dir(env) / ".credentials.json"
    _, creds, _ = _read_json(creds_path)
    creds = creds if isinstance(creds, dict) else {}
    return {
        "file": str(state_path),
        "oauth_account": bool(data.get("oauthAccount")),
        "managed_api_key": bool(data.get("primaryApiKey")),
        "oauth_credentials": bool(creds.get("claudeAiOauth")),
        "keychain": _keychain_login(env),
        "oauth_token_env": bool(env.get("CLAUDE_CODE_OAUTH_TOKEN")),
    }


KEYCHAIN_SERVICE = "Claude Code-credentials"


def _keychain_login(env: Mapping[str, str]) -> bool:
    """macOS keeps the ``/login`` credentials in the Keychain, not in a file.

    ``find-generic-password`` without ``-w``/``-g`` only finds the item: the
    secret is neither read nor printed, and no access prompt appears.
    """
    if sys.platform != "darwin":
        return False
    import shutil
    import subprocess

    exe = shutil.which("security", path=env.get("PATH")) or "/usr/bin/security"
    try:
        done = subprocess.run([exe, "find-generic-password", "-s", KEYCHAIN_SERVICE],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


# ---------------------------------------------------------------- helper


def helper_command(orenv_bin: str, directory: str) -> str:
    """The ``apiKeyHelper`` value: run by Claude Code through /bin/sh."""
    return f"{shlex.quote(orenv_bin)} token --dir {shlex.quote(directory)}"


def orenv_programs() -> set[str]:
    """Real paths of this orenv's program: the one on PATH/argv and the one beside Python."""
    candidates = [os.path.join(os.path.dirname(sys.executable), "orenv")]
    try:
        from .commands.hook import binary_path

        candidates.append(binary_path())
    except Exception:  # noqa: S110 - no orenv on PATH: the venv's own is enough
        pass
    return {os.path.realpath(c) for c in candidates if os.path.isfile(c)}


def is_orenv_helper(command: str, directory: str | None = None) -> bool:
    """Whether *command* is one ``orenv helper on`` writes (optionally for *directory*).

    The program must be given by an absolute path that is this orenv (a
    repository's ``./orenv-evil token --dir X`` is not), and the arguments
    exactly ``token --dir DIR``.
    """
    try:
        argv = shlex.split(command)
    except ValueError:
        return False
    if len(argv) != 4 or argv[1:3] != ["token", "--dir"] or not os.path.isabs(argv[0]):
        return False
    if os.path.realpath(argv[0]) not in orenv_programs():
        return False
    return directory is None or os.path.abspath(argv[3]) == os.path.abspath(directory)


def helper_is_ours(settings: SettingsFile) -> bool:
    """Whether *settings*' apiKeyHelper was written by ``orenv helper on`` (or is its command)."""
    value = settings.api_key_helper
    if value is None:
        return True
    if _ours(helper_record(settings.path)).get("apiKeyHelper") == value:
        return True
    claude_dir = os.path.dirname(os.path.abspath(settings.path))
    return is_orenv_helper(value, os.path.dirname(claude_dir))


def helper_record_file(settings_path: str | os.PathLike[str]) -> Path:
    digest = hashlib.sha256(os.fsencode(os.path.abspath(settings_path))).hexdigest()
    return paths.data_dir() / "helper" / f"{digest}.json"


def helper_record(settings_path: str | os.PathLike[str]) -> dict[str, Any]:
    """What ``orenv helper on`` added to *settings_path* (empty when nothing)."""
    try:
        data = json.loads(helper_record_file(settings_path).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def helper_records() -> list[str]:
    """Every settings file ``orenv helper on`` wrote to and has not taken back."""
    out = []
    try:
        names = sorted(os.listdir(paths.data_dir() / "helper"))
    except OSError:
        return []
    for name in names:
        try:
            data = json.loads((paths.data_dir() / "helper" / name).read_text())
        except (OSError, ValueError):
            continue
        where = data.get("path") if isinstance(data, dict) else None
        # The record is named after its path: anything else is not one of ours.
        if isinstance(where, str) and helper_record_file(where).name == name:
            out.append(where)
    return out


def _ours(record: Mapping[str, Any]) -> dict[str, str]:
    """What ``helper on`` wrote: ``apiKeyHelper`` and env names (records say ``env.NAME``)."""
    written = record.get("written")
    if not isinstance(written, dict):
        return {}
    return {str(k).removeprefix("env."): v for k, v in written.items()}


# ---------------------------------------------------------------- conflicts


def _truthy(value: str | None) -> bool:
    return bool(value) and str(value).strip().lower() not in ("0", "false", "no", "off", "")


def conflicts(
    directory: str,
    env: Mapping[str, str],
    *,
    policy_env: Mapping[str, str] | None,
    mode: str | None,
    policy_dir: str | None = None,
    files: list[SettingsFile] | None = None,
    login: Mapping[str, Any] | None = None,
) -> list[Finding]:
    """Everything that makes Claude Code, started in *directory*, not use orenv's setup.

    Args:
        directory: where Claude Code would start (its project settings live there).
        env: the environment it would inherit (this shell's).
        policy_env: what orenv applies here (secret left out), or None when
            no policy is active: then only informational findings are made.
        mode: the policy's mode (export, exec, helper).
        policy_dir: the directory holding the nearest policy file.
    """
    files = settings_files(directory, env) if files is None else files
    login = login_state(env) if login is None else login
    out: list[Finding] = []
    active = policy_env is not None
    wanted = dict(policy_env or {})
    orenv_vars = set(env.get("ORENV_VARS", "").split())

    # Cloud providers win over everything.
    for var in CLOUD_VARS:
        sources = [f"the shell ({var})"] if _truthy(env.get(var)) else []
        sources += [f.path for f in files if _truthy(f.env.get(var))]
        if sources:
            out.append(Finding(
                "error" if active else "info", "cloud-provider",
                f"{var} is set in {', '.join(sources)}: Claude Code then talks to the cloud "
                "provider, not OpenRouter",
                f"unset {var} (or remove it from the settings file's env block)"))

    if not active:
        _login_findings(out, login, mode=None)
        for f in files:
            if f.error:
                out.append(Finding("warning", "settings-invalid", f"{f.path} {f.error}",
                                   "fix the JSON; Claude Code may ignore or reject it"))
        return out

    # The shell's own variables, unless a settings env block replaces them.
    from_settings = {name for f in files if not f.error for name in f.env}
    api_key = env.get("ANTHROPIC_API_KEY")
    if api_key and "ANTHROPIC_API_KEY" not in from_settings:
        out.append(Finding(
            "error", "api-key-set",
            "ANTHROPIC_API_KEY is set and not empty in this shell: Claude Code sends it as "
            "x-api-key to OpenRouter and warns of an auth conflict",
            "unset ANTHROPIC_API_KEY in your shell profile (orenv sets it empty while active)"))
    if env.get("ANTHROPIC_AUTH_TOKEN") and "ANTHROPIC_AUTH_TOKEN" not in orenv_vars \
            and mode != "export":
        out.append(Finding(
            "error", "auth-token-outside",
            f"ANTHROPIC_AUTH_TOKEN is set in this shell but not by orenv (mode {mode}): "
            "it takes precedence over orenv's key",
            "unset ANTHROPIC_AUTH_TOKEN in your shell profile"))
    for name in sorted(env):
        if not name.startswith("ANTHROPIC_") or name in orenv_vars or name in from_settings:
            continue
        if name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"):
            continue
        if name in wanted and env[name] == wanted[name]:
            continue
        shown = "(value hidden)" if _secretish(name) else repr(env[name])
        if name in wanted:
            out.append(Finding(
                "warning", "shell-not-applied",
                f"{name}={shown} in this shell is not orenv's value: the hook has not "
                "applied this directory's policy to this shell",
                "install the hook (`orenv doctor` checks it) or press Enter for a new prompt"))
        else:
            out.append(Finding(
                "warning", "anthropic-var-outside",
                f"{name}={shown} is set outside orenv and Claude Code will use it",
                f"unset {name}, or add it to the policy's [env] if it belongs there"))

    # Settings files: env blocks and apiKeyHelper.
    effective_helper: SettingsFile | None = None
    for f in files:
        if f.error:
            out.append(Finding("warning", "settings-invalid", f"{f.path} {f.error}",
                               "fix the JSON; Claude Code may ignore or reject it"))
            continue
        commands = [c for c in f.commands if c != "apiKeyHelper"]
        if commands and f.from_repository:
            out.append(Finding(
                "warning", "settings-commands",
                f"{f.path} makes Claude Code run commands ({', '.join(commands)}): they run "
                "as you, with this shell's environment"
                + (" (the key included)" if mode == "export" else ""),
                "review them before you run claude here; code that runs as you can also "
                "read your keyring (SECURITY.md)"))
        ours = _ours(helper_record(f.path))
        for name, value in f.env.items():
            if name in ours and ours[name] == value and wanted.get(name) == value:
                continue
            if ours.get(name) == value and name not in wanted:
                project = os.path.dirname(os.path.dirname(f.path))
                out.append(Finding(
                    "warning", "helper-out-of-date",
                    f"{f.path} has {name} from `orenv helper on`, which the policy no longer "
                    "sets: Claude Code started there still uses it",
                    f"run `orenv helper on --dir {shlex.quote(project)}` to update it"))
                continue
            if name == "ANTHROPIC_AUTH_TOKEN":
                out.append(Finding(
                    "error", "settings-token",
                    f"{f.path} holds ANTHROPIC_AUTH_TOKEN in its env block: a plaintext key "
                    "that overrides orenv's (settings env beats the shell)",
                    f"remove ANTHROPIC_AUTH_TOKEN from {f.path} and rotate that key"))
            elif name in wanted:
                if value == wanted[name]:
                    continue
                severe = name == "ANTHROPIC_BASE_URL" or (name == "ANTHROPIC_API_KEY" and value)
                shown = "(value hidden)" if _secretish(name) else repr(value)
                if ours.get(name) == value:
                    # orenv's own entry, from before the policy changed.
                    project = os.path.dirname(os.path.dirname(f.path))
                    out.append(Finding(
                        "error" if severe else "warning", "helper-out-of-date",
                        f"{f.path} has {name}={shown} from `orenv helper on`, but the policy "
                        "now says otherwise: Claude Code started there uses the old value",
                        f"run `orenv helper on --dir {shlex.quote(project)}` to update it"))
                    continue
                out.append(Finding(
                    "error" if severe else "warning", "settings-env-override",
                    f"{f.path} sets {name}={shown}, overriding orenv's value "
                    "(a settings env block beats the shell's environment)",
                    f"remove {name} from the env block of {f.path}"))
            elif name.startswith("ANTHROPIC_") or name in CLOUD_VARS:
                if name in CLOUD_VARS:
                    continue  # reported above
                shown = "(value hidden)" if _secretish(name) else repr(value)
                out.append(Finding(
                    "warning", "settings-env-extra",
                    f"{f.path} sets {name}={shown}, which orenv does not manage; "
                    "Claude Code will use it",
                    f"remove {name} from {f.path} or move it to the policy's [env]"))
        if f.api_key_helper:
            effective_helper = f

    helper_dirs = [directory] + ([policy_dir] if policy_dir else [])
    if effective_helper is not None and effective_helper.api_key_helper is not None:
        mine = helper_is_ours(effective_helper) or any(
            is_orenv_helper(effective_helper.api_key_helper, d) for d in helper_dirs)
        if not mine:
            out.append(Finding(
                "error", "foreign-api-key-helper",
                f"{effective_helper.path} sets an apiKeyHelper that is not orenv's: Claude Code "
                "sends its output as x-api-key to OpenRouter (and uses it as the key in "
                "helper mode)",
                f"remove apiKeyHelper from {effective_helper.path}"))
        elif mode != "helper":
            out.append(Finding(
                "warning", "stale-helper",
                f"{effective_helper.path} has orenv's apiKeyHelper but the policy's mode is "
                f"{mode}",
                f"run `orenv helper off --dir {shlex.quote(directory)}` or set mode = \"helper\""))
        else:
            other = _helper_for_another_policy(effective_helper.api_key_helper, policy_dir)
            if other:
                out.append(Finding(
                    "warning", "helper-other-policy",
                    f"{effective_helper.path} (Claude Code's git-root settings here) asks orenv "
                    f"for the key of {other}, not of the policy that applies here, and its env "
                    "block sets that policy's models",
                    f"run `orenv helper on --dir {shlex.quote(directory)}` here"))
    elif mode == "helper":
        where = project_settings_path(directory)
        hint = ""
        if policy_dir and os.path.abspath(policy_dir) != os.path.abspath(directory) and \
                project_settings_path(policy_dir).exists():
            hint = (f" (there is one in {project_settings_path(policy_dir)}, but Claude Code "
                    "reads settings.local.json only where it starts and at its git root)")
        root = places.git_root(directory)
        fix = f"run `orenv helper on --dir {shlex.quote(directory)}`"
        if root is not None and os.path.realpath(root) != os.path.realpath(directory):
            fix += (f", or `orenv helper on --dir {shlex.quote(root)}` for the whole git "
                    "repository")
        out.append(Finding(
            "error", "helper-missing",
            f"mode is helper but {where} has no apiKeyHelper: Claude Code started here gets "
            f"no key{hint}", fix))

    _login_findings(out, login, mode=mode)
    return out


def _helper_for_another_policy(command: str, policy_dir: str | None) -> str | None:
    """The policy an orenv ``token --dir D`` command serves, when not *policy_dir*'s."""
    from .policy import find_nearest

    try:
        argv = shlex.split(command)
    except ValueError:
        return None
    if policy_dir is None or "--dir" not in argv[:-1]:
        return None
    served = find_nearest(argv[argv.index("--dir") + 1])
    if served is None or os.path.realpath(os.path.dirname(served)) == os.path.realpath(
            policy_dir):
        return None
    return served


def _login_findings(out: list[Finding], login: Mapping[str, Any], *, mode: str | None) -> None:
    active = mode is not None
    if login.get("managed_api_key"):
        severe = active and mode != "helper"
        out.append(Finding(
            "error" if severe else ("info" if not active else "warning"), "login-api-key",
            f"Claude Code is logged in with a Console API key ({login.get('file')}: "
            "primaryApiKey)" + (": it sends that Anthropic key as x-api-key to OpenRouter, "
                                "next to orenv's token" if severe else ""),
            "run `claude /logout` (or use mode = \"helper\", whose apiKeyHelper wins)"))
    if login.get("oauth_account") or login.get("oauth_credentials") or login.get("keychain"):
        where = (f" (the macOS Keychain item {KEYCHAIN_SERVICE!r})" if login.get("keychain")
                 else "")
        out.append(Finding(
            "warning" if active else "info", "login-subscription",
            f"Claude Code is logged in to a Claude subscription{where}: orenv's token takes "
            "precedence while set, but a missing token silently falls back to the "
            "subscription (requests to Anthropic, \"model not found\" for OpenRouter IDs)",
            "run `claude /logout` if requests still go to Anthropic"
            + (f" (if the item stays: `security delete-generic-password -s "
               f"{shlex.quote(KEYCHAIN_SERVICE)}`)" if login.get("keychain") else "")))
    if login.get("oauth_token_env"):
        out.append(Finding(
            "warning" if active else "info", "oauth-token-env",
            "CLAUDE_CODE_OAUTH_TOKEN is set in this shell", "unset CLAUDE_CODE_OAUTH_TOKEN"))


# ---------------------------------------------------------------- status


def status_entry(
    directory: str,
    env: Mapping[str, str],
    *,
    policy_env: Mapping[str, str] | None,
    mode: str | None,
    policy_dir: str | None = None,
) -> dict[str, Any]:
    """The ``claude`` block of ``orenv status --json``: settings, login, findings."""
    files = settings_files(directory, env)
    login = login_state(env)
    findings = conflicts(directory, env, policy_env=policy_env, mode=mode,
                         policy_dir=policy_dir, files=files, login=login)
    return {
        "settings": [
            {"path": f.path, "scope": f.scope,
             "env": sorted(f.env), "api_key_helper": f.api_key_helper is not None,
             **({"error": f.error} if f.error else {})}
            for f in files if f.exists
        ],
        "login": login,
        "findings": [x.as_dict() for x in findings],
    }


def status_lines(entry: Mapping[str, Any] | None) -> list[str]:
    if not entry:
        return []
    lines: list[str] = []
    for s in entry.get("settings", []):
        parts = []
        if s.get("env"):
            parts.append("env: " + ", ".join(s["env"]))
        if s.get("api_key_helper"):
            parts.append("apiKeyHelper")
        if s.get("error"):
            parts.append(s["error"])
        lines.append(f"claude:    {s['path']} ({s['scope']}; {'; '.join(parts) or 'no env'})")
    for f in entry.get("findings", []):
        lines.append(f"{f['severity']}:{' ' * max(1, 10 - len(f['severity']) - 1)}"
                     f"{f['message']}")
        if f.get("fix"):
            lines.append(f"  fix: {f['fix']}")
    return lines


def worst(findings: Iterable[Finding]) -> str:
    order = {s: i for i, s in enumerate(SEVERITIES)}
    return min((f.severity for f in findings), key=lambda s: order.get(s, 99), default="ok")


# ---------------------------------------------------------------- the CLI itself

# Claude Code 2.1.197 reads OpenRouter's dotted IDs (anthropic/claude-opus-4.5)
# as the 4.0 model: "Opus 4" in its header and /model, Opus 4 prices, "Claude
# Opus 4 was retired" as the main model. 2.1.332 maps the dot first (measured
# with both; versions between were not). Requests carry the ID either way.
DOTTED_IDS_READ_RIGHT = (2, 1, 332)
_DOTTED_RE = re.compile(r"claude-[a-z]+-\d{1,2}\.\d")


def code_version(env: Mapping[str, str]) -> tuple[int, ...] | None:
    """The installed Claude Code's version (``claude --version``), or None."""
    import shutil
    import subprocess

    exe = shutil.which("claude", path=env.get("PATH"))
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10,
                             stdin=subprocess.DEVNULL, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.match(r"\s*(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(x) for x in m.groups()) if m else None


def misread_ids(models: Iterable[str], version: tuple[int, ...] | None) -> list[str]:
    """Mapped IDs this Claude Code shows as an older model (display only)."""
    if version is None or version >= DOTTED_IDS_READ_RIGHT:
        return []
    return [m for m in models if _DOTTED_RE.search(m)]

