"""Hostile input: policy files and values a cloned repository could carry.

Properties, for `orenv export zsh|bash|fish`:

* it never crashes: exit 0, nothing on stderr, no traceback;
* stdout is only calls of the hook's four functions, correctly quoted;
* it never half-applies: either the policy's whole set of variables or only
  orenv's non-secret ORENV_* markers;
* it says at most one message, on one line with no control characters (and
  exactly one unless the policy switches orenv off).

The hypothesis tests run `orenv.cli.main` in-process (milliseconds per
example) with an in-memory keyring; special files also go through the real
`orenv export` program and real interactive shells under a pty. Values and
[env] names go through the real zsh, bash and fish with the real hook
functions: they arrive literally or are refused, and a canary directory
shows nothing was executed.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import keyring
import pytest
from conftest import Home
from harness import Shell, base_path, venv_bin
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import orenv as orenv_pkg
from orenv import cli, shells, trust
from orenv.policy import env_name_problem

from .support import KINDS, MemoryKeyring, orenv, parse_export

KEY = "sk-or-v1-" + "5e" * 32
FUZZ = settings(max_examples=250, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
SHELL_FUZZ = settings(max_examples=40, deadline=None, database=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture,
                                             HealthCheck.too_slow])
MARKER_PREFIX = "ORENV_"
_CONTROL = {chr(c) for c in (*range(0x20), 0x7F)}


@pytest.fixture
def mem_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    kr = MemoryKeyring()
    kr.set_password("orenv", "work", KEY)
    keyring.set_keyring(kr)
    yield kr
    keyring.set_keyring(previous)


def export_inprocess(kind: str, directory: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main(["export", kind, "--dir", str(directory)])
    return rc, out.getvalue(), err.getvalue()


def check_export(kind: str, rc: int, out: str, err: str) -> dict[str, str]:
    """The properties every `orenv export` must have; returns the variables set."""
    assert rc == 0, (rc, err)
    assert err == "", err
    assert "Traceback" not in out
    calls = parse_export(kind, out)  # raises on anything but the hook's calls
    sets: dict[str, str] = {}
    msgs = []
    for name, args in calls:
        if name == "__orenv_set":
            sets[args[0]] = args[1]
        elif name == "__orenv_msg":
            msgs.append(args[0])
        else:
            assert name in ("__orenv_watching", "__orenv_unset"), name
    state = sets.get("ORENV_STATE")
    if state == "active":
        assert "ANTHROPIC_BASE_URL" in sets and sets.get("ANTHROPIC_API_KEY") == ""
        assert sets["ORENV_VARS"].split() == list(sets)
    else:
        # Nothing but markers: never a piece of the policy.
        assert all(k.startswith(MARKER_PREFIX) for k in sets), sets
    assert len(msgs) <= 1, msgs
    if state not in ("disabled", None):
        assert len(msgs) == 1, (state, out)
    for m in msgs:
        assert m.startswith("orenv: ")
        assert not (set(m) & _CONTROL), repr(m)
    return sets


# ------------------------------------------------------------------ random policies

_SCALARS = st.one_of(
    st.sampled_from(['"work"', '"export"', '"exec"', '"helper"', "true", "false", "1", "-1",
                     "1e400", "nan", "inf", '""', '"https://openrouter.ai/api"',
                     '"http://127.0.0.1:9/api"', '"https://evil.example/api"', "[]",
                     '["anthropic"]', "{}", "{ prompt = 5 }", "1979-05-27T07:32:00Z",
                     "'''multi\nline'''", '"\\u0000"', '"\\u001b[2J"', '"a\\nb"']),
    st.text(max_size=20).map(lambda t: '"' + t.replace("\\", "\\\\").replace('"', '\\"')
                             .replace("\n", "\\n") + '"'),
    st.integers().map(str),
)
_KEYS = st.one_of(
    st.sampled_from(["key", "base_url", "mode", "opus", "sonnet", "haiku", "default",
                     "subagent", "inherit", "enabled", "name", "order", "zdr", "sort",
                     "warn_below_usd", "API_TIMEOUT_MS", "PATH", "LD_PRELOAD", "X",
                     '"quoted key"', "a.b.c", "referer", "title"]),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,12}", fullmatch=True),
)
_HEADERS = st.sampled_from(["[openrouter]", "[models]", "[env]", "[budget]", "[routing]",
                            "[attribution]", "[routing.max_price]", "[[env]]", "[bogus]",
                            "[openrouter.deep.er]", "["])
_LINE = st.one_of(
    _HEADERS,
    st.tuples(_KEYS, _SCALARS).map(lambda kv: f"{kv[0]} = {kv[1]}"),
    st.text(max_size=30),
    st.sampled_from(["# comment", "", "key = ", "= 1", "[[[", '"""', "x = [[[[[[[1]]]]]]]"]),
)
TOML_ISH = st.lists(_LINE, max_size=25).map(lambda ls: "\n".join(ls).encode("utf-8",
                                                                         "surrogatepass"))
