"""Shared shape of a shell: quoting is each shell's own, the rest is common."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping

__all__ = ["Shell", "client_path", "hook_source", "hook_source_path"]

_PLACEHOLDER = "@ORENV_BIN@"
_CLIENT_PLACEHOLDER = "@ORENV_CLIENT@"


class Shell(ABC):
    """Renders orenv's output for one shell.

    Export output is a list of calls to functions the hook defines
    (``__orenv_set NAME VALUE`` …), so the hook keeps the saved previous
    values in non-exported shell variables and restores them exactly.
    """

    name: str = ""
    hook_file: str = ""

    @abstractmethod
    def quote(self, value: str) -> str:
        """*value* as one literal word of this shell."""

    def call(self, function: str, *args: str) -> str:
        return " ".join([function, *(self.quote(a) for a in args)])

    def export(self, changes: Mapping[str, str | None]) -> str:
        """Shell code setting each variable (None: unset) through the hook."""
        lines = []
        for name, value in changes.items():
            if value is None:
                lines.append(self.call("__orenv_unset", name))
            else:
                lines.append(self.call("__orenv_set", name, value))
        return "".join(line + "\n" for line in lines)

    def watch(self, ref: str, files: Iterable[str], absent: Iterable[str] = ()) -> str:
        """The idle-prompt check: reload when a file in *files* is newer than *ref*
        or gone, or a path in *absent* appears. Paths are absolute, so the lone
        ``-`` that separates the two lists is never one of them."""
        return self.call("__orenv_watching", ref, *files, "-", *absent) + "\n"

    def message(self, text: str) -> str:
        return self.call("__orenv_msg", text) + "\n"

    def notice(self, text: str) -> str:
        """A line printed to stderr as it comes, not deduplicated like ``message``
        (the daemon sends it once); ``printf`` is a builtin of every supported shell."""
        return self.call("builtin printf", "%s\\n", text) + " >&2\n"

    def hook(self, binary: str) -> str:
        """The hook with the quoted paths of the orenv program and of its daemon client.

        The client is the file installed with orenv (as trustworthy as the
        program), never a copy in the runtime directory.
        """
        return (hook_source(self.hook_file)
                .replace(_PLACEHOLDER, self.quote(binary))
                .replace(_CLIENT_PLACEHOLDER, self.quote(client_path())))


def client_path() -> str:
    """The installed daemon client (``orenv/daemon/client.py``) that bash and fish run."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.join(package, "daemon", "client.py")


def hook_source(name: str) -> str:
    """The hook file: package data when installed, ``shell/`` in a source checkout.

    Installed, the files sit in ``orenv/shell/`` (package ``orenv.shell``);
    editable installs cannot map the top-level ``shell/`` into the package, so
    the file next to the source tree is the fallback. Plain ``os.path``:
    importlib.resources alone costs ~10 ms at every ``orenv hook``.
    """
    with open(hook_source_path(name), encoding="utf-8") as fh:
        return fh.read()


def hook_source_path(name: str) -> str:
    """The path of the hook file *name* that ``hook_source`` reads."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for candidate in (os.path.join(package, "shell", name),
                      os.path.join(os.path.dirname(package), "shell", name)):
        if os.path.isfile(candidate):
            return candidate
    raise FileNotFoundError(f"hook file {name} is missing from the orenv install")
