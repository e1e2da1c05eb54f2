"""`orenv edit` and `orenv reload` (issue 13, item 4).

* ``edit`` runs a scripted editor (a small shell script standing in for vi,
  given as ``EDITOR`` with arguments) that rewrites the policy; the file is
  then checked, shown and allowed, in real zsh, bash and fish, whose next
  prompt applies it. An invalid result is one line and stays untrusted (on a
  terminal orenv offers to edit again); an unchanged, allowed file stays
  allowed without a word of summary.
* ``reload`` with no shell and no daemon; in shells: tests/daemon/test_reload.py.
"""

from __future__ import annotations

import shlex
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Home, make_policy, one_line_error, run_orenv
from harness import Shell, venv_bin

KINDS = ["zsh", "bash", "fish"]
KEY = "sk-or-v1-" + "1234abcd" * 8
ShellFactory = Callable[..., Shell]


def text(mark: str) -> str:
    return f'[openrouter]\nkey = "work"\n[env]\nMARK = "{mark}"\n'


BROKEN = '[openrouter]\nkey = "work"\n[env\nMARK = "x"\n'

_EDITOR = """\
#!/bin/sh
# A scripted editor: EDITOR="fake-editor SRCDIR [ARGS...]". Each run records its
# arguments and copies the next SRCDIR/N.toml over the file (its last argument),
# if there is one; SRCDIR/N.exit holds an exit status to end with.
src=$1
for f; do last=$f; done
printf '%s\\n' "$@" > "$src/argv"
n=$(( $(cat "$src/count" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$src/count"
if [ -f "$src/$n.toml" ]; then cp "$src/$n.toml" "$last"; fi
if [ -f "$src/$n.exit" ]; then exit "$(cat "$src/$n.exit")"; fi
exit 0
"""


class Editor:
    """The scripted editor; ``then(...)`` queues what its next runs write."""

    def __init__(self, root: Path) -> None:
        # A space in the directory: the EDITOR value needs shell-like quoting.
        self.src = root / "editor files"
        self.src.mkdir(parents=True)
        self.script = root / "fake-editor"
        self.script.write_text(_EDITOR)
        self.script.chmod(self.script.stat().st_mode | stat.S_IXUSR)
        self.queued = 0
        # "$HOME" stays literal: split like a shell would, but never run by one.
        self.value = f'{shlex.quote(str(self.script))} {shlex.quote(str(self.src))} "$HOME"'

    def then(self, *contents: str | None, exit: int = 0) -> None:
        for content in contents:
            self.queued += 1
            if content is not None:
                (self.src / f"{self.queued}.toml").write_text(content)
        if exit:
            (self.src / f"{self.queued}.exit").write_text(str(exit))

    @property
    def runs(self) -> int:
        count = self.src / "count"
        return int(count.read_text()) if count.exists() else 0

    def argv(self) -> list[str]:
        return (self.src / "argv").read_text().splitlines()


@pytest.fixture
def keyed(home: Home) -> Home:
    run_orenv(home, "key", "set", "work", input=KEY, check=True)
    return home


@pytest.fixture
def editor(home: Home) -> Editor:
    return Editor(home.path.parent / "ed")


