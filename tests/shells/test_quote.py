"""Quoting reaches each real shell literally: property tests through zsh, bash, fish."""

from __future__ import annotations

import subprocess
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orenv import shells
from orenv.errors import UnsupportedShellError

HOSTILE = [
    "", " ", "'", '"', "''", "\\", "\\'", "$(touch /tmp/orenv-pwned)", "`id`", "$HOME",
    "${HOME}", "a;b", "a\nb", "\n", "\r\n", "ünïcødé ✓ 🚀", "%s %d", "!!", "*", "~", "#x",
    "a b\tc", "$'x'", "\\n", "--", "-e", "\x01\x1b[31m", "fish ' \\' \\\\ (echo x)",
]

values = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=40,
)


def roundtrip(shell_name: str, items: list[str]) -> list[str]:
    sh = shells.get(shell_name)
    sep = uuid.uuid4().hex
    script = "".join(
        sh.call("printf", "%s", v) + "\n" + sh.call("printf", "%s", sep) + "\n" for v in items
    )
    argv = {"zsh": ["zsh", "-f", "-c"], "bash": ["bash", "--norc", "-c"],
            "fish": ["fish", "--no-config", "-c"]}[shell_name]
    out = subprocess.run([*argv, script], capture_output=True, check=True, timeout=30,
                         env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/nonexistent"})
    parts = out.stdout.decode("utf-8").split(sep)
    assert parts[-1] == ""
    return parts[:-1]


@pytest.mark.parametrize("shell_name", ["zsh", "bash", "fish"])
def test_hostile_values(shell_name: str) -> None:
    assert roundtrip(shell_name, HOSTILE) == HOSTILE


@pytest.mark.parametrize("shell_name", ["zsh", "bash", "fish"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=st.lists(values, min_size=1, max_size=15))
def test_quote_property(shell_name: str, items: list[str]) -> None:
    assert roundtrip(shell_name, items) == items


def test_unknown_shell() -> None:
    with pytest.raises(UnsupportedShellError, match="zsh, bash, fish"):
        shells.get("tcsh")


def test_export_renders_unset() -> None:
    out = shells.get("bash").export({"A": "1", "B": None})
    assert out == "__orenv_set 'A' '1'\n__orenv_unset 'B'\n"
