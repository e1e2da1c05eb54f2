"""The daemon reads keys through a child process and never loads keyring itself."""

from __future__ import annotations

import subprocess
import sys

from conftest import Home

from orenv.errors import KeyringUnavailableError, SecretNotFoundError
from orenv.keyreader import read_keys

from .conftest import KEY, DaemonCtl


def test_read_keys_values_and_errors(keyed: DaemonCtl, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for k, v in keyed.home.env.items():
        monkeypatch.setenv(k, v)
    got = read_keys(["work", "absent"], timeout=5)
    assert got["work"] == KEY
    assert isinstance(got["absent"], SecretNotFoundError)
    assert KEY not in str(got["absent"])


def test_unreachable_keyring_is_a_clean_error(home: Home, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
    got = read_keys(["work"], timeout=3)
    assert isinstance(got["work"], KeyringUnavailableError)


def test_daemon_never_imports_keyring(keyed: DaemonCtl) -> None:
    proj = keyed.policy("proj")
    code = (
        "import sys\n"
        "from orenv.daemon.server import Daemon\n"
        "d = Daemon(linger=1)\n"
        "d.prefetch_keys()\n"
        f"e = d.entry({str(proj)!r}, {{}})\n"
        "assert e.act.state == 'active', e.act.message\n"
        "assert 'keyring' not in sys.modules and 'secretstorage' not in sys.modules\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env={**keyed.home.env,
                         "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip().splitlines()[-1:] == ["ok"], out.stderr[-2000:]