def edit(home: Home, editor: Editor, *args: str, cwd: Path | None = None,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_orenv(home, "edit", *args, cwd=cwd, env={"EDITOR": editor.value, **(env or {})})


def summary(path: Path, mark: str) -> list[str]:
    """What `orenv allow` shows for text(mark) at *path*, and its last line."""
    return [f"profile:     {path.parent.name}",
            "sends key:   'work' (from the keyring) to openrouter.ai",
            "base URL:    https://openrouter.ai/api",
            "mode:        export",
            f"extra env:   MARK='{mark}'",
            f"allowed {path}"]


def trust_state(home: Home, proj: Path) -> str:
    """What the hook would say there: "" when the policy applies, else its message."""
    out = run_orenv(home, "export", "bash", cwd=proj, check=True).stdout
    return "" if "MARK" in out and "not allowed" not in out and "changed since" not in out \
        else out


def policy_error(path: Path, content: str) -> str:
    """The line the product gives for *content* at *path* (parse error), as a user sees it."""
    from orenv.errors import PolicyError
    from orenv.policy import parse

    try:
        parse(str(path), content.encode())
    except PolicyError as exc:
        return f"orenv: {exc.message} (not allowed)"
    raise AssertionError("content is valid")


# --------------------------------------------------------------------- edit


@pytest.mark.parametrize("kind", KINDS)
def test_edit_validates_shows_and_allows_in_real_shells(kind: str, keyed: Home, editor: Editor,
                                                        shell_factory: ShellFactory) -> None:
    home = keyed
    proj = make_policy(home, "proj", text("one"))
    path = proj / ".orenv.toml"
    sh = shell_factory(kind, cwd=proj, env={"EDITOR": editor.value})
    sh.run("true")
    assert sh.var("MARK") == "one"
    editor.then(text("two"))
    out = sh.run("orenv edit").replace("\r", "")
    lines = [ln for ln in out.splitlines() if ln]
    # The summary and "allowed"; the hook applies it at the very next prompt (its
    # "loaded" line is not repeated: the same profile is still loaded).
    assert lines == summary(path, "two"), out
    assert sh.var("MARK") == "two"
    # The editor got the file as its last argument, after EDITOR's own
    # arguments, split like a shell would ("editor files" one word) but not by
    # a shell: "$HOME" arrived as written.
    assert editor.argv() == [str(editor.src), "$HOME", str(path)]


@pytest.mark.parametrize("kind", KINDS)
def test_invalid_edit_one_line_untrusted_and_edit_again_on_a_tty(
        kind: str, keyed: Home, editor: Editor, shell_factory: ShellFactory) -> None:
    home = keyed
    proj = make_policy(home, "proj", text("one"))
    path = proj / ".orenv.toml"
    sh = shell_factory(kind, cwd=proj, env={"EDITOR": editor.value})
    sh.run("true")
    question = "edit it again? [Y/n] "
    # Invalid, and the user says no: one line, the file stays as saved, untrusted.
    editor.then(BROKEN)
    sh.send_raw("orenv edit\r")
    sh.proc.expect_exact(question, timeout=20)
    said = str(sh.proc.before).replace("\r", "")
    assert said.endswith("\n" + policy_error(path, BROKEN) + "\n") or said.endswith(
        ">>" + policy_error(path, BROKEN) + "\n"), said
    assert said.count("orenv:") == 1, said
    sh.send_raw("n\r")
    after = sh.expect_prompt(20).replace("\r", "")
    assert "allowed" not in after and "Traceback" not in after
    assert path.read_text() == BROKEN
    out = sh.run("echo status=$status" if kind == "fish" else "echo status=$?")
    assert "status=3" in out
    env = sh.env()
    assert env.get("MARK") is None and env.get("ANTHROPIC_AUTH_TOKEN") is None
    # Invalid again, the user says yes; the second run fixes it: allowed.
    editor.then(BROKEN, text("three"))
    sh.send_raw("orenv edit\r")
    sh.proc.expect_exact(question, timeout=20)
    sh.send_raw("\r")  # the default: yes
    out = sh.expect_prompt(20).replace("\r", "")
    for line in summary(path, "three"):
        assert f"\n{line}\n" in out, out
    assert editor.runs == 3
    assert sh.var("MARK") == "three"


def test_invalid_edit_without_a_terminal(keyed: Home, editor: Editor) -> None:
    home = keyed
    proj = make_policy(home, "proj", text("one"))
    path = proj / ".orenv.toml"
    editor.then(BROKEN)
    proc = edit(home, editor, cwd=proj)
    assert proc.returncode == 3 and proc.stdout == ""
    assert proc.stderr == policy_error(path, BROKEN) + "\n"
    assert editor.runs == 1  # no question without a terminal
    assert "invalid TOML" in trust_state(home, proj)
    # Changed behind orenv's back (by hand, or a `git pull`): opening it and leaving it
    # as it is shows what it would do, and does not trust it (reading is not allowing).
    path.write_text(text("fixed"))
    assert "changed since it was allowed" in trust_state(home, proj)
    editor.then(None)
    proc = edit(home, editor, cwd=proj)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        *summary(path, "fixed")[:-1],
        f"not allowed: {path} (`orenv allow` trusts it after you have read it)"]
    assert "changed since it was allowed" in trust_state(home, proj)
    # Saved with a change of the user's: shown and allowed, as direnv edit does.
    editor.then(text("mine"))
    proc = edit(home, editor, cwd=proj)
    assert proc.stdout.splitlines() == summary(path, "mine")
    assert trust_state(home, proj) == ""


def test_an_unchanged_file_nobody_allowed_is_asked_about_on_a_tty(
        keyed: Home, editor: Editor, shell_factory: ShellFactory) -> None:
    home = keyed
    proj = make_policy(home, "proj", text("theirs"), allow=False)
    path = proj / ".orenv.toml"
    sh = shell_factory("bash", cwd=proj, env={"EDITOR": editor.value})
    sh.run("true")
    question = f"{path} did not change and was never allowed; allow it? [y/N] "
    editor.then(None)
    sh.send_raw("orenv edit\r")
    sh.proc.expect_exact(question, timeout=20)
    said = str(sh.proc.before).replace("\r", "")
    for line in summary(path, "theirs")[:-1]:  # shown before the question
        assert f"{line}\n" in said, said
    sh.send_raw("\r")  # the default: no
    out = sh.expect_prompt(20).replace("\r", "")
    assert f"not allowed: {path}" in out
    assert sh.env().get("MARK") is None
    editor.then(None)
    sh.send_raw("orenv edit\r")
    sh.proc.expect_exact(question, timeout=20)
    sh.send_raw("y\r")
    out = sh.expect_prompt(20).replace("\r", "")
    assert f"allowed {path}" in out
    assert sh.var("MARK") == "theirs"


