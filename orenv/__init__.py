"""orenv: per-directory OpenRouter setup for Claude Code, keys in the OS keyring."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("orenv")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
