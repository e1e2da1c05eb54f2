"""Keyring reads in a short-lived child process, for the daemon.

The keyring library and the Secret Service stack under it (secretstorage,
jeepney, cryptography, jaraco) are about a third of a Python process's memory.
The daemon reads a key only on a cache miss (at start, after ``orenv key
set``, or for a key it has not seen), so it asks a child instead of keeping
all of that loaded for its whole life. Names go to the child on stdin; values
come back on its stdout, a pipe: never argv, a file or the environment.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
from collections.abc import Iterable

from .errors import (
    InsecureKeyringError,
    KeyringLockedError,
    KeyringUnavailableError,
    NoSecretServiceError,
    OrenvError,
    SecretNotFoundError,
    UsageError,
)

__all__ = ["main", "read_key", "read_keys"]

_ERRORS: dict[str, type[OrenvError]] = {
    cls.__name__: cls
    for cls in (SecretNotFoundError, KeyringUnavailableError, InsecureKeyringError, UsageError,
                NoSecretServiceError, KeyringLockedError)
}


MAX_WAITING = 4  # readers left to finish a hung call; beyond that, no new one
_waiting: list[subprocess.Popen[str]] = []


def read_keys(names: Iterable[str], timeout: float) -> dict[str, str | OrenvError]:
    """Each name's key, or the error reading it; the whole read ends within *timeout*."""
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return {}
    request = json.dumps({"names": wanted, "timeout": timeout})
    _waiting[:] = [p for p in _waiting if p.poll() is None]
    if len(_waiting) >= MAX_WAITING:
        # Readers still waiting for a hung keyring: another would only wait too.
        return dict.fromkeys(wanted, KeyringUnavailableError.no_answer(timeout))
    try:
        proc = subprocess.Popen([sys.executable, "-I", "-m", "orenv.keyreader"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
    except OSError as exc:
        error: OrenvError = KeyringUnavailableError(f"cannot read the keyring ({exc.strerror})")
        return dict.fromkeys(wanted, error)
    try:
        reply, _ = proc.communicate(request, timeout=timeout + 0.5)
    except subprocess.TimeoutExpired:
        # Never killed: a reader that vanishes in the middle of a call can crash
        # gnome-keyring (see secrets._signals_held). It ends by itself, each of its
        # reads bounded by *timeout*; a thread reaps it.
        for pipe in (proc.stdin, proc.stdout):
            with contextlib.suppress(OSError):
                if pipe is not None:
                    pipe.close()
        threading.Thread(target=proc.wait, name="orenv-reap", daemon=True).start()
        _waiting.append(proc)
        return dict.fromkeys(wanted, KeyringUnavailableError.no_answer(timeout))
    try:
        answers = json.loads(reply)
        if not isinstance(answers, dict):
            raise ValueError("not an object")
    except ValueError:
        # Never quote the output: it may hold keys.
        error = KeyringUnavailableError("the keyring reader failed; run `orenv doctor`")
        return dict.fromkeys(wanted, error)
    out: dict[str, str | OrenvError] = {}
    for name in wanted:
        answer = answers.get(name)
        if isinstance(answer, dict) and isinstance(answer.get("value"), str):
            out[name] = answer["value"]
        elif isinstance(answer, dict) and isinstance(answer.get("message"), str):
            cls = _ERRORS.get(str(answer.get("error")), KeyringUnavailableError)
            out[name] = cls(answer["message"])
        else:
            out[name] = KeyringUnavailableError("the keyring reader gave no answer")
    return out


def read_key(name: str, timeout: float) -> str:
    """One key through the child process; raises its error."""
    result = read_keys([name], timeout)[name]
    if isinstance(result, OrenvError):
        raise result
    return result


def main() -> int:
    """The child: read names from stdin, answer with values or errors on stdout."""
    from ._harden import no_core_dumps
    from .secrets import finish_calls, get_key

    no_core_dumps()
    request = json.loads(sys.stdin.read())
    timeout = float(request.get("timeout", 2.0))
    answers: dict[str, dict[str, str]] = {}
    hung: dict[str, str] | None = None
    for name in request.get("names", []):
        if hung is not None:  # one read that ran out of time: the rest would too
            answers[name] = hung
            continue
        try:
            # The keyring only: the daemon looked in its own memory first.
            answers[name] = {"value": get_key(str(name), timeout, memory=False)}
        except KeyringUnavailableError as exc:
            answers[name] = {"error": type(exc).__name__, "message": exc.message}
            hung = answers[name]
        except OrenvError as exc:
            answers[name] = {"error": type(exc).__name__, "message": exc.message}
    with contextlib.suppress(OSError):  # the daemon stopped waiting: nobody to tell
        sys.stdout.write(json.dumps(answers))
        sys.stdout.flush()
        sys.stdout.close()
    # Nobody waits for this process now: a read that ran out of time gets its answer
    # before the connection closes (see secrets._signals_held).
    finish_calls()
    return 0


if __name__ == "__main__":
    sys.exit(main())
