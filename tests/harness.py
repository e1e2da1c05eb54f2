"""Real interactive zsh, bash, fish and nu under a pty, with the orenv hook installed.

The rc file is what a user would write: optional user lines (``rc_before``),
the hook line, more user lines (``rc_after``). The harness then appends its own
prompt section, *after* the hook, that only adds to the shell's hooks:

* a prompt marker ``<<TOKEN:PID:N>>`` where TOKEN is random per Shell, PID is
  the shell process ($$ / $fish_pid) and N counts that process's prompts
  (zsh: a precmd function appended last; bash: arithmetic in PS1;
  fish: a ``fish_prompt`` event handler plus a ``fish_prompt`` function; nu: a
  ``pre_prompt`` hook counting into a record and ``PROMPT_COMMAND``). The
  rc text never contains an expanded marker, so ``set``/``typeset`` output
  cannot be mistaken for a prompt; repaints (fish redraws while typing) repeat
  the old N and are skipped. A nested shell run with the same rc (e.g.
  ``sh.run(f"bash --noprofile --rcfile {sh.rc_file} -i")``) has its own PID, so
  its prompts and the outer one after ``exit`` are recognised with no help.
* a start marker ``<<TOKEN:go>>`` printed just before a command runs (zsh
  preexec, bash PS0, fish ``fish_preexec``, nu ``pre_execution``) so the echoed command line is cut
  off exactly. Lines with no command (empty) have no start marker: then
  everything up to the first newline is taken as the echo.
* cosmetic terminal noise is turned off or stripped: zsh PROMPT_SP and
  bracketed paste, fish's missing-newline ``⏎`` line, nu's (reedline's) cursor
  movements; reedline's cursor-position queries are answered as a terminal would.

nu cannot evaluate code at run time, so its hook is installed the way the
README shows for a file one sources: the env config (``env.nu``, run before
``config.nu`` is read) saves ``orenv hook nu`` to a file and the rc
(``config.nu``) sources it where the hook line goes.

None of this forks, so fork counts (strace) of an idle prompt are the hook's.

``run(line)`` sends a line only after the prompt is drawn and returns what was
printed up to the next prompt, including anything the hook printed at that
prompt (precmd / PROMPT_COMMAND / fish_prompt run before the prompt).
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shlex
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import pexpect

__all__ = [
    "ALL_KINDS",
    "KINDS",
    "REPO_ROOT",
    "Shell",
    "ShellError",
    "ShellTimeoutError",
    "base_path",
    "venv_bin",
]

KINDS = ("zsh", "bash", "fish")
# Every shell the harness can run; nu also needs `make deps` (npm `nushell`).
ALL_KINDS = (*KINDS, "nu")
REPO_ROOT = Path(__file__).resolve().parent.parent
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Terminal noise printed before a prompt: zsh PROMPT_SP (if a user turns it back
# on) and fish's "missing newline" indicator.
_NOISE = re.compile(r"(?:\u23ce *\r\u23ce \r\r?|[%#] +\r \r\r?)")
_ESC = re.compile(r"\x1b\[\?2004[hl]")
# reedline (nu) redraws with cursor movements, saves and restores.
_NU_ESC = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]")
_CURSOR_QUERY = "\x1b[6n"


def nu_exe() -> str | None:
    """The nu binary: on PATH, else the one `make deps` installs (npm `nushell`)."""
    found = shutil.which("nu", path=SYSTEM_PATH)
    if found:
        return found
    local = REPO_ROOT / ".tools" / "nu" / "bin" / "nu"
    if local.exists():
        return str(local)
    for candidate in sorted((REPO_ROOT / ".tools" / "nu" / "node_modules" / "@nushell")
                            .glob("*/bin/nu")):
        return str(candidate)
    return None


class ShellError(AssertionError):
    """The shell did not behave: it died, or printed something unexpected."""


class ShellTimeoutError(ShellError):
    """No prompt appeared in time; the message holds the output so far."""


def venv_bin() -> Path:
    """The bin dir of the project venv (the one running the tests, else ./.venv)."""
    local = REPO_ROOT / ".venv" / "bin"
    if (local / "orenv").exists():
        return local
    return Path(sys.executable).parent


def base_path(*first: str | os.PathLike[str]) -> str:
    """PATH for children: *first*, the venv bin dir, then the system dirs."""
    parts = [str(p) for p in first] + [str(venv_bin()), SYSTEM_PATH]
    return os.pathsep.join(parts)


def _terminal_signals() -> None:
    """Signals as a terminal gives them to a shell: a test run started in the
    background (CI scripts, `cmd &`) ignores SIGINT and SIGQUIT, and a shell
    that starts with them ignored refuses the user's own traps."""
    for sig in (signal.SIGINT, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_DFL)


