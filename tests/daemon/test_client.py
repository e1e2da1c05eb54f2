"""The bash/fish client builds its JSON request without importing json."""

from __future__ import annotations

import json
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from orenv.daemon import client


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_jstr_matches_json(value: str) -> None:
    assert json.loads(client._jstr(value)) == value


def test_client_imports_no_heavy_modules() -> None:
    # The client runs on every cd in bash and fish: keep it to C modules.
    out = subprocess.run([sys.executable, "-I", "-S", "-X", "importtime", client.__file__],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2  # wrong arguments, after all imports ran
    imported = {line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines()}
    assert not imported & {"json", "re", "enum", "socket", "typing", "selectors"}, imported


def test_every_client_passes_the_same_variables() -> None:
    """The daemon keys its answers on ENV_PASSED: zsh's own client must send them all."""
    import re

    from harness import REPO_ROOT

    from orenv.daemon import client, protocol

    assert client.ENV_PASSED == protocol.ENV_PASSED
    zsh = (REPO_ROOT / "shell" / "hook.zsh").read_text()
    m = re.search(r"for n in ((?:[A-Z_]+\s|\\\n\s*)+?)*([A-Z_]+); do", zsh)
    assert m, "the zsh hook's list of passed variables"
    names = re.findall(r"[A-Z_]{2,}", m.group(0).removeprefix("for n in"))
    assert tuple(names) == protocol.ENV_PASSED