VALID_START = st.lists(_LINE, max_size=12).map(
    lambda ls: ("[openrouter]\nkey = \"work\"\n" + "\n".join(ls)).encode("utf-8",
                                                                       "surrogatepass"))
POLICY_BYTES = st.one_of(TOML_ISH, VALID_START, st.binary(max_size=300),
                         st.text(max_size=300).map(lambda t: t.encode("utf-8",
                                                                      "surrogatepass")))


@FUZZ
@given(content=POLICY_BYTES, kind=st.sampled_from(KINDS))
def test_random_policies_never_crash_or_half_apply(
    tmp_path: Path, mem_keyring: MemoryKeyring, content: bytes, kind: str,
) -> None:
    proj = tmp_path / "proj"
    proj.mkdir(exist_ok=True)
    policy = proj / ".orenv.toml"
    policy.write_bytes(content)
    trust.allow(str(policy), content)  # as if the user had allowed it: reach validation
    check_export(kind, *export_inprocess(kind, proj))


# ------------------------------------------------------------------ special files

def _deep(n: int) -> bytes:
    return ("x = " + "[" * n + "]" * n + "\n").encode()


def _big_valid() -> bytes:
    body = '[openrouter]\nkey = "work"\n'
    return (body + "# " + "x" * (256 * 1024 - len(body) - 4) + "\n").encode()


SPECIAL: dict[str, Callable[[Path], None]] = {
    "directory": lambda p: p.mkdir(),
    "symlink-loop": lambda p: (os.symlink(p.parent / "b", p), os.symlink(p, p.parent / "b")),
    "self-symlink": lambda p: os.symlink(p, p),
    "dangling-symlink": lambda p: os.symlink(p.parent / "nowhere", p),
    "fifo": lambda p: os.mkfifo(p),
    "socket": lambda p: _bind_socket(p),
    "dev-zero": lambda p: os.symlink("/dev/zero", p),
    "dev-urandom": lambda p: os.symlink("/dev/urandom", p),
    "proc-self-stdin": lambda p: os.symlink("/proc/self/fd/0", p),
    "huge-sparse": lambda p: _sparse(p, 1 << 34),
    "one-byte-too-big": lambda p: p.write_bytes(b"#" * (256 * 1024 + 1)),
    "at-the-limit": lambda p: p.write_bytes(_big_valid()),
    "deep-arrays": lambda p: p.write_bytes(_deep(60000)),
    "deep-inline-tables": lambda p: p.write_bytes(
        b"x = " + b"{a=" * 30000 + b"1" + b"}" * 30000 + b"\n"),
    "deep-dotted-table": lambda p: p.write_bytes(b"[" + b".".join([b"a"] * 40000) + b"]\n"),
    "deep-dotted-key": lambda p: p.write_bytes(b".".join([b"a"] * 40000) + b" = 1\n"),
    "bad-utf8": lambda p: p.write_bytes(b'[openrouter]\nkey = "w\xff\xfeork"\n'),
    "utf16-bom": lambda p: p.write_bytes('[openrouter]\nkey = "work"\n'.encode("utf-16")),
    "nul-bytes": lambda p: p.write_bytes(b'[openrouter]\nkey = "work"\x00\n'),
    "redos-header": lambda p: p.write_bytes(
        b'[env]\nX = """\n[' + b" " * 200_000 + b'\n"""\nPATH = "x"\n'),
    "control-chars-in-key": lambda p: p.write_bytes(
        b'[openrouter]\n"\\u001b]0;pwned\\u0007\\u001b[2J\\r" = 1\n'),
}