def test_unchanged_allowed_file_stays_allowed(keyed: Home, editor: Editor) -> None:
    home = keyed
    proj = make_policy(home, "proj", text("one"))
    path = proj / ".orenv.toml"
    editor.then(None)
    proc = edit(home, editor, cwd=proj / "")
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout == f"{path} did not change; still allowed\n"
    assert trust_state(home, proj) == ""


def test_nearest_policy_from_a_subdirectory_and_path_argument(keyed: Home,
                                                              editor: Editor) -> None:
    home = keyed
    proj = make_policy(home, "proj", text("one"), allow=False)
    sub = proj / "deep" / "er"
    sub.mkdir(parents=True)
    editor.then(text("two"))
    proc = edit(home, editor, cwd=sub)
    assert proc.returncode == 0, proc.stderr
    assert editor.argv()[-1] == str(proj / ".orenv.toml")
    assert proc.stdout.splitlines() == summary(proj / ".orenv.toml", "two")
    other = make_policy(home, "other", text("x"), allow=False)
    editor.then(text("y"))
    proc = edit(home, editor, str(other), cwd=sub)
    assert editor.argv()[-1] == str(other / ".orenv.toml")
    assert proc.stdout.splitlines() == summary(other / ".orenv.toml", "y")


def test_no_policy_creates_one_here(keyed: Home, editor: Editor) -> None:
    home = keyed
    here = home.path / "new"
    here.mkdir()
    path = here / ".orenv.toml"
    # Closed without saving: nothing written, nothing allowed.
    editor.then(None)
    proc = edit(home, editor, cwd=here)
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout == f"{path} was not saved; nothing to allow\n"
    assert not path.exists()
    editor.then(text("new"))
    proc = edit(home, editor, cwd=here)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == summary(path, "new")
    assert trust_state(home, here) == ""


def test_visual_wins_and_bad_editors_are_one_line(keyed: Home, editor: Editor,
                                                  tmp_path: Path) -> None:
    home = keyed
    proj = make_policy(home, "proj", text("one"))
    path = proj / ".orenv.toml"
    editor.then(text("visual"))
    proc = edit(home, editor, cwd=proj, env={"VISUAL": editor.value, "EDITOR": "/nonexistent"})
    assert proc.returncode == 0, proc.stderr
    assert "extra env:   MARK='visual'" in proc.stdout
    # An editor that is not there, quoting that does not close, a failing editor.
    proc = run_orenv(home, "edit", cwd=proj, env={"EDITOR": "/no/such-editor --wait"})
    assert one_line_error(proc) == ("orenv: cannot run the editor '/no/such-editor' (from "
                                    "$EDITOR): No such file or directory; set VISUAL or "
                                    "EDITOR to one that works")
    proc = run_orenv(home, "edit", cwd=proj, env={"VISUAL": "vim 'unclosed"})
    assert one_line_error(proc) == ("orenv: $VISUAL cannot be split into a command (No "
                                    "closing quotation); fix its quoting, e.g. "
                                    "EDITOR=\"code --wait\"")
    editor.then(text("half-done"), exit=1)
    proc = edit(home, editor, cwd=proj)
    assert one_line_error(proc) == (f"orenv: the editor '{editor.script}' exited with "
                                    f"status 1; {path} was not allowed")
    assert proc.stdout == ""
    assert "changed since it was allowed" in trust_state(home, proj)
    # No VISUAL, no EDITOR, no vi or nano on PATH.
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    proc = subprocess.run([str(venv_bin() / "orenv"), "edit"], capture_output=True, text=True,
                          cwd=proj, timeout=30, check=False,
                          env={**home.env, "PATH": str(empty), "LANG": "C.UTF-8"})
    assert one_line_error(proc) == ("orenv: no editor: set VISUAL or EDITOR "
                                    "(e.g. export EDITOR=nano)")


# ------------------------------------------------------------------- reload


def test_reload_without_any_shell_or_daemon(home: Home) -> None:
    proc = run_orenv(home, "reload")
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout == ("reload: every shell in a project recomputes at its next prompt "
                           "(no daemon was running)\n")
    assert (home.runtime / "orenv" / "stamp").exists()


def test_edit_question_waits_for_the_user(keyed: Home, editor: Editor,
                                          shell_factory: ShellFactory) -> None:
    """Ctrl-D at the question is a no: the one line was said, nothing more."""
    home = keyed
    proj = make_policy(home, "proj", text("one"))
    sh = shell_factory("bash", cwd=proj, env={"EDITOR": editor.value})
    editor.then(BROKEN)
    sh.send_raw("orenv edit\r")
    sh.proc.expect_exact("edit it again? [Y/n] ", timeout=20)
    sh.send_raw("\x04")
    out = sh.expect_prompt(20)
    assert "Traceback" not in out and "allowed" not in out.replace("not allowed", "")
    assert editor.runs == 1
