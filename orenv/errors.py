"""One error hierarchy; only ``cli.main`` turns these into user messages.

Every message is one line, says what is wrong and how to fix it, and never
contains a secret.
"""

from __future__ import annotations

import re
from enum import IntEnum

__all__ = [
    "ConfigError",
    "DaemonUnavailableError",
    "ExitCode",
    "InsecureKeyringError",
    "KeyringLockedError",
    "KeyringUnavailableError",
    "NetworkError",
    "NoSecretServiceError",
    "OpenRouterError",
    "OrenvError",
    "PolicyError",
    "SecretNotFoundError",
    "UnsafeSettingsError",
    "UnsupportedShellError",
    "UntrustedPolicyError",
    "UsageError",
]


_KEYLIKE = re.compile(r"sk-[A-Za-z0-9_-]{8,}|(?<![0-9A-Za-z])[0-9a-fA-F]{32,}")


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    POLICY = 3
    UNTRUSTED = 4
    SECRET = 5
    KEYRING = 6
    NETWORK = 7
    DAEMON = 8


class OrenvError(Exception):
    """Base of every error orenv reports to a user."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str) -> None:
        # Messages are single lines by contract; fold any stray newline, show
        # other control characters (a hostile file name or TOML key could
        # carry terminal escapes) as escapes, and never echo something key-like
        # (a key pasted where a name belongs).
        from ._text import safe

        message = safe(" ".join(message.split("\n")))
        super().__init__(_KEYLIKE.sub("[redacted]", message))

    @property
    def message(self) -> str:
        return str(self.args[0])


class UsageError(OrenvError):
    """The command line itself is wrong."""

    exit_code = ExitCode.USAGE


class PolicyError(OrenvError):
    """A policy or config file is malformed; names file, line and key."""

    exit_code = ExitCode.POLICY

    def __init__(
        self, path: str, problem: str, *, line: int | None = None, key: str | None = None
    ) -> None:
        self.path = path
        self.line = line
        self.key = key
        where = path if line is None else f"{path}:{line}"
        what = f"{key}: " if key else ""
        super().__init__(f"{where}: {what}{problem}")


class ConfigError(PolicyError):
    """The global config.toml is malformed."""


class UntrustedPolicyError(OrenvError):
    """A policy exists but is not (or no longer) allowed."""

    exit_code = ExitCode.UNTRUSTED

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        from shlex import quote

        super().__init__(f"{path} is {reason}; run `orenv allow {quote(path)}` to trust it")


class UnsafeSettingsError(OrenvError):
    """Claude Code's own settings here would send the key elsewhere: no key is handed out."""

    exit_code = ExitCode.UNTRUSTED


class SecretNotFoundError(OrenvError):
    """A key named by a policy is not in the keyring."""

    exit_code = ExitCode.SECRET


class KeyringUnavailableError(OrenvError):
    """The keyring is locked, missing or did not answer in time."""

    exit_code = ExitCode.KEYRING

    @classmethod
    def no_answer(cls, timeout: float) -> KeyringUnavailableError:
        """A keyring call (or the reader doing it) that ran out of *timeout* seconds."""
        return cls(f"the keyring did not answer within {timeout:g} s (locked or hung?); "
                   "unlock it and try again")


class InsecureKeyringError(KeyringUnavailableError):
    """The only keyring backend stores plaintext or nothing."""


class NoSecretServiceError(KeyringUnavailableError):
    """No Secret Service can be reached in this session (SSH, containers, WSL, CI)."""


class KeyringLockedError(KeyringUnavailableError):
    """A Secret Service is running, but its keyring is locked (or would not open)."""


class UnsupportedShellError(OrenvError):
    exit_code = ExitCode.USAGE


class DaemonUnavailableError(OrenvError):
    exit_code = ExitCode.DAEMON


class NetworkError(OrenvError):
    """OpenRouter could not be reached (offline, DNS, timeout)."""

    exit_code = ExitCode.NETWORK


class OpenRouterError(NetworkError):
    """OpenRouter answered with an error status."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)
