"""The global config.toml: defaults, allowed hosts, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from orenv.config import DEFAULT_ALLOWED_HOSTS, load_config
from orenv.errors import ConfigError


def test_missing_file_means_defaults(tmp_path: Path) -> None:
    cfg = load_config(tmp_path / "none.toml")
    assert cfg.allowed_hosts == DEFAULT_ALLOWED_HOSTS == ("openrouter.ai",)
    assert cfg.default_mode == "export" and not cfg.quiet


def test_hosts_normalised(tmp_path: Path) -> None:
    p = tmp_path / "config.toml"
    p.write_text('allowed_hosts = ["OpenRouter.ai.", "127.0.0.1"]\nquiet = true\n')
    cfg = load_config(p)
    assert cfg.allowed_hosts == ("openrouter.ai", "127.0.0.1") and cfg.quiet


@pytest.mark.parametrize("text,line,what", [
    ('allowed_hosts = "openrouter.ai"\n', 1, "list of host names"),
    ('quiet = false\nbogus = 1\n', 2, "unknown setting"),
    ('default_mode = "yolo"\n', 1, "export"),
    ('quiet = "yes"\n', 1, "true or false"),
])
def test_errors_name_line_and_key(tmp_path: Path, text: str, line: int, what: str) -> None:
    p = tmp_path / "config.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(p)
    assert info.value.line == line and what in str(info.value) and str(p) in str(info.value)


def test_bad_toml(tmp_path: Path) -> None:
    p = tmp_path / "config.toml"
    p.write_text("allowed_hosts = [\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(p)