def _bind_socket(p: Path) -> None:
    from orenv.daemon.client import sun_path

    s = socket.socket(socket.AF_UNIX)
    path, dir_fd = sun_path(str(p))  # a long TMPDIR: through the directory
    try:
        s.bind(path)
    finally:
        if dir_fd >= 0:
            os.close(dir_fd)
    s.close()


def _sparse(p: Path, size: int) -> None:
    with open(p, "wb") as fh:
        fh.truncate(size)


@pytest.fixture
def special_dirs(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name, make in SPECIAL.items():
        d = tmp_path / "special" / name
        d.mkdir(parents=True)
        make(d / ".orenv.toml")
        with contextlib.suppress(OSError):
            st_ = os.stat(d / ".orenv.toml")
            if stat.S_ISREG(st_.st_mode) and st_.st_size < (1 << 20):
                content = (d / ".orenv.toml").read_bytes()
                trust.allow(str(d / ".orenv.toml"), content)
        out[name] = d
    return out


@pytest.mark.timeout(90)
def test_special_files_real_export(special_dirs: dict[str, Path], home: Home) -> None:
    """The real `orenv export` program: exit 0, shell code only, one line, within 1 s."""
    import time

    env = {"PATH": base_path(), "LANG": "C.UTF-8", **home.env, "ORENV_NO_DAEMON": "1",
           # this process's (isolated) trust store, where the fixture allowed the files
           **{k: os.environ[k] for k in ("HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME",
                                          "XDG_STATE_HOME", "XDG_RUNTIME_DIR")}}
    slow = {}
    for name, d in special_dirs.items():
        for kind in KINDS:
            start = time.monotonic()
            proc = subprocess.run([str(venv_bin() / "orenv"), "export", kind],
                                  cwd=d, env={**env, "PWD": str(d)}, capture_output=True,
                                  text=True, timeout=20, stdin=subprocess.DEVNULL,
                                  check=False)
            took = time.monotonic() - start
            try:
                sets = check_export(kind, proc.returncode, proc.stdout, proc.stderr)
            except AssertionError as exc:
                raise AssertionError(f"{name} ({kind}): {exc}") from None
            if name != "at-the-limit":
                assert sets.get("ORENV_STATE") in ("error", "blocked"), (name, sets)
            if took > 1.0:
                slow[f"{name}/{kind}"] = round(took, 2)
    # One process costs ~0.15 s on an idle machine; allow for a loaded CI box,
    # but a pathological input (backtracking, reading a device) takes far longer.
    assert all(t < 5 for t in slow.values()), slow


def test_special_files_inprocess_messages(special_dirs: dict[str, Path],
                                          mem_keyring: MemoryKeyring) -> None:
    for name, d in special_dirs.items():
        for kind in KINDS:
            sets = check_export(kind, *export_inprocess(kind, d))
            if name == "at-the-limit":
                assert sets["ORENV_STATE"] == "active"
                assert sets["ANTHROPIC_AUTH_TOKEN"] == KEY


def test_unreadable_policy_as_unprivileged_user(tmp_path: Path) -> None:
    """Root reads anything, so drop to `nobody` with setpriv for a real EACCES.

    nobody may not be able to read this checkout (a clone inside a 0700 home)
    or reach TMPDIR: the orenv package is copied under /tmp and run with the
    system Python (`orenv export` needs the standard library only).
    """
    base = Path(tempfile.mkdtemp(prefix="orenv-unreadable-", dir="/tmp"))
    try:
        base.chmod(0o755)
        code = base / "code"
        shutil.copytree(Path(orenv_pkg.__file__).parent, code / "orenv",
                        ignore=shutil.ignore_patterns("__pycache__"))
        subprocess.run(["chmod", "-R", "a+rX", str(code)], check=True)
        home = base / "home"
        home.mkdir()
        os.chown(home, 65534, 65534)
        proj = base / "proj"
        proj.mkdir(mode=0o755)
        (proj / ".orenv.toml").write_text('[openrouter]\nkey = "work"\n')
        (proj / ".orenv.toml").chmod(0o000)
        env = {"PATH": base_path(), "HOME": str(home), "LANG": "C.UTF-8",
               "ORENV_NO_DAEMON": "1", "PWD": str(proj), "PYTHONDONTWRITEBYTECODE": "1"}
        run = ("import sys; sys.path.insert(0, sys.argv.pop(1)); "
               "from orenv.cli import main; sys.exit(main())")
        for kind in KINDS:
            proc = subprocess.run(
                ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                 "/usr/bin/python3", "-I", "-c", run, str(code), "export", kind],
                cwd=proj, env=env, capture_output=True, text=True, timeout=20, check=False)
            sets = check_export(kind, proc.returncode, proc.stdout, proc.stderr)
            assert sets["ORENV_STATE"] == "error"
            assert "cannot read (Permission denied)" in proc.stdout
    finally:
        subprocess.run(["rm", "-rf", str(base)], check=False)


