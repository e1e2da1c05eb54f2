"""Many shells cd-ing at once through one daemon each end with their own env."""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Callable

from harness import Shell

from .conftest import KEY, DaemonCtl

# Sized for `make test` (about half a minute on 2 cores); the full
# size runs with ORENV_STRESS=1 (50 shells x 200 cds).
if os.environ.get("ORENV_STRESS"):
    SHELLS = {"zsh": 30, "bash": 10, "fish": 10}
    CDS = 200
else:
    SHELLS = {"zsh": 12, "bash": 4, "fish": 4}
    CDS = 100
PROJECTS = 6


def test_many_shells_many_cds(keyed: DaemonCtl,
                              shell_factory: Callable[..., Shell]) -> None:
    projects = []
    for i in range(PROJECTS):
        d = keyed.policy(f"p{i}", f'[openrouter]\nkey = "work"\n[env]\nWHICH = "p{i}"\n')
        (d / "sub").mkdir()
        projects.append(d)
    plain = keyed.home.path / "plain"
    plain.mkdir()
    targets = [*projects, *(p / "sub" for p in projects), plain]
    keyed.start()
    shells = [shell_factory(kind, timeout=120)
              for kind, n in SHELLS.items() for _ in range(n)]
    finals: dict[int, object] = {}
    errors: list[BaseException] = []

    def drive(idx: int, sh: Shell) -> None:
        rng = random.Random(idx)  # noqa: S311 - a reproducible walk, not a secret
        try:
            for _ in range(CDS):
                target = rng.choice(targets)
                sh.cd(target)
            finals[idx] = target
        except BaseException as exc:  # reported below, with the shell
            errors.append(exc)

    threads = [threading.Thread(target=drive, args=(i, sh)) for i, sh in enumerate(shells)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(1800)
    assert not errors, errors[:3]
    st = keyed.status()
    assert len(st["shells"]) == len(shells)  # type: ignore[arg-type]
    for i, sh in enumerate(shells):
        env = sh.env()
        target = finals[i]
        if target == plain:
            assert "WHICH" not in env and "ANTHROPIC_AUTH_TOKEN" not in env, sh
        else:
            name = target.name if target.name != "sub" else target.parent.name  # type: ignore[attr-defined]
            assert env["WHICH"] == name, (sh, target)
            assert env["ANTHROPIC_AUTH_TOKEN"] == KEY
