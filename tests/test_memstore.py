"""The in-memory key store's parts, and keyring errors that tell "locked" from "not there"."""

from __future__ import annotations

import mmap
import time
from pathlib import Path

import pytest
from conftest import Home, run_orenv
from keyringd import KeyringSession

from orenv import memstore, secrets
from orenv.daemon.memkeys import LockedSecret, MemoryKeys
from orenv.errors import KeyringLockedError, NoSecretServiceError, UsageError

KEY = "sk-or-v1-" + "0123456789abcdef" * 4


@pytest.mark.parametrize(("text", "seconds"), [
    ("600", 600), ("90s", 90), ("10m", 600), ("8h", 28800), ("1h30m", 5400), ("2d", 172800),
    ("1w", 604800), ("1H", 3600),
])
def test_lifetimes_read_like_ssh_add(text: str, seconds: int) -> None:
    assert memstore.parse_lifetime(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "h", "8x", "-5", "1.5h", "8 h", "8h-"])
def test_bad_lifetimes_are_refused(text: str) -> None:
    with pytest.raises(UsageError, match="as ssh-add -t"):
        memstore.parse_lifetime(text)


def test_expiry_is_described() -> None:
    now = 1_700_000_000.0
    assert memstore.describe_expiry(None).startswith("until the daemon ends")
    assert "(in 1h30m)" in memstore.describe_expiry(now + 5400, now)
    assert memstore.describe_expiry(now - 1, now).startswith("expired at")
    gone = memstore.gone_message("work", {"store": "memory", "expires": now - 5,
                                          "lifetime": "8h"}, now)
    assert "expired at" in gone and gone.endswith("`orenv key add work --lifetime 8h`")
    restarted = memstore.gone_message("work", {"store": "memory"}, now)
    assert "no longer in memory" in restarted and restarted.endswith("`orenv key add work`")


def _vmlck_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmLck:"):
            return int(line.split()[1])
    raise AssertionError("no VmLck")


def test_a_locked_secret_is_locked_in_ram_and_wiped() -> None:
    before = _vmlck_kb()
    s = LockedSecret(KEY)
    assert s.locked and s.reveal() == KEY
    assert _vmlck_kb() >= before + mmap.PAGESIZE // 1024
    s.wipe()
    assert _vmlck_kb() == before
    with pytest.raises(ValueError, match="wiped"):
        s.reveal()


def test_memory_keys_expire_and_list_no_value() -> None:
    keys = MemoryKeys()
    keys.add("work", KEY, masked="sk-or-v1-01…ef", lifetime=None, holder=None)
    keys.add("brief", KEY, masked="sk-or-v1-01…ef", lifetime=0.2, holder=None)
    assert keys.get("brief") == KEY
    assert KEY not in repr(keys.listing())
    time.sleep(0.3)
    assert keys.get("brief") is None
    assert keys.expire() == ["brief"]
    assert [k["name"] for k in keys.listing()] == ["work"]
    assert keys.remove("work") and not keys.remove("work")
    assert len(keys) == 0


def test_a_locked_keyring_is_not_called_missing(home: Home,
                                                keyring_session: KeyringSession) -> None:
    """gnome-keyring running but locked: "locked", with how to unlock; never "start one"."""
    keyring_session.lock()
    try:
        out = run_orenv(home, "key", "set", "work", input=KEY)
        assert out.returncode != 0
        assert "is running but its keyring is locked" in out.stderr
        assert "start a Secret Service" not in out.stderr
        doc = run_orenv(home, "doctor", "--json")
        assert '"keyring-locked"' in doc.stdout
    finally:
        keyring_session.unlock()


def test_failures_are_classified_by_asking_the_bus(monkeypatch: pytest.MonkeyPatch) -> None:
    """A keyring that would not open (InitError, a D-Bus error) is "locked" when a Secret
    Service answers on the bus, and "not reachable" (use `orenv key add`) when none does."""
    from keyring.errors import InitError

    monkeypatch.setattr(secrets, "_service_reachable", lambda: (True, ""))
    assert isinstance(secrets._classify(InitError("Failed to create the collection")),
                      KeyringLockedError)
    monkeypatch.setattr(secrets, "_service_reachable",
                        lambda: (False, "DBUS_SESSION_BUS_ADDRESS is not set"))
    err = secrets._classify(RuntimeError("org.freedesktop.DBus.Error.ServiceUnknown"))
    assert isinstance(err, NoSecretServiceError)
    assert "`orenv key add NAME`" in err.message


def test_without_secret_service_every_fix_points_to_key_add(tmp_path: Path) -> None:
    from conftest import make_home, make_policy

    home = make_home(tmp_path)  # no D-Bus session
    init = run_orenv(home, "init", "--key", "work", cwd=home.path, check=True)
    assert "orenv key add work" in init.stderr and "orenv key set" not in init.stderr
    make_policy(home, "proj", '[openrouter]\nkey = "work"\n')
    shown = run_orenv(home, "export", "bash", cwd=home.path / "proj")
    assert "orenv key add work" in shown.stdout and "orenv key set" not in shown.stdout
    doc = run_orenv(home, "doctor", cwd=home.path / "proj")
    fixes = [ln for ln in doc.stdout.splitlines() if "key" in ln and "fix:" in ln]
    assert fixes and all("orenv key set" not in ln for ln in fixes)
    assert any("orenv key add work" in ln for ln in fixes)


def test_a_slow_daemon_is_not_a_lost_key(home: Home) -> None:
    """The daemon runs but does not answer (stopped, or loaded): a memory key is reported
    as unreachable for now, never as gone (which would tell the user to add it again)."""
    import os
    import signal

    run_orenv(home, "daemon", "start", check=True)
    try:
        run_orenv(home, "key", "add", "mem", input=KEY, check=True)
        proj = home.path / "p"
        proj.mkdir()
        (proj / ".orenv.toml").write_text('[openrouter]\nkey = "mem"\n')
        run_orenv(home, "allow", str(proj), check=True)
        pid = int((home.runtime / "orenv" / "daemon.pid").read_text())
        os.kill(pid, signal.SIGSTOP)
        try:
            proc = run_orenv(home, "token", cwd=proj)
        finally:
            os.kill(pid, signal.SIGCONT)
        assert proc.returncode != 0 and KEY not in proc.stdout + proc.stderr
        assert "did not answer in time" in proc.stderr, proc.stderr
        assert "no longer in memory" not in proc.stderr
        assert (run_orenv(home, "token", cwd=proj, check=True).stdout.strip() == KEY) is True
    finally:
        run_orenv(home, "daemon", "stop")