def test_policy_replaced_during_read(tmp_path: Path, mem_keyring: MemoryKeyring) -> None:
    """A writer swapping and rewriting the policy in place while exports run.

    Every export sees policy A whole, policy B whole, or applies nothing.
    """
    proj = tmp_path / "proj"
    proj.mkdir()
    policy = proj / ".orenv.toml"
    texts = {tag: (f'[openrouter]\nkey = "work"\n[models]\nopus = "{tag}-opus"\n'
                   f'[env]\nTAG = "{tag}"\nOTHER = "{tag}-{"x" * 3000}"\n').encode()
             for tag in ("A", "B")}
    for content in texts.values():
        policy.write_bytes(content)
        trust.allow(str(policy), content)
    stop = threading.Event()

    def writer() -> None:
        i = 0
        while not stop.is_set():
            content = texts["AB"[i % 2]]
            if i % 3 == 0:
                tmp = proj / ".tmp"
                tmp.write_bytes(content)
                os.replace(tmp, policy)
            else:
                with open(policy, "r+b") as fh:  # in place: readers may see a mix
                    fh.truncate(0)
                    for k in range(0, len(content), 512):
                        fh.write(content[k:k + 512])
                        fh.flush()
            i += 1

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    seen = {"A": 0, "B": 0, "nothing": 0}
    try:
        for n in range(150):
            kind = KINDS[n % 3]
            sets = check_export(kind, *export_inprocess(kind, proj))
            if sets.get("ORENV_STATE") == "active":
                tag = sets["TAG"]
                assert sets["ANTHROPIC_DEFAULT_OPUS_MODEL"] == f"{tag}-opus"
                assert sets["OTHER"] == f"{tag}-{'x' * 3000}"
                seen[tag] += 1
            else:
                seen["nothing"] += 1
    finally:
        stop.set()
        t.join(5)
    assert seen["A"] + seen["B"] > 0, seen


# ------------------------------------------------------------------ real shells survive

