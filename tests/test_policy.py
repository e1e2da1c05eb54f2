"""Policy parsing, layering and validation (no shell, no keyring)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orenv.config import Config, HostPort
from orenv.errors import PolicyError
from orenv.policy import (
    DEFAULT_BASE_URL,
    env_name_problem,
    find_chain,
    is_loopback,
    load,
    parse,
    read_policy_file,
    resolve,
)

CFG = Config()


def write(d: Path, text: str) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    p = d / ".orenv.toml"
    p.write_text(text)
    return p


def perr(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as info:
        parse("/p/.orenv.toml", text.encode())
    return info.value


class TestParse:
    def test_full_example(self) -> None:
        pf = parse("/p/.orenv.toml", b"""
inherit = false
name = "client-a"
[openrouter]
key = "work"
base_url = "https://openrouter.ai/api"
mode = "exec"
[models]
opus = "anthropic/claude-opus-4.5"
default = "sonnet"
[env]
API_TIMEOUT_MS = "600000"
NUM = 5
[budget]
warn_below_usd = 2
[routing]
order = ["anthropic", "google-vertex"]
allow_fallbacks = true
max_price = { prompt = 5, completion = 25 }
[attribution]
title = "client-a"
""")
        assert pf.key == "work" and pf.mode == "exec" and pf.name == "client-a"
        assert pf.models == {"opus": "anthropic/claude-opus-4.5", "default": "sonnet"}
        assert pf.env == {"API_TIMEOUT_MS": "600000", "NUM": "5"}
        assert pf.warn_below_usd == 2.0
        assert pf.routing["order"] == ["anthropic", "google-vertex"]

    def test_bad_toml_names_line(self) -> None:
        e = perr('[openrouter]\nkey = "work"\nmode = export\n')
        assert e.line == 3 and "invalid TOML" in str(e) and "/p/.orenv.toml:3" in str(e)

    def test_unknown_top_key(self) -> None:
        e = perr('inherit = false\ncolour = "red"\n')
        assert e.line == 2 and e.key == "colour" and "unknown key" in str(e)

    def test_unknown_table_key(self) -> None:
        e = perr('[openrouter]\nkey = "w"\nbase = "x"\n')
        assert e.line == 3 and e.key == "openrouter.base"

    def test_wrong_type(self) -> None:
        e = perr('[openrouter]\nkey = 5\n')
        assert e.line == 2 and "must be a string" in str(e)

    def test_table_expected(self) -> None:
        e = perr('models = "x"\n')
        assert e.key == "models" and e.line == 1

    def test_bad_mode(self) -> None:
        assert "export" in str(perr('[openrouter]\nmode = "yolo"\n'))

    def test_key_value_instead_of_name(self) -> None:
        secret = "sk-or-v1-" + "a" * 64
        e = perr(f'[openrouter]\nkey = "{secret}"\n')
        assert secret not in str(e) and "orenv key set" in str(e)

    def test_secret_in_env_refused_without_echo(self) -> None:
        secret = "sk-or-v1-" + "b" * 64
        e = perr(f'[env]\nX = "{secret}"\n')
        assert secret not in str(e) and e.line == 2

    @pytest.mark.parametrize("url,ok", [
        ("https://openrouter.ai/api", True),
        ("http://127.0.0.1:8080/api", True),
        ("http://localhost:1/api", True),
        ("http://[::1]:5/api", True),
        ("http://openrouter.ai/api", False),
        ("ftp://openrouter.ai", False),
        ("https://user:pw@openrouter.ai/api", False),
        ("https://openrouter.ai/api?x=1", False),
        ("not a url", False),
    ])
    def test_base_url(self, url: str, ok: bool) -> None:
        text = f'[openrouter]\nkey = "w"\nbase_url = "{url}"\n'.encode()
        if ok:
            assert parse("/p/x", text).base_url == url
        else:
            with pytest.raises(PolicyError) as info:
                parse("/p/x", text)
            assert info.value.line == 3
            assert "pw" not in str(info.value)

    @pytest.mark.parametrize("name", [
        "PATH", "LD_PRELOAD", "DYLD_INSERT_LIBRARIES", "BASH_ENV", "ENV", "PROMPT_COMMAND",
        "PS1", "PS4", "IFS", "ZDOTDIR", "HOME", "SHELL", "PYTHONPATH", "PYTHONSTARTUP",
        "NODE_OPTIONS", "fish_function_path", "HTTPS_PROXY", "NODE_TLS_REJECT_UNAUTHORIZED",
        "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "ANTHROPIC_MODEL",
        "ORENV_ACTIVE", "1BAD", "A-B", "A B", "",
    ])
    def test_dangerous_env_names(self, name: str) -> None:
        assert env_name_problem(name)
        e = perr(f'[env]\n"{name}" = "x"\n')
        assert e.line == 2

    @pytest.mark.parametrize("name", ["API_TIMEOUT_MS", "MY_VAR", "_X"])
    def test_env_names_that_pass_parsing(self, name: str) -> None:
        # Unknown names (MY_VAR) pass parsing; resolve() needs the user's allow_env.
        assert env_name_problem(name) is None

    @pytest.mark.parametrize("name", ["CLAUDE_CODE_EXTRA_BODY", "ANTHROPIC_CUSTOM_HEADERS"])
    def test_request_shaping_names_come_from_their_tables(self, name: str) -> None:
        assert "[routing]" in env_name_problem(name) or "[attribution]" in env_name_problem(name)

    def test_bad_utf8(self) -> None:
        with pytest.raises(PolicyError) as info:
            parse("/p/x", b'name = "ok"\nkey = "\xff"\n')
        assert info.value.line == 2 and "UTF-8" in str(info.value)

    def test_nul_refused(self) -> None:
        assert "NUL" in str(perr('[env]\nX = "a\\u0000b"\n'))

    def test_routing_validation(self) -> None:
        assert perr('[routing]\nsort = 5\n').line == 2
        assert perr('[routing]\norder = "anthropic"\n').key == "routing.order"
        assert perr('[routing]\nmax_price = { prompt = -1 }\n').line == 2
        assert perr('[routing]\nzdr = "yes"\n').line == 2
        # Unknown options and values are left out with a warning (tests/test_routing.py).
        pf = parse("/p/.orenv.toml", b'[routing]\nsort = "fastest"\nquantizations = ["int3"]\n'
                   b"bogus = 1\n")
        assert len(pf.warnings) == 3 and pf.routing == {}

    def test_deep_nesting(self) -> None:
        text = "x = " + "[" * 5000 + "]" * 5000 + "\n"
        with pytest.raises(PolicyError):
            parse("/p/x", text.encode())

    @settings(max_examples=300, deadline=None)
    @given(st.binary(max_size=400))
    def test_random_bytes_never_crash(self, data: bytes) -> None:
        try:
            parse("/p/x", data)
        except PolicyError as exc:
            assert "\n" not in str(exc)

    @settings(max_examples=300, deadline=None)
    @given(st.text(alphabet=st.sampled_from(list('[]{}="\'\n abc.=#,1tru\\')), max_size=200))
    def test_random_tomlish_never_crash(self, text: str) -> None:
        try:
            parse("/p/x", text.encode())
        except PolicyError as exc:
            assert "\n" not in str(exc)


class TestFiles:
    def test_fifo_refused_without_hanging(self, tmp_path: Path) -> None:
        os.mkfifo(tmp_path / ".orenv.toml")
        with pytest.raises(PolicyError, match="not a regular file"):
            read_policy_file(str(tmp_path / ".orenv.toml"))

    def test_symlink_loop(self, tmp_path: Path) -> None:
        os.symlink(tmp_path / ".orenv.toml", tmp_path / ".orenv.toml")
        with pytest.raises(PolicyError, match="cannot read"):
            find_chain(str(tmp_path))

    def test_unreadable(self, tmp_path: Path) -> None:
        p = write(tmp_path, "")
        p.chmod(0)
        if os.geteuid() == 0:  # root reads anything; use a directory instead
            p.unlink()
            p.mkdir()
        with pytest.raises(PolicyError):
            read_policy_file(str(p))

    def test_huge(self, tmp_path: Path) -> None:
        p = tmp_path / ".orenv.toml"
        p.write_text("# " + "x" * 300_000 + "\n")
        with pytest.raises(PolicyError, match="larger"):
            read_policy_file(str(p))


class TestLayering:
    def test_nearest_wins(self, tmp_path: Path) -> None:
        write(tmp_path, '[openrouter]\nkey = "parent"\n[models]\nopus = "p"\n')
        write(tmp_path / "a", '[openrouter]\nkey = "child"\n')
        pol = load(str(tmp_path / "a"), CFG)
        assert pol is not None and pol.key == "child" and pol.models == {}
        assert len(pol.files) == 1

    def test_inherit_layers(self, tmp_path: Path) -> None:
        cfg = Config(allow_env=frozenset({"A", "B"}))
        write(tmp_path, '[openrouter]\nkey = "parent"\n[models]\nopus = "p"\nhaiku = "h"\n'
              '[env]\nA = "1"\n')
        write(tmp_path / "a" / "b", 'inherit = true\n[models]\nopus = "c"\n[env]\nB = "2"\n')
        pol = load(str(tmp_path / "a" / "b" / "deeper"), cfg)
        assert pol is not None
        assert pol.key == "parent"
        assert pol.models == {"opus": "c", "haiku": "h"}
        assert pol.env == {"A": "1", "B": "2"}
        assert [os.path.dirname(f.path) for f in pol.files] == [
            str(tmp_path / "a" / "b"), str(tmp_path)]

    def test_disabled_subtree(self, tmp_path: Path) -> None:
        write(tmp_path, '[openrouter]\nkey = "parent"\n')
        write(tmp_path / "off", "enabled = false\n")
        pol = load(str(tmp_path / "off"), CFG)
        assert pol is not None and not pol.enabled

    def test_missing_key_name(self, tmp_path: Path) -> None:
        write(tmp_path, "[models]\nopus = 'x'\n")
        with pytest.raises(PolicyError, match="no key"):
            load(str(tmp_path), CFG)

    def test_host_not_allowed(self, tmp_path: Path) -> None:
        write(tmp_path, '[openrouter]\nkey = "w"\nbase_url = "https://evil.example/api"\n')
        with pytest.raises(PolicyError) as info:
            load(str(tmp_path), CFG)
        assert info.value.line == 3 and "allowed_hosts" in str(info.value)
        ok = Config(allowed_hosts=(HostPort("openrouter.ai"), HostPort("evil.example")))
        pol = load(str(tmp_path), ok)
        assert pol is not None and pol.host == "evil.example"

    def test_defaults(self, tmp_path: Path) -> None:
        write(tmp_path / "proj", '[openrouter]\nkey = "w"\n')
        chain = find_chain(str(tmp_path / "proj"))
        pol = resolve(chain, CFG)
        assert pol.base_url == DEFAULT_BASE_URL and pol.mode == "export" and pol.name == "proj"


def test_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("127.5.0.1") and is_loopback("::1")
    assert is_loopback("localhost") and not is_loopback("openrouter.ai")
    assert not is_loopback("10.0.0.1")


def test_profile_name_printable(tmp_path: Path) -> None:
    e = perr('name = "evil\\u001b]0;title\\u0007"\n')
    assert e.key == "name" and e.line == 1
    weird = tmp_path / "a\x1b[31mb$(touch x)`id`%F"
    write(weird, '[openrouter]\nkey = "w"\n')
    pol = load(str(weird), CFG)
    assert pol is not None and pol.name == "a_x1b[31mb_(touch x)_id__F"


@pytest.mark.parametrize("text", [
    '[openrouter]\nkey = "work\\n"\n',
    '[openrouter]\nkey = "w"\n[env]\n"API_TIMEOUT_MS\\n" = "1"\n',
    '[openrouter]\nkey = "w"\n[attribution]\ncategories = ["cli-agent\\n"]\n',
])
def test_a_trailing_newline_is_not_a_valid_name(text: str) -> None:
    """`$` in a pattern also matches before a final newline; names are matched to the end."""
    with pytest.raises(PolicyError):
        parse("/p/.orenv.toml", text.encode())
