"""A real Secret Service for tests: gnome-keyring in a private D-Bus session.

``start_keyring(base)`` starts a private ``dbus-daemon`` (its own config, so
nothing from the machine's session bus or service directory leaks in) and
``gnome-keyring-daemon --unlock --components=secrets`` with the password on its
stdin. Everything the daemons write (keyring files, control socket, bus socket)
lives under *base*.

A client only needs ``KeyringSession.env`` (the bus address): its own HOME and
XDG directories may differ from the daemon's, because the Secret Service is
reached over D-Bus, not through files.

Behaviour observed with gnome-keyring 42 and python ``keyring`` 25 (see
``tests/test_harness.py``, which checks it):

* ``lock()``: reads and writes fail fast with ``keyring.errors.KeyringLocked``
  ("Failed to unlock the collection!"); gnome-keyring asks for a prompter, none
  can be reached on the private bus, so the unlock is dismissed at once (a few
  ms, no hang). ``secret-tool lookup`` exits 1 with no output.
* ``kill_service()``: a *new* process selecting a backend gets
  ``keyring.errors.NoKeyringError`` (the SecretService backend reports itself
  unavailable, keyring falls back to the fail backend); a process that had
  already selected the backend gets ``keyring.errors.KeyringError`` or a
  ``secretstorage``/``jeepney`` exception from the call. Nothing restarts the
  service: the private bus has no activatable services (``activation=True``
  restores the machine's service files, as on a desktop, where the bus would
  start a fresh, locked daemon instead).
* ``unlock()`` (and ``restart_service()``) start a fresh daemon with the
  password, which unlocks the stored login keyring again: the data survives.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["KeyringSession", "KeyringSetupError", "keyring_running", "start_keyring"]

SECRETS_NAME = "org.freedesktop.secrets"

_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  {servicedirs}
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""

# A unix socket path is limited to 108 bytes; leave room.
_MAX_SOCKET_PATH = 100


class KeyringSetupError(RuntimeError):
    """The private bus or gnome-keyring could not be started."""


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise KeyringSetupError(
            f"{tool} not found on PATH: run `make deps` (apt packages dbus, gnome-keyring)"
        )
    return path


@dataclass
class KeyringSession:
    """A running private bus + gnome-keyring. Use ``.env`` in children."""

    base: Path
    password: str
    bus_address: str
    bus_pid: int
    daemon_env: dict[str, str]
    keyring_proc: subprocess.Popen[bytes] | None = None
    _tmp_socket_dir: str | None = field(default=None, repr=False)

    @property
    def env(self) -> dict[str, str]:
        """Variables a child process needs to reach this Secret Service."""
        return {"DBUS_SESSION_BUS_ADDRESS": self.bus_address}

    @property
    def keyring_pid(self) -> int | None:
        proc = self.keyring_proc
        return proc.pid if proc is not None and proc.poll() is None else None

    # -- service control -------------------------------------------------------

    def start_service(self, timeout: float = 10.0) -> None:
        """Start gnome-keyring-daemon (unlocking the login keyring) and wait for it."""
        if self.keyring_pid is not None:
            return
        log = (self.base / "gnome-keyring.log").open("ab")
        proc = subprocess.Popen(
            [
                _need("gnome-keyring-daemon"),
                "--foreground",
                "--unlock",
                "--components=secrets",
            ],
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=log,
            env=self.daemon_env,
            cwd=self.base,
            start_new_session=True,
        )
        log.close()
        assert proc.stdin is not None
        proc.stdin.write(self.password.encode())
        proc.stdin.close()
        self.keyring_proc = proc
        deadline = time.monotonic() + timeout
        while not self._name_has_owner(SECRETS_NAME):
            if proc.poll() is not None:
                raise KeyringSetupError(
                    f"gnome-keyring-daemon exited with {proc.returncode}: {self._log_tail()}"
                )
            if time.monotonic() > deadline:
                raise KeyringSetupError(
                    f"gnome-keyring-daemon did not claim {SECRETS_NAME} "
                    f"within {timeout}s: {self._log_tail()}"
                )
            time.sleep(0.02)

    def kill_service(self) -> None:
        """Kill only gnome-keyring-daemon: the bus stays, the Secret Service is gone."""
        proc = self.keyring_proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        self.keyring_proc = None
        deadline = time.monotonic() + 5
        while self._name_has_owner(SECRETS_NAME) and time.monotonic() < deadline:
            time.sleep(0.02)

    def restart_service(self) -> None:
        self.kill_service()
        self.start_service()

    def lock(self) -> None:
        """Lock every collection, as a desktop does on screen lock."""
        import secretstorage
        from jeepney.io.blocking import open_dbus_connection

        conn = open_dbus_connection(bus=self.bus_address)
        try:
            for collection in secretstorage.get_all_collections(conn):
                collection.lock()
        finally:
            conn.close()

    def is_locked(self) -> bool:
        """Whether the default collection is locked."""
        import secretstorage
        from jeepney.io.blocking import open_dbus_connection

        conn = open_dbus_connection(bus=self.bus_address)
        try:
            return bool(secretstorage.get_default_collection(conn).is_locked())
        finally:
            conn.close()

    def unlock(self) -> None:
        """Unlock again (restarts the daemon with the password; data is kept)."""
        self.restart_service()

    def stop(self) -> None:
        """Kill gnome-keyring and the bus; idempotent."""
        self.kill_service()
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.bus_pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            # dbus-daemon --fork re-parents to init, which reaps it (a zombie counts as gone).
            if not _alive(self.bus_pid):
                break
            time.sleep(0.02)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.bus_pid, signal.SIGKILL)
        if self._tmp_socket_dir is not None:
            shutil.rmtree(self._tmp_socket_dir, ignore_errors=True)
            self._tmp_socket_dir = None

    def __enter__(self) -> KeyringSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- helpers ---------------------------------------------------------------

    def _name_has_owner(self, name: str) -> bool:
        from jeepney import DBusAddress, new_method_call
        from jeepney.io.blocking import open_dbus_connection

        bus = DBusAddress(
            "/org/freedesktop/DBus",
            bus_name="org.freedesktop.DBus",
            interface="org.freedesktop.DBus",
        )
        conn = open_dbus_connection(bus=self.bus_address)
        try:
            reply = conn.send_and_get_reply(
                new_method_call(bus, "NameHasOwner", "s", (name,)), timeout=5
            )
        finally:
            conn.close()
        return bool(reply.body[0])

    def _log_tail(self) -> str:
        try:
            text = (self.base / "gnome-keyring.log").read_text(errors="replace")
        except OSError:
            return "(no log)"
        return text[-2000:] or "(empty log)"


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def start_keyring(
    base: Path,
    password: str = "test",  # noqa: S107  a throwaway test keyring
    *,
    activation: bool = False,
) -> KeyringSession:
    """Start a private bus and an unlocked gnome-keyring with all state under *base*.

    Args:
        base: directory for the daemons' HOME, XDG dirs, logs and bus socket.
        password: the login keyring password (fed on gnome-keyring's stdin).
        activation: let the bus start the machine's D-Bus services on demand
            (as a desktop session does). Off by default, so ``kill_service()``
            really leaves no Secret Service behind.
    """
    base = Path(base).resolve()
    home = base / "home"
    runtime = base / "runtime"
    tmp_socket_dir: str | None = None
    if len(str(runtime / "keyring" / "control")) > _MAX_SOCKET_PATH:
        # A long TMPDIR (macOS, a sandboxed home): the daemons' sockets go to a
        # short private directory under /tmp instead (AF_UNIX paths are short).
        tmp_socket_dir = tempfile.mkdtemp(prefix="orenv-kr-", dir="/tmp")
        runtime = Path(tmp_socket_dir) / "runtime"
    for d in (home, home / ".config", home / ".local" / "share", home / ".cache"):
        d.mkdir(parents=True, exist_ok=True)
    runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
    runtime.chmod(0o700)
    services = base / "dbus-services"
    services.mkdir(exist_ok=True)

    socket = base / "bus"
    if len(str(socket)) > _MAX_SOCKET_PATH:
        if tmp_socket_dir is None:
            tmp_socket_dir = tempfile.mkdtemp(prefix="orenv-kr-", dir="/tmp")
        socket = Path(tmp_socket_dir) / "bus"
    servicedirs = (
        "<standard_session_servicedirs/>" if activation else f"<servicedir>{services}</servicedir>"
    )
    config = base / "bus.conf"
    config.write_text(_BUS_CONFIG.format(socket=socket, servicedirs=servicedirs))

    daemon_env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_RUNTIME_DIR": str(runtime),
        "LANG": "C.UTF-8",
    }
    out = subprocess.run(
        [
            _need("dbus-daemon"),
            f"--config-file={config}",
            "--fork",
            "--print-address=1",
            "--print-pid=1",
        ],
        env=daemon_env,
        cwd=base,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    lines = out.stdout.split()
    if out.returncode != 0 or len(lines) < 2:
        raise KeyringSetupError(f"dbus-daemon failed ({out.returncode}): {out.stderr.strip()}")
    address, pid = lines[0], int(lines[1])
    daemon_env["DBUS_SESSION_BUS_ADDRESS"] = address
    session = KeyringSession(
        base=base,
        password=password,
        bus_address=address,
        bus_pid=pid,
        daemon_env=daemon_env,
        _tmp_socket_dir=tmp_socket_dir,
    )
    try:
        session.start_service()
    except BaseException:
        session.stop()
        raise
    return session


@contextlib.contextmanager
def keyring_running(
    base: Path,
    password: str = "test",  # noqa: S107  a throwaway test keyring
) -> Iterator[KeyringSession]:
    """``with keyring_running(tmp) as ks:`` — start, yield, always stop."""
    session = start_keyring(base, password)
    try:
        yield session
    finally:
        session.stop()