@pytest.mark.parametrize("kind", KINDS)
def test_shell_survives_hostile_policies(kind: str, home: Home, tmp_path: Path,
                                         shell_factory: Callable[..., Shell]) -> None:
    picks = ["fifo", "symlink-loop", "directory", "deep-arrays", "bad-utf8", "huge-sparse",
             "redos-header", "control-chars-in-key", "proc-self-stdin"]
    sh = shell_factory(kind, env={"ORENV_NO_DAEMON": "1"})
    start_env = sh.env()
    for name in picks:
        d = home.path / "hostile" / name
        d.mkdir(parents=True)
        SPECIAL[name](d / ".orenv.toml")
        out = sh.cd(d, timeout=20)
        lines = [ln for ln in out.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("orenv: "), (name, out)
        assert "\x1b" not in out and "\x07" not in out, (name, out)
        env = sh.env()
        assert not any(k.startswith("ANTHROPIC_") for k in env), (name, env)
        assert sh.run("echo alive").strip() == "alive", name
    out = sh.cd(home.path)
    env = sh.env()
    left = [k for k in env if k.startswith(("ANTHROPIC_", "ORENV_")) and k not in start_env]
    assert left == [], (out, left)


# ------------------------------------------------------------------ values and names

ATTACKS = [
    "$(touch {c}/dollar)", "`touch {c}/backtick`", "'; touch {c}/squote; '",
    "\"; touch {c}/dquote; \"", "\\'; touch {c}/bsquote #", "(touch {c}/fishsub)",
    "$(touch {c}/fish-dollar)", "\n touch {c}/newline\n", "; touch {c}/semi",
    "| touch {c}/pipe", "&& touch {c}/and", "${{IFS}}touch${{IFS}}{c}/ifs",
    "\\\n touch {c}/bsnl", "'\\'' ; touch {c}/mixed ; '\\''", "%(touch {c}/pct)",
    "\\x27; touch {c}/hex", "\r touch {c}/cr", "*", "~", "{{a,b}}", "!!", "$HOME",
]
_VALUE_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
VALUES = st.one_of(
    st.text(_VALUE_CHARS, max_size=40),
    st.sampled_from(ATTACKS),
    st.tuples(st.text(_VALUE_CHARS, max_size=8), st.sampled_from(ATTACKS),
              st.text(_VALUE_CHARS, max_size=8)).map("".join),
)


def toml_string(value: str) -> str:
    out = []
    for ch in value:
        if ch in '"\\' or ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


class RealShells:
    """Runs export output through the real hook functions of each shell."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.hooks = {}
        for kind in KINDS:
            hook = root / f"hook.{kind}"
            hook.write_text(shells.get(kind).hook(str(venv_bin() / "orenv")))
            self.hooks[kind] = hook

    def apply(self, kind: str, export_code: str, cwd: Path) -> tuple[dict[str, str], str]:
        code = self.root / f"out.{kind}"
        code.write_text(export_code)
        envfile = self.root / f"env.{kind}"
        q = shells.get(kind).quote
        if kind == "fish":
            argv = ["fish", "--no-config", "-c",
                    f"source {q(str(self.hooks[kind]))}; source {q(str(code))}; "
                    f"env -0 > {q(str(envfile))}"]
        else:
            flags = ["-f"] if kind == "zsh" else ["--norc", "--noprofile"]
            argv = [kind, *flags, "-c",
                    f"source {q(str(self.hooks[kind]))}; eval \"$(cat {q(str(code))})\"; "
                    f"env -0 > {q(str(envfile))}"]
        proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=20,
                              env={"PATH": base_path(), "HOME": str(self.root),
                                   "LANG": "C.UTF-8", "ORENV_NO_DAEMON": "1",
                                   "TERM": "dumb"}, check=False)
        env = {}
        for item in envfile.read_bytes().split(b"\0"):
            k, sep, v = item.decode("utf-8", "surrogateescape").partition("=")
            if sep:
                env[k] = v
        return env, proc.stderr


@pytest.fixture
def real_shells(tmp_path: Path) -> RealShells:
    root = tmp_path / "real"
    root.mkdir()
    return RealShells(root)


@SHELL_FUZZ
@given(values=st.lists(VALUES, min_size=1, max_size=4))
def test_values_reach_all_shells_literally(
    tmp_path: Path, mem_keyring: MemoryKeyring, real_shells: RealShells, values: list[str],
) -> None:
    canary = tmp_path / "canary"
    canary.mkdir(exist_ok=True)
    values = [v.replace("{c}", str(canary)) for v in values]
    proj = tmp_path / "vals"
    proj.mkdir(exist_ok=True)
    lines = ['[openrouter]', 'key = "work"', "[models]", f"opus = {toml_string(values[0])}",
             "[env]"]
    lines += [f"V{i} = {toml_string(v)}" for i, v in enumerate(values)]
    content = "\n".join(lines).encode()
    (proj / ".orenv.toml").write_bytes(content)
    trust.allow(str(proj / ".orenv.toml"), content)
    for kind in KINDS:
        sets = check_export(kind, *export_inprocess(kind, proj))
        if sets.get("ORENV_STATE") != "active":
            # Refused (a value that looks like a key): nothing set, that is fine.
            continue
        _, out, _ = export_inprocess(kind, proj)
        env, err = real_shells.apply(kind, out, canary)
        assert list(canary.iterdir()) == [], f"{kind} executed something: {values!r}"
        assert err.startswith("orenv: loaded") and err.count("\n") == 1, (kind, err)
        for i, v in enumerate(values):
            assert env.get(f"V{i}") == v, (kind, i, v, env.get(f"V{i}"))
        assert env["ANTHROPIC_DEFAULT_OPUS_MODEL"] == values[0]
        assert env["ANTHROPIC_AUTH_TOKEN"] == KEY


# Names special to one of the shells: read-only, privilege-changing, code-running.
SHELL_SPECIAL = [
    "UID", "EUID", "GID", "EGID", "USERNAME", "PPID", "status", "pipestatus", "argv",
    "path", "fpath", "cdpath", "manpath", "module_path", "mailpath", "psvar", "PS0",
    "PROMPT", "PROMPT2", "PROMPT3", "PROMPT4", "RPROMPT", "RPS1", "RPS2", "SPROMPT",
    "prompt", "TMOUT", "PWD", "OLDPWD", "SHLVL", "history", "version", "hostname",
    "umask", "GROUPS", "BASHPID", "FUNCNAME", "LINENO", "RANDOM", "SECONDS", "HISTCMD",
    "MAILPATH", "MAIL", "FIGNORE", "GLOBIGNORE", "EXECIGNORE", "HOSTFILE", "FUNCNEST",
    "CMD_DURATION", "last_pid", "_", "STTY", "NULLCMD", "READNULLCMD", "KEYTIMEOUT",
    "TRAPZERR", "TRAPDEBUG", "TRAPEXIT", "POSIXLY_CORRECT", "REPLY", "OPTIND", "mapfile",
    "parameters", "options", "functions", "commands", "aliases", "watch", "WATCH",
]
NAMES = st.one_of(
    st.sampled_from(SHELL_SPECIAL),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,16}", fullmatch=True),
    st.text(max_size=12),
)


@SHELL_FUZZ
@given(name=NAMES, value=st.sampled_from(["$(touch {c}/n)", "1", "x y", "65534",
                                          "path[$(touch {c}/m)]", "a[$(touch {c}/b)]"]))
def test_env_names_set_literally_or_refused(
    tmp_path: Path, mem_keyring: MemoryKeyring, real_shells: RealShells, name: str,
    value: str,
) -> None:
    canary = tmp_path / "canary"
    canary.mkdir(exist_ok=True)
    value = value.replace("{c}", str(canary))
    proj = tmp_path / "names"
    proj.mkdir(exist_ok=True)
    content = (f'[openrouter]\nkey = "work"\n[env]\n{toml_string(name)} = '
               f"{toml_string(value)}\n").encode()
    (proj / ".orenv.toml").write_bytes(content)
    trust.allow(str(proj / ".orenv.toml"), content)
    accepted = env_name_problem(name) is None
    # A name that is not known to be harmless applies only once the user lists
    # it in allow_env; listed, it must reach every shell literally.
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "orenv" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f"allow_env = [{toml_string(name)}]\n" if accepted else "")
    for kind in KINDS:
        sets = check_export(kind, *export_inprocess(kind, proj))
        if not accepted:
            assert sets.get("ORENV_STATE") == "error"
            continue
        assert sets["ORENV_STATE"] == "active"
        _, out, _ = export_inprocess(kind, proj)
        env, err = real_shells.apply(kind, out, canary)
        assert list(canary.iterdir()) == []
        assert err.startswith("orenv: loaded") and err.count("\n") == 1, \
            f"{kind}: [env] {name!r} was accepted but the shell said {err!r}"
        assert env.get(name) == value, (kind, name, env.get(name))
        assert env.get("ANTHROPIC_AUTH_TOKEN") == KEY


@pytest.mark.parametrize("name", SHELL_SPECIAL)
def test_shell_special_names_are_refused(name: str) -> None:
    assert env_name_problem(name) is not None


@pytest.mark.parametrize("kind", KINDS)
def test_prompt_and_privilege_names_refused_in_real_shells(
    kind: str, home: Home, shell_factory: Callable[..., Shell],
) -> None:
    """PS0 / PROMPT would run code at every prompt, UID would setuid a root zsh."""
    orenv(home, "key", "set", "work", input=KEY)
    canary = home.path / "canary"
    canary.mkdir()
    sh = shell_factory(kind, env={"ORENV_NO_DAEMON": "1"},
                       rc_before="setopt prompt_subst" if kind == "zsh" else "")
    for name in ("PS0", "PROMPT", "UID", "status", "TMOUT"):
        d = home.path / f"p-{name}"
        d.mkdir()
        (d / ".orenv.toml").write_text(
            f'[openrouter]\nkey = "work"\n[env]\n{name} = "$(touch {canary}/{name})"\n')
        orenv(home, "allow", str(d), check=False)
        out = sh.cd(d)
        assert f"env.{name}" in out, out
        sh.run("true")
        env = sh.env()
        assert "ANTHROPIC_AUTH_TOKEN" not in env
        assert sh.run("id -u").strip() == str(os.getuid())
    assert list(canary.iterdir()) == []
