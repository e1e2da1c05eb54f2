"""Load: many shells cd-ing while policies are edited and keys rotated.

Every observation must be consistent (the full environment of the directory's
policy with one of the keys in use, or cleanly nothing while a policy is
blocked between an edit and its re-allow); after the edits stop, one prompt
brings every shell to exactly the current state. The counts are printed.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

from harness import Shell

from .conftest import KEY, KEY2, DaemonCtl

SHELLS = {"zsh": 4, "bash": 2, "fish": 2}
CDS = 25
PROJECTS = 3


def _policy_text(name: str, generation: int) -> str:
    return (f"# generation {generation}\n[openrouter]\nkey = \"work\"\n"
            f"[env]\nWHICH = \"{name}\"\n")


def _describe(env: dict[str, str]) -> str:
    """What a shell had, for a failure message: markers, and the key only by label."""
    token = env.get("ANTHROPIC_AUTH_TOKEN")
    label = {None: "none", KEY: "KEY", KEY2: "KEY2"}.get(token, "another value")
    shown = {k: env[k] for k in ("WHICH", "ORENV_ACTIVE", "ORENV_STATE") if k in env}
    return f"{shown} token={label}"


def test_cds_with_concurrent_edits_and_key_rotation(
    keyed: DaemonCtl, shell_factory: Callable[..., Shell]
) -> None:
    projects = [keyed.policy(f"p{i}", _policy_text(f"p{i}", 0)) for i in range(PROJECTS)]
    plain = keyed.home.path / "plain"
    plain.mkdir()
    targets: list[Path] = [*projects, plain]
    keyed.start()
    shells = [shell_factory(kind, timeout=60) for kind, n in SHELLS.items() for _ in range(n)]
    stop = threading.Event()
    wrong: list[str] = []
    errors: list[BaseException] = []
    observations = 0
    edits = rotations = 0
    lock = threading.Lock()

    def check(sh: Shell, target: Path, env: dict[str, str], final: str | None) -> None:
        nonlocal observations
        if target == plain:
            ok = "WHICH" not in env and "ANTHROPIC_AUTH_TOKEN" not in env
        else:
            active = (env.get("WHICH") == target.name
                      and env.get("ORENV_ACTIVE") == str(target / ".orenv.toml")
                      and env.get("ANTHROPIC_AUTH_TOKEN") in ({final} if final else {KEY, KEY2}))
            blocked = (final is None and "WHICH" not in env
                       and "ANTHROPIC_AUTH_TOKEN" not in env
                       and env.get("ORENV_STATE") == "blocked")
            ok = active or blocked
        with lock:
            observations += 1
            if not ok:
                wrong.append(f"{sh.kind} pid {sh.pid} in {target.name}: {_describe(env)}")

    def drive(idx: int, sh: Shell, finals: dict[int, Path]) -> None:
        rng = random.Random(idx)  # noqa: S311 - a reproducible walk, not a secret
        try:
            for _ in range(CDS):
                target = rng.choice(targets)
                sh.cd(target)
                check(sh, target, sh.env(), None)
            finals[idx] = target
        except BaseException as exc:  # reported below
            errors.append(exc)

    def churn() -> None:
        nonlocal edits, rotations
        rng = random.Random(99)  # noqa: S311
        generation = 0
        try:
            while not stop.is_set():
                generation += 1
                if generation % 3 == 0:
                    keyed.orenv("key", "set", "--force", "work", input=rng.choice([KEY, KEY2]))
                    rotations += 1
                else:
                    p = rng.choice(projects)
                    (p / ".orenv.toml").write_text(_policy_text(p.name, generation))
                    time.sleep(0.05)  # shells may see it blocked meanwhile
                    keyed.orenv("allow", str(p))
                    edits += 1
                time.sleep(0.05)
        except BaseException as exc:
            errors.append(exc)

    finals: dict[int, Path] = {}
    drivers = [threading.Thread(target=drive, args=(i, sh, finals))
               for i, sh in enumerate(shells)]
    churner = threading.Thread(target=churn)
    churner.start()
    for t in drivers:
        t.start()
    for t in drivers:
        t.join(600)
    stop.set()
    churner.join(60)
    assert not errors, errors[:3]
    keyed.orenv("key", "set", "--force", "work", input=KEY2)  # a known final key
    for i, sh in enumerate(shells):
        sh.run("true")  # the next prompt applies whatever changed
        check(sh, finals[i], sh.env(), KEY2)
    print(f"\nload: {len(shells)} shells, {observations} observations, {edits} policy edits, "
          f"{rotations} key rotations, {len(wrong)} wrong environments")
    assert edits > 0 and rotations > 0
    assert not wrong, wrong[:5]
