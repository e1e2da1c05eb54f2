"""Secret hygiene: after full scenarios, no key and no user's own Anthropic key anywhere.

Each scenario runs in a real interactive shell under a pty with the hook
installed, a real gnome-keyring of its own, and a /proc watcher polling every
process's argv and environment for the whole run. It goes through every mode
(export, exec, helper), the errors a user can provoke (missing key, broken
TOML, untrusted policy, a key pasted into the policy, locked keyring, keyring
service gone), and back out. Then it looks for the secrets in every file under
HOME, the XDG dirs, the project tree and the temp dirs, in every message the
shell printed, in every argv and environment seen, and for core dumps.

Each scenario runs with the daemon off (ORENV_NO_DAEMON=1: the hook runs
`orenv export`) and on (the hook starts and asks the daemon, whose logs under
XDG_STATE_HOME are part of the scan).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest
from conftest import Home
from harness import Shell
from keyringd import KeyringSession

from .support import (
    KINDS,
    ProcWatch,
    Secrets,
    find_core_dumps,
    orenv,
    policy_dir,
    scan_files,
    sha256_line,
)

POLICY = """\
[openrouter]
key = "work"
mode = "{mode}"
[models]
opus = "anthropic/claude-opus-4.5"
default = "sonnet"
[env]
API_TIMEOUT_MS = "600000"
"""

# Variables a shell may hold for reasons that have nothing to do with orenv.
_VOLATILE = ("PWD", "OLDPWD", "_", "SHLVL")


def _stable(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in _VOLATILE}


def _check_inside(env: dict[str, str], sec: Secrets, *, token: str | None) -> None:
    """Inside a project: the key only in ANTHROPIC_AUTH_TOKEN (export mode), user key nowhere."""
    if token is None:
        assert "ANTHROPIC_AUTH_TOKEN" not in env
    else:
        assert env["ANTHROPIC_AUTH_TOKEN"] == token
    assert env["ANTHROPIC_API_KEY"] == ""
    for name, value in env.items():
        found = sec.hits(f"{name}={value}")
        if name == "ANTHROPIC_AUTH_TOKEN" and token is not None and value == token:
            continue
        assert not found, f"{found} in exported {name}"


def _check_nothing_applied(env: dict[str, str], before: dict[str, str], sec: Secrets) -> None:
    assert "ANTHROPIC_AUTH_TOKEN" not in env
    assert env.get("ANTHROPIC_API_KEY") == sec.user_key  # the user's own, untouched
    for name in ("ANTHROPIC_BASE_URL", "ANTHROPIC_MODEL", "API_TIMEOUT_MS"):
        assert env.get(name) == before.get(name), name


def _one_line(out: str, *must: str) -> str:
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one message line, got {lines!r}"
    for text in must:
        assert text in lines[0], f"{text!r} not in {lines[0]!r}"
    return lines[0]


def _child_env(sh: Shell, command: str) -> dict[str, str]:
    """Environment of a child run as `command env -0` (e.g. `orenv exec -- env -0`)."""
    target = sh.dir / f"child-{time.monotonic_ns()}.env"
    sh.run(f"{command} > {sh.quote(target)}")
    data = target.read_bytes()
    target.unlink()  # holds the key in exec mode: gone before the file scan
    out = {}
    for item in data.split(b"\0"):
        k, sep, v = item.decode("utf-8", "surrogateescape").partition("=")
        if sep:
            out[k] = v
    return out


@pytest.mark.parametrize("daemon", ["off", "on"])
@pytest.mark.parametrize("kind", KINDS)
def test_full_scenario_leaves_no_secret_anywhere(
    kind: str, daemon: str, home: Home, private_keyring: KeyringSession, secret_values: Secrets,
    proc_watch: ProcWatch, shell_factory: object,
) -> None:
    sec = secret_values
    start = time.time() - 1
    home.env.update(private_keyring.env)
    messages: list[str] = []

    def cli(*args: str, input: str | None = None, check: bool = True) -> None:
        proc = orenv(home, *args, input=input, check=check)
        messages.extend([proc.stdout, proc.stderr])

    cli("key", "set", "work", input=sec.key)
    cli("key", "set", "other", input=sec.key2)
    exp = policy_dir(home, "src/exp", POLICY.format(mode="export"))
    exe = policy_dir(home, "src/exe", POLICY.format(mode="exec"))
    hlp = policy_dir(home, "src/hlp", POLICY.format(mode="helper"))
    other = policy_dir(home, "src/other", '[openrouter]\nkey = "other"\n')
    nokey = policy_dir(home, "src/nokey", '[openrouter]\nkey = "absent"\n')
    broken = policy_dir(home, "src/broken", '[openrouter]\nkey = "work"\nmode = export\n',
                        allow=False)
    untrusted = policy_dir(home, "src/untrusted", POLICY.format(mode="export"), allow=False)
    # A user pasting the key itself into the policy, in the ways people do.
    pasted = [
        policy_dir(home, "src/pasted1", f'[openrouter]\nkey = "{sec.key}"\n', allow=False),
        policy_dir(home, "src/pasted2", f"[openrouter]\nkey = {sec.key}\n", allow=False),
        policy_dir(home, "src/pasted3", f'[openrouter]\nkey = "work"\n[env]\nTOK = "{sec.key}"\n',
                   allow=False),
        policy_dir(home, "src/pasted4", f'[openrouter]\n"{sec.key}" = "work"\n', allow=False),
    ]
    cli("allow", str(pasted[0]), check=False)

    make = shell_factory  # type: ignore[assignment]
    extra = {"ORENV_NO_DAEMON": "1"} if daemon == "off" else {}
    sh: Shell = make(kind, env={**private_keyring.env, **extra,
                                "ANTHROPIC_API_KEY": sec.user_key})
    try:
        _scenario(kind, daemon, home, private_keyring, sec, proc_watch, sh, messages,
                  exp=exp, exe=exe, hlp=hlp, other=other, nokey=nokey, broken=broken,
                  untrusted=untrusted, pasted=pasted)
    finally:
        if daemon == "on":
            orenv(home, "daemon", "stop", check=False)
    _final_checks(kind, home, private_keyring, sec, proc_watch, sh, messages, start)


def _scenario(kind: str, daemon: str, home: Home, private_keyring: KeyringSession,
              sec: Secrets, proc_watch: ProcWatch, sh: Shell, messages: list[str], *,
              exp: Path, exe: Path, hlp: Path, other: Path, nokey: Path, broken: Path,
              untrusted: Path, pasted: list[Path]) -> None:
    before = sh.env()
    assert before["ANTHROPIC_API_KEY"] == sec.user_key

    # -- export mode
    out = sh.cd(exp)
    _one_line(out, "orenv: loaded exp")
    _check_inside(sh.env(), sec, token=sec.key)
    child = _child_env(sh, "command env -0")
    _check_inside(child, sec, token=sec.key)
    # The commands themselves do not depend on the shell: run them in one
    # combination only (each keyring read costs a new Python process).
    everything = kind == "bash" and daemon == "off"
    if everything:
        for line in ("orenv status", "orenv status --json", "orenv key list", "orenv allow",
                     "orenv prompt", "orenv key list --json", "orenv doctor"):
            messages.append(sh.run(line))
    out = sh.run("orenv exec -- printenv ANTHROPIC_AUTH_TOKEN | sha256sum")
    assert sha256_line(sec.key) in out
    (exp / "sub").mkdir()
    assert sh.cd(exp / "sub").strip() == ""
    if everything:
        sh.cd(other)
        _check_inside(sh.env(), sec, token=sec.key2)

    # -- exec mode: nothing secret in the shell, the key only in `orenv exec`'s child
    out = sh.cd(exe)
    _one_line(out, "exec mode")
    _check_inside(sh.env(), sec, token=None)
    child = _child_env(sh, "orenv exec -- env -0")
    _check_inside(child, sec, token=sec.key)
    if everything:
        messages.append(sh.run("orenv status"))

    # -- helper mode: the key only on `orenv token`'s stdout (a pipe here)
    out = sh.cd(hlp)
    _one_line(out, "helper mode")
    _check_inside(sh.env(), sec, token=None)
    assert sha256_line(sec.key) in sh.run("orenv token | sha256sum")

    # -- back out: the user's own key is back exactly
    out = sh.cd(home.path)
    _one_line(out, "unloaded")
    assert _stable(sh.env()) == _stable(before)

    # -- errors a user can provoke: one line each, nothing applied
    _one_line(sh.cd(nokey), "'absent' is not in the keyring")
    _check_nothing_applied(sh.env(), before, sec)
    _one_line(sh.cd(broken), "invalid TOML")
    _check_nothing_applied(sh.env(), before, sec)
    _one_line(sh.cd(untrusted), "not allowed yet")
    _check_nothing_applied(sh.env(), before, sec)
    for d in pasted if everything else pasted[-1:]:
        out = sh.cd(d)
        _one_line(out)
        messages.append(out)
        _check_nothing_applied(sh.env(), before, sec)
    sh.cd(home.path)

    private_keyring.lock()
    out = sh.cd(exp)
    messages.append(out)
    if daemon == "off" or "loaded" not in out:
        # The daemon may serve a key it read before the lock (as ssh-agent would).
        _one_line(out, "locked")
        _check_nothing_applied(sh.env(), before, sec)
    if everything:
        messages.append(sh.run("orenv key list"))
        messages.append(sh.run("orenv exec -- true"))
    sh.cd(home.path)
    private_keyring.kill_service()
    out = sh.cd(exp)
    messages.append(out)
    if daemon == "off" or "loaded" not in out:
        _one_line(out, "keyring")
        _check_nothing_applied(sh.env(), before, sec)
    if everything:
        messages.append(sh.run("orenv token"))
    out = sh.cd(home.path)
    assert _stable(sh.env()) == _stable(before)
    assert sh.run("echo alive").strip() == "alive"

    # The pasted-key files are the user's own doing: remove them before the scan.
    for d in pasted:
        (d / ".orenv.toml").unlink()


def _final_checks(kind: str, home: Home, private_keyring: KeyringSession, sec: Secrets,
                  proc_watch: ProcWatch, sh: Shell, messages: list[str], start: float) -> None:
    # -- every message the shell or orenv printed
    printed = [sh.startup_output, *messages, *(o for _, o in sh.transcript)]
    for text in printed:
        assert not sec.hits(text), f"secret in output: {text!r}"
        assert "Traceback" not in text and "internal error" not in text, text

    # -- every file: HOME, XDG dirs, project tree (under HOME), the shell's temp
    # dir, the keyring daemon's files, this test's temp dirs, and new files in
    # the system temp dirs.
    roots = [home.path, *(Path(v) for k, v in home.env.items() if k.startswith("XDG_")),
             sh.dir, private_keyring.base, home.path.parent]
    assert scan_files(roots, sec) == []
    assert scan_files([Path(tempfile.gettempdir()), Path("/dev/shm")], sec, since=start) == []
    assert find_core_dumps(roots) == []

    # -- every argv and environment seen while it ran
    proc_watch.stop()
    assert proc_watch.argv_hits(sec) == []
    assert proc_watch.environ_hits(sec) == []
    # The watcher did see orenv at work (so an empty result means something).
    assert any("orenv" in c for c in proc_watch.commands())
    # No process ever had both the OpenRouter key and the user's Anthropic key:
    # Claude Code would send the second one along (x-api-key) to OpenRouter.
    user_entry = b"ANTHROPIC_API_KEY=" + sec.user_key.encode()
    for token in (sec.key, sec.key2):
        both = set(proc_watch.processes_with(b"ANTHROPIC_AUTH_TOKEN=" + token.encode()))
        assert both.isdisjoint(proc_watch.processes_with(user_entry))


def test_key_set_from_a_shell_never_in_argv_or_history(
    home: Home, secret_values: Secrets, proc_watch: ProcWatch, shell_factory: object,
) -> None:
    """`printf KEY | orenv key set` is the documented pipe; the key passes only via stdin.

    A builtin printf forks no process, so the key is in no argv; a user who
    passes the key as an argument gets a usage error that does not echo it.
    """
    sec = secret_values
    make = shell_factory  # type: ignore[assignment]
    sh: Shell = make("bash")
    keyfile = sh.dir / "k"
    keyfile.write_text(sec.key)
    out = sh.run(f"orenv key set pipe < {sh.quote(keyfile)}")
    assert "pipe" in out and not sec.hits(out)
    keyfile.unlink()
    proc = orenv(home, "key", "set", "argv", sec.key, check=False)
    assert proc.returncode != 0
    assert not sec.hits(proc.stdout + proc.stderr)
    proc = orenv(home, "key", "list")
    assert "sk-or-v1-" in proc.stdout and not sec.hits(proc.stdout)
    proc_watch.stop()
    # The one argv that holds the key is the one this test itself put there.
    hits = [c for c, _ in proc_watch.argv_hits(sec) if " argv " not in c]
    assert hits == []
    assert scan_files([home.path, sh.dir], sec) == []


@pytest.mark.parametrize("kind", KINDS)
def test_leaving_restores_users_own_key_exactly(
    kind: str, home: Home, secret_values: Secrets, shell_factory: object,
) -> None:
    """Exported, unexported and unset states of the user's own values all come back."""
    sec = secret_values
    orenv(home, "key", "set", "work", input=sec.key)
    proj = policy_dir(home, "p", POLICY.format(mode="export"))
    make = shell_factory  # type: ignore[assignment]
    sh: Shell = make(kind, env={"ANTHROPIC_API_KEY": sec.user_key})
    # An unexported shell variable of the user's with the same name as one orenv sets.
    local = {"zsh": "ANTHROPIC_MODEL=mine", "bash": "ANTHROPIC_MODEL=mine",
             "fish": "set -g ANTHROPIC_MODEL mine"}[kind]
    sh.run(local)
    before = sh.env()
    for _ in range(3):
        sh.cd(proj)
        assert sh.env()["ANTHROPIC_API_KEY"] == ""
        sh.cd(home.path)
    after = sh.env()
    assert _stable(after) == _stable(before)
    assert after["ANTHROPIC_API_KEY"] == sec.user_key
    assert "ANTHROPIC_MODEL" not in after  # still only a shell variable
    assert sh.run("echo $ANTHROPIC_MODEL").strip() == "mine"
    # The saved value lives only in non-exported shell variables.
    assert not any(sec.hits(f"{k}={v}") for k, v in after.items() if k != "ANTHROPIC_API_KEY")
    assert os.environ.get("ANTHROPIC_API_KEY") is None
