"""The daemon's JSON-lines log never holds a secret."""

from __future__ import annotations

import json
from collections.abc import Callable

import structlog
from harness import Shell
from structlog.testing import capture_logs

from orenv.log import RedactSecrets, redact

from .conftest import KEY, KEY2, DaemonCtl

ANT = "sk-ant-api03-" + "x" * 40


class TestRedactSecrets:
    def test_secret_named_fields_are_masked(self) -> None:
        with capture_logs(processors=[RedactSecrets()]) as logs:
            structlog.get_logger().info("event", OPENROUTER_API_KEY="abc", AUTH_TOKEN="t0k",
                                        api_key="k", name="work")
        (entry,) = logs
        assert entry["OPENROUTER_API_KEY"] == "[redacted]"
        assert entry["AUTH_TOKEN"] == "[redacted]"
        assert entry["api_key"] == "[redacted]"
        assert entry["name"] == "work"

    def test_key_shaped_substrings_anywhere(self) -> None:
        with capture_logs(processors=[RedactSecrets()]) as logs:
            structlog.get_logger().info(f"saw {KEY}", detail=f"x={ANT};",
                                        nested={"list": [KEY2, 1], "ok": "fine"})
        (entry,) = logs
        blob = json.dumps(entry)
        assert KEY not in blob and KEY2 not in blob and ANT not in blob
        assert "sk-or-v1-0" not in blob and "api03" not in blob
        assert entry["nested"]["ok"] == "fine"
        assert entry["detail"] == "x=[redacted];"

    def test_redact_is_pure(self) -> None:
        assert redact("plain") == "plain"
        assert redact(3) == 3
        assert redact({"SOME_KEY": ""}) == {"SOME_KEY": ""}


def test_real_log_has_no_key_after_a_scenario(keyed: DaemonCtl,
                                              shell_factory: Callable[..., Shell]) -> None:
    proj = keyed.policy("proj")
    keyed.start()
    sh = shell_factory("zsh", env={"ANTHROPIC_CUSTOM_HEADERS": f"X-Leak: {ANT}"})
    sh.cd(proj)
    assert sh.env()["ANTHROPIC_AUTH_TOKEN"] == KEY
    keyed.orenv("key", "set", "--force", "work", input=KEY2)
    sh.run("true")
    assert sh.env()["ANTHROPIC_AUTH_TOKEN"] == KEY2
    sh.cd(keyed.home.path)
    keyed.orenv("daemon", "status")
    keyed.orenv("daemon", "stop")
    log = keyed.home.state / "orenv" / "daemon.log"
    text = log.read_text()
    assert '"event": "daemon_started"' in text
    for line in text.splitlines():
        json.loads(line)  # JSON lines
    for needle in (KEY, KEY2, KEY[9:], KEY2[9:], ANT):
        assert needle not in text
    assert (log.stat().st_mode & 0o777) == 0o600