def _fish_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _nu_quote(value: str) -> str:
    # Plain double quotes interpolate nothing; escapes only (as orenv.shells.nu).
    out = ['"']
    for ch in value:
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch < " " or "\x7f" <= ch <= "\x9f":
            out.append(f"\\u{{{ord(ch):x}}}")
        else:
            out.append(ch)
    return "".join(out) + '"'


class Shell:
    """An interactive shell of *kind* under a pty, with the orenv hook in its rc.

    Args:
        kind: "zsh", "bash", "fish" or "nu".
        env: variables for the child on top of a minimal base (PATH with the
            venv bin dir first, HOME, TERM=dumb, LANG=C.UTF-8, XDG dirs, USER,
            SHELL). Nothing is inherited from the test process. A value of
            None removes a base variable.
        cwd: starting directory (default HOME).
        rc_before / rc_after: user lines before / after the hook line.
        hook: put the hook line in the rc (off to test the harness alone).
        timeout: default seconds to wait for a prompt.
        hook_line: override the hook line (default the documented one).
        sourced: instead of the documented eval line, the block ``install.sh``
            writes (``install.sh --print-rc=KIND``), which sources the hook file
            ``orenv hook --write`` made (written first, unless ``prewrite`` is
            off), with the venv's orenv in place of ``~/.local/bin/orenv``.
        launcher: a command the shell runs under (e.g. ``strace -o LOG``).
    """

    def __init__(
        self,
        kind: str,
        env: Mapping[str, str | None] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        *,
        rc_before: str = "",
        rc_after: str = "",
        hook: bool = True,
        timeout: float = 10,
        hook_line: str | None = None,
        columns: int = 1000,
        sourced: bool = False,
        prewrite: bool = True,
        launcher: tuple[str, ...] = (),
    ) -> None:
        if kind not in ALL_KINDS:
            raise ValueError(f"unknown shell kind {kind!r}; expected one of {ALL_KINDS}")
        exe = nu_exe() if kind == "nu" else shutil.which(kind, path=SYSTEM_PATH)
        if exe is None:
            raise ShellError(f"{kind} is not installed: run `make deps`")
        self.kind = kind
        self.timeout = timeout
        self.token = secrets.token_hex(6)
        self.dir = Path(tempfile.mkdtemp(prefix=f"orenv-{kind}-"))
        self._prompt_re = re.compile(rf"<<{self.token}:(\d+):(\d+)>> ")
        self._go = f"<<{self.token}:go>>"
        self._count = 0
        self._seen: dict[int, int] = {}  # shell pid -> last prompt number
        self.startup_output = ""
        self.prompt_pid = 0  # pid of the shell that drew the last prompt
        self.transcript: list[tuple[str, str]] = []

        env = dict(env or {})
        self.child_env = self._build_env(env, exe)
        home = Path(self.child_env["HOME"])
        self.cwd = Path(cwd) if cwd is not None else home

        env_text = ""
        if sourced and hook_line is None:
            hook_line = self._installed_block(kind, prewrite)
        if hook_line is None:
            hook_line = {
                "zsh": 'eval "$(orenv hook zsh)"',
                "bash": 'eval "$(orenv hook bash)"',
                "fish": "orenv hook fish | source",
                "nu": f"source {_nu_quote(str(self.dir / 'orenv.nu'))}",
            }[kind]
            if kind == "nu" and hook:
                env_text = f"orenv hook nu | save -f {_nu_quote(str(self.dir / 'orenv.nu'))}\n"
        parts = [self._rc_head(), rc_before, hook_line if hook else "", rc_after]
        parts.append(self._rc_prompt())
        rc_text = "\n".join(p for p in parts if p) + "\n"

        if kind == "zsh":
            self.rc_file = self.dir / ".zshrc"
            self.child_env["ZDOTDIR"] = str(self.dir)
            argv = [exe, "-i"]
        elif kind == "bash":
            self.rc_file = self.dir / "bashrc"
            argv = [exe, "--noprofile", "--rcfile", str(self.rc_file), "-i"]
        elif kind == "nu":
            self.rc_file = self.dir / "config.nu"
            self.env_file = self.dir / "env.nu"
            self.env_file.write_text(env_text)
            argv = [exe, "--no-history", "--env-config", str(self.env_file),
                    "--config", str(self.rc_file), "-i"]
        else:
            self.rc_file = self.dir / "config.fish"
            argv = [exe, "--no-config", "-C", f"source {_fish_quote(str(self.rc_file))}"]
        self.rc_file.write_text(rc_text)
        self.argv = argv

        argv = [*launcher, *argv]
        self.proc = pexpect.spawn(
            argv[0],
            argv[1:],
            env=self.child_env,
            cwd=str(self.cwd),
            encoding="utf-8",
            codec_errors="replace",
            dimensions=(50, columns),
            timeout=timeout,
            echo=True,
            preexec_fn=_terminal_signals,
        )
        try:
            self.startup_output = self._wait_prompt(timeout, "(startup)")
        except BaseException:
            self.close()
            raise

    # -- construction ------------------------------------------------------------

    def _installed_block(self, kind: str, prewrite: bool) -> str:
        """install.sh's rc block for *kind*, calling the venv's orenv."""
        import subprocess

        home = self.child_env["HOME"]
        block = subprocess.run(
            [str(REPO_ROOT / "install.sh"), f"--print-rc={kind}"], check=True, text=True,
            capture_output=True, timeout=30,
            env={"HOME": home, "PATH": f"{home}/.local/bin:{SYSTEM_PATH}"}).stdout
        orenv = str(venv_bin() / "orenv")
        if kind == "nu":
            block = block.replace("$env.HOME | path join .local bin orenv", _nu_quote(orenv))
        else:
            block = block.replace("$HOME/.local/bin/orenv", orenv)
        assert ".local/bin" not in block and ".local bin" not in block, block
        if prewrite:
            subprocess.run([orenv, "hook", "--write"], env=self.child_env, check=True,
                           capture_output=True, timeout=60)
        return block

    def _build_env(self, given: dict[str, str | None], exe: str) -> dict[str, str]:
        user = pwd.getpwuid(os.getuid()).pw_name
        base: dict[str, str] = {
            "PATH": base_path(),
            "TERM": "dumb",
            "LANG": "C.UTF-8",
            "USER": user,
            "LOGNAME": user,
            "SHELL": exe,
        }
        home_value = given.get("HOME")
        if home_value is None:
            home = self.dir / "home"
            home.mkdir()
        else:
            home = Path(home_value)
        base["HOME"] = str(home)
        base["XDG_CONFIG_HOME"] = str(home / ".config")
        base["XDG_DATA_HOME"] = str(home / ".local" / "share")
        base["XDG_STATE_HOME"] = str(home / ".local" / "state")
        base["XDG_CACHE_HOME"] = str(home / ".cache")
        if "XDG_RUNTIME_DIR" not in given:
            runtime = home / ".run"
            runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
            base["XDG_RUNTIME_DIR"] = str(runtime)
        for key, value in given.items():
            if value is None:
                base.pop(key, None)
            else:
                base[key] = value
        return base

    def _rc_head(self) -> str:
        if self.kind == "fish":
            # Keep history off disk; no greeting.
            return "set -g fish_history ''\nset -g fish_greeting ''"
        if self.kind == "bash":
            return "HISTFILE=/dev/null"
        if self.kind == "nu":
            return "$env.config.show_banner = false"
        return "HISTFILE=/dev/null"

    def _rc_prompt(self) -> str:
        tok = self.token
        if self.kind == "zsh":
            return f"""
# --- test harness prompt (after the user's lines and the hook) ---
unsetopt PROMPT_SP 2>/dev/null
unset zle_bracketed_paste RPROMPT RPS1
typeset -gi _orenv_t_n=0
_orenv_t_precmd() {{ (( ++_orenv_t_n )); PROMPT="<<{tok}:$$:${{_orenv_t_n}}>> "; }}
_orenv_t_preexec() {{ print -rn -- '<<{tok}:''go>>'; }}
typeset -ga preexec_functions precmd_functions
precmd_functions+=(_orenv_t_precmd)
preexec_functions=(_orenv_t_preexec "${{preexec_functions[@]}}")
"""
        if self.kind == "nu":
            # The counter lives in a record: nu passes only strings to programs,
            # so it never shows in a child's environment.
            return f"""
# --- test harness prompt (after the user's lines and the hook) ---
$env._orenv_t = {{n: 0}}
$env.config.hooks.pre_prompt ++= [{{|| $env._orenv_t.n += 1 }}]
$env.config.hooks.pre_execution ++= [{{|| print -n $"<<{tok}:('go')>>" }}]
$env.PROMPT_COMMAND = {{|| $"<<{tok}:($nu.pid):($env._orenv_t.n)>> " }}
$env.PROMPT_COMMAND_RIGHT = ""
$env.PROMPT_INDICATOR = ""
$env.PROMPT_MULTILINE_INDICATOR = "> "
$env.config.shell_integration = {{
    osc2: false, osc7: false, osc8: false, osc9_9: false, osc133: false, osc633: false,
    reset_application_mode: false,
}}
$env.config.use_ansi_coloring = false
$env.config.footer_mode = "never"
"""
        if self.kind == "bash":
            return f"""
# --- test harness prompt (after the user's lines and the hook) ---
_orenv_t_n=0
PS1='<<{tok}:$$:$((++_orenv_t_n))>> '
PS0='<<{tok}:''go>>'"${{PS0-}}"
PS2='> '
"""
        return f"""
# --- test harness prompt (after the user's lines and the hook) ---
set -g _orenv_t_n 0
function _orenv_t_count --on-event fish_prompt
    set -g _orenv_t_n (math $_orenv_t_n + 1)
end
function fish_prompt
    printf '<<%s:%s:%s>> ' {tok} $fish_pid $_orenv_t_n
end
function fish_right_prompt
end
function fish_mode_prompt
end
function _orenv_t_preexec --on-event fish_preexec
    printf '<<%s:%s>>' {tok} go
end
"""

    # -- interaction ----------------------------------------------------------------

    def _wait_prompt(self, timeout: float, what: str, *, ran: bool = False) -> str:
        """Read until a new prompt; return the raw text before it.

        A prompt is new when its number is higher than the last one seen from
        the same shell process. So repaints and printed copies are skipped, and
        a nested shell started with the same rc (its own pid, numbering from 1)
        and the return to the outer shell after ``exit`` both just work.
        """
        chunks: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                which = self.proc.expect([self._prompt_re, re.escape(_CURSOR_QUERY)],
                                         timeout=max(left, 0.01))
            except pexpect.TIMEOUT:
                so_far = "".join(chunks) + str(self.proc.before or "")
                raise ShellTimeoutError(
                    f"{self.kind}: no new prompt within {timeout}s after {what!r}; "
                    f"output so far:\n{so_far!r}"
                ) from None
            except pexpect.EOF:
                so_far = "".join(chunks) + str(self.proc.before or "")
                self.proc.close()
                raise ShellError(
                    f"{self.kind} exited (status {self.proc.exitstatus}, "
                    f"signal {self.proc.signalstatus}) while waiting for a prompt "
                    f"after {what!r}; output so far:\n{so_far!r}"
                ) from None
            chunks.append(str(self.proc.before))
            if which == 1:
                # reedline (nu) asks where the cursor is and waits for the answer.
                self.proc.send("\x1b[1;1R")
                continue
            match = self.proc.match
            assert match is not None
            pid, n = int(match.group(1)), int(match.group(2))
            if ran and n > self._seen.get(pid, 0) and self._go not in "".join(chunks):
                # A prompt drawn before the command started (a shell redrawing
                # after a Ctrl-C, as nu may): counted, and the next one awaited.
                self._seen[pid] = n
                chunks.append(match.group(0))
                continue
            if n > self._seen.get(pid, 0):
                self._seen[pid] = n
                self._count += 1
                self.prompt_pid = pid
                return "".join(chunks)
            # An old number: a repaint (fish redraws while typing) or a printed
            # copy; keep it as text.
            chunks.append(match.group(0))

    def _clean(self, raw: str) -> str:
        if self._go in raw:
            out = raw.split(self._go, 1)[1]
        else:
            # No command ran (empty line): drop the echo up to the first newline.
            out = raw.split("\n", 1)[1] if "\n" in raw else ""
        out = _ESC.sub("", out)
        if self.kind == "nu":
            out = _NU_ESC.sub("", out)
        out = _NOISE.sub("", out)
        out = out.replace("\r\n", "\n")
        # Lone \r from a shell moving to column 0 around its prompt.
        return out.strip("\r")

    def run(self, line: str, timeout: float | None = None) -> str:
        """Send *line* at the prompt; return its output up to the next prompt."""
        if "\n" in line or "\r" in line:
            raise ValueError("run() takes one line; use several calls")
        if self.kind == "nu" and line == "true":
            # The tests' no-op: in nu `true` is a value (printed), `null` prints
            # nothing and, like the builtin elsewhere, starts no process.
            line = "null"
        timeout = self.timeout if timeout is None else timeout
        self.proc.send(line + "\r")
        # A command line prints the start marker before it runs (preexec, PS0,
        # pre_execution): only a prompt after it ends this command.
        raw = self._wait_prompt(timeout, line, ran=bool(line.strip()))
        out = self._clean(raw)
        self.transcript.append((line, out))
        return out

    def send_raw(self, data: str) -> None:
        """Send bytes as typed (e.g. "\\x03" for Ctrl-C); pair with ``expect_prompt``."""
        self.proc.send(data)

    def expect_prompt(self, timeout: float | None = None) -> str:
        """Wait for the next prompt after ``send_raw``; return the raw text before it."""
        timeout = self.timeout if timeout is None else timeout
        return self._wait_prompt(timeout, "(raw input)")

    def quote(self, value: str | os.PathLike[str]) -> str:
        value = os.fspath(value)
        if self.kind == "fish":
            return _fish_quote(value)
        if self.kind == "nu":
            return _nu_quote(value)
        return shlex.quote(value)

    def cd(self, path: str | os.PathLike[str], timeout: float | None = None) -> str:
        return self.run(f"cd {self.quote(path)}", timeout=timeout)

    def env_dump(self, timeout: float | None = None) -> tuple[dict[str, str], str]:
        """The exported environment (``env -0``) and what the shell printed meanwhile."""
        target = self.dir / f"env-{self._count}.bin"
        if self.kind == "nu":
            out = self.run(f"^env -0 o> {self.quote(target)}", timeout=timeout)
        else:
            out = self.run(f"command env -0 > {self.quote(target)}", timeout=timeout)
        data = target.read_bytes()
        target.unlink()
        result: dict[str, str] = {}
        for item in data.split(b"\0"):
            if not item:
                continue
            key, sep, value = item.decode("utf-8", "surrogateescape").partition("=")
            if sep:
                result[key] = value
        if self.kind == "nu":
            # nu's own bookkeeping of the last command, different at every prompt.
            for volatile in ("CMD_DURATION_MS", "LAST_EXIT_CODE"):
                result.pop(volatile, None)
        return result, out

    def env(self, timeout: float | None = None) -> dict[str, str]:
        """The environment a child started at this prompt would get."""
        return self.env_dump(timeout)[0]

    def var(self, name: str) -> str | None:
        """An exported variable's value, or None if unset/not exported."""
        return self.env().get(name)

    def nested_line(self) -> str:
        """The command line that starts a child shell of this kind with the same rc."""
        if self.kind == "zsh":
            return f"ZDOTDIR={self.quote(self.rc_file.parent)} zsh -i"
        if self.kind == "bash":
            return f"bash --noprofile --rcfile {self.quote(self.rc_file)} -i"
        if self.kind == "fish":
            return f"fish --no-config -C {self.quote('source ' + str(self.rc_file))}"
        return " ".join(self.quote(a) if i else f"^{self.quote(a)}"
                        for i, a in enumerate(self.argv))

    @property
    def pid(self) -> int:
        return int(self.proc.pid)

    @property
    def prompts(self) -> int:
        """How many new prompts were seen so far (all nesting levels)."""
        return self._count

    def marker(self, pid: int | None = None, n: int | None = None) -> str:
        """The prompt marker text for (pid, n); default the last prompt seen."""
        pid = self.prompt_pid if pid is None else pid
        n = self._seen.get(pid, 0) if n is None else n
        return f"<<{self.token}:{pid}:{n}>> "

    def close(self) -> None:
        """Exit the shell (politely, then by force) and remove its temp dir."""
        proc = getattr(self, "proc", None)
        if proc is not None and proc.isalive():
            try:
                proc.send("exit\r")
                proc.expect(pexpect.EOF, timeout=3)
            except (pexpect.TIMEOUT, pexpect.EOF, OSError):
                pass
        if proc is not None:
            proc.close(force=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Shell:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Shell {self.kind} pid={getattr(self.proc, 'pid', None)} prompts={self._count}>"
