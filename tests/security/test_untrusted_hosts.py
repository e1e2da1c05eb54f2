"""An untrusted policy never chooses where a key goes; allowed_hosts entries name ports.

The user allows ``127.0.0.1:GOOD`` (a local proxy, here the good stand-in).
The attacker listens on another loopback port (the evil stand-in, which would
accept the user's keys and answer convincingly). A cloned repository's policy,
never allowed, names the attacker's port as its base URL; every command that
talks to OpenRouter runs in it. The attacker receives no key and no
management key, and its made-up answers are never stored.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import Home, loopback_host, run_orenv, write_config
from harness import Shell
from standin import StandIn


@dataclass
class Net:
    home: Home
    good: StandIn
    evil: StandIn
    clone: Path

    def secrets(self) -> tuple[str, str]:
        return self.good.key, self.good.management_key

    def evil_saw_a_key(self) -> list[str]:
        out = []
        for r in self.evil.requests:
            headers = json.dumps(r["headers"])
            out += [r["path"] for s in self.secrets() if s in headers]
        return out


@contextlib.contextmanager
def make_net(home: Home, both_ports: bool) -> Iterator[Net]:
    """With *both_ports* the attacker's port is allowed too: only trust stands in the way."""
    with StandIn() as good, StandIn() as evil:
        evil.add_key(good.key)
        evil.add_key(good.management_key, management=True)
        hosts = ["openrouter.ai", loopback_host(good.base_url)]
        if both_ports:
            hosts.append(loopback_host(evil.base_url))
        write_config(home, hosts=tuple(hosts))
        run_orenv(home, "key", "set", "work", input=good.key, check=True)
        run_orenv(home, "key", "set", "--management", "mgmt", input=good.management_key,
                  check=True)
        clone = home.path / "clone"
        clone.mkdir()
        (clone / ".orenv.toml").write_text(
            f'[openrouter]\nkey = "work"\nbase_url = "{evil.base_url}"\n'
            '[models]\nopus = "anthropic/claude-opus-4.5"\n')
        yield Net(home, good, evil, clone)


@pytest.fixture(params=["good-port", "both-ports"])
def any_net(home: Home, request: pytest.FixtureRequest) -> Iterator[Net]:
    with make_net(home, request.param == "both-ports") as n:
        yield n


@pytest.fixture
def net(home: Home) -> Iterator[Net]:
    with make_net(home, False) as n:
        yield n


COMMANDS = [
    ["doctor", "--online"],
    ["usage"],
    ["usage", "work"],
    ["models", "--refresh"],
    ["key", "provision", "fresh", "--limit", "1"],
    ["init", "--provision", "--limit", "1", "--dir", "sub", "--force"],
]


@pytest.mark.parametrize("argv", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_unallowed_policy_never_chooses_the_host(any_net: Net, argv: list[str]) -> None:
    net = any_net
    if "sub" in argv:
        (net.clone / "sub").mkdir()
    proc = run_orenv(net.home, *argv, cwd=net.clone, timeout=60)
    assert "Traceback" not in proc.stderr
    assert net.evil_saw_a_key() == []
    for secret in net.secrets():
        assert secret not in proc.stdout + proc.stderr
    # Nothing the attacker could have answered was stored as a key.
    keys = run_orenv(net.home, "key", "list", "--json", check=True).stdout
    assert {k["name"] for k in json.loads(keys)} == {"work", "mgmt"}


def test_allowed_policy_on_another_port_is_refused(
    net: Net, shell_factory: Callable[..., Shell]
) -> None:
    run_orenv(net.home, "allow", str(net.clone), check=True)
    for argv in (["doctor", "--online"], ["usage"], ["key", "provision", "x2", "--limit", "1"],
                 ["exec", "--", "true"], ["token"]):
        proc = run_orenv(net.home, *argv, cwd=net.clone, timeout=60)
        if argv[0] == "doctor":
            assert proc.returncode == 1 and "not in allowed_hosts" in proc.stdout
        else:
            assert proc.returncode != 0
    port = loopback_host(net.evil.base_url)
    sh = shell_factory("bash")
    out = sh.cd(net.clone)
    assert f"host {port} is not in allowed_hosts" in out
    assert "ANTHROPIC_AUTH_TOKEN" not in sh.env()
    assert net.evil_saw_a_key() == []


def test_the_allowed_port_works(net: Net) -> None:
    (net.clone / ".orenv.toml").write_text(
        f'[openrouter]\nkey = "work"\nbase_url = "{net.good.base_url}"\n')
    run_orenv(net.home, "allow", str(net.clone), check=True)
    proc = run_orenv(net.home, "usage", "--json", cwd=net.clone, timeout=60, check=True)
    assert json.loads(proc.stdout)["key"] == "work"
    assert any(r["path"] == "/api/v1/key" for r in net.good.requests)
    assert net.evil_saw_a_key() == []
