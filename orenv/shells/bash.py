from __future__ import annotations

from ._base import Shell
from .zsh import posix_quote

__all__ = ["MIN_BASH", "Bash", "version_guard"]

# The hook uses ${name@a} and `local -` (bash 4.4) and associative arrays (4.0).
MIN_BASH = (4, 4)


def version_guard(code: str, minimum: tuple[int, int] = MIN_BASH) -> str:
    """*code* run only by a bash at least *minimum*; an older one prints one line.

    macOS ships bash 3.2 as /bin/bash. The hook is handed over as one quoted
    string, so an old bash parses nothing but this guard (an `if` with a
    newer syntax inside would fail to parse as a whole), and nothing of the
    hook runs there. No `return`: under `eval` in a sourced rc file it would
    end the rc file itself.
    """
    need = minimum[0] * 100 + minimum[1]
    wanted = f"{minimum[0]}.{minimum[1]}"
    message = (f"orenv: this bash (%s) is too old for the orenv hook, which needs "
               f"bash {wanted} or newer: use zsh (the macOS default: eval \"$(orenv hook zsh)\" "
               f"in ~/.zshrc) or a newer bash as your shell")
    fmt = posix_quote(message + "\\n")
    return (f"__orenv_code={posix_quote(code)}\n"
            f"if (( BASH_VERSINFO[0] * 100 + BASH_VERSINFO[1] >= {need} )); then\n"
            '  eval "$__orenv_code"\n'
            "else\n"
            "  # shellcheck disable=SC2016  # the text shows a command, literally\n"
            f'  builtin printf {fmt} "$BASH_VERSION" >&2\n'
            "fi\n"
            "unset __orenv_code\n")


class Bash(Shell):
    name = "bash"
    hook_file = "hook.bash"

    def quote(self, value: str) -> str:
        return posix_quote(value)

    def hook(self, binary: str) -> str:
        return version_guard(super().hook(binary))
