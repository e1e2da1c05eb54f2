"""orenv: per-directory OpenRouter setup for Claude Code, keys in the OS keyring."""

# The single source of the version (pyproject reads it); a literal, because
# importlib.metadata costs ~30 ms at every start and the hook runs orenv on cd.
__version__ = "0.1.0"

__all__ = ["__version__"]
