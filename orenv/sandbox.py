"""Whether Claude Code can scrub its subprocesses' environment on this machine.

``CLAUDE_CODE_SUBPROCESS_ENV_SCRUB=1`` keeps the key out of the agent's Bash
tool, hooks and MCP servers. On Linux Claude Code (measured with 2.1.332) then
runs those in a bubblewrap sandbox with socat: without bubblewrap it refuses to
start, without socat its Bash tool fails, and where bubblewrap cannot create
namespaces (many containers) every Bash-tool command fails. orenv sets the
variable only where all three hold, and says why not (doctor) elsewhere.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys

__all__ = ["scrub_possible"]


def scrub_possible() -> tuple[bool, str]:
    """(True, "") where Claude Code's scrubbing works here, else (False, why)."""
    if not sys.platform.startswith("linux"):
        return True, ""
    bwrap, socat = shutil.which("bwrap"), shutil.which("socat")
    missing = [name for name, path in (("bwrap", bwrap), ("socat", socat)) if not path]
    if missing:
        return False, f"{' and '.join(missing)} not installed (packages bubblewrap, socat)"
    # Kept per path: installing or replacing bubblewrap is noticed without a restart.
    return _bwrap_works(bwrap or "")


@functools.lru_cache(maxsize=4)
def _bwrap_works(bwrap: str) -> tuple[bool, str]:
    """Ask bubblewrap for the namespaces Claude Code asks for, with nothing inside."""
    argv = [bwrap, "--new-session", "--die-with-parent", "--ro-bind", "/", "/",
            "--dev", "/dev", "--unshare-pid", "--unshare-user", "--cap-drop", "ALL",
            "--proc", "/proc", "--disable-userns", "--", "true"]
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return False, f"bubblewrap does not run here ({type(exc).__name__})"
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = f": {lines[-1][:120]}" if lines else ""
        return False, f"bubblewrap cannot create a sandbox here{detail}"
    return True, ""
