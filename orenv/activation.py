"""What a directory's shell environment should be: policy + trust + key.

``compute`` never raises for problems a user can cause (bad policy, untrusted
file, missing key, locked keyring): it returns an ``Activation`` with no
variables and a one-line message, so nothing is ever half-applied.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from . import claude, guard, paths, trust
from ._text import marker
from .config import Config, load_config
from .errors import OrenvError, PolicyError
from .policy import Policy, find_chain, find_nearest, profile_name, resolve
from .render import policy_env

__all__ = ["Activation", "compute", "resolve_for_exec", "trusted_policy"]

KeyReader = Callable[[str], str]


@dataclass(frozen=True)
class Activation:
    """The answer for one directory.

    ``watch``: files and directories whose change (a newer mtime, or
    removal) can change the answer; ``absent``: paths whose appearance can
    (a nearer policy, a ``.claude`` directory, a settings file).
    """

    env: Mapping[str, str] = field(default_factory=dict)
    watch: tuple[str, ...] = ()
    message: str | None = None
    state: str = "none"  # none | active | disabled | blocked | error
    policy: Policy | None = None
    absent: tuple[str, ...] = ()


def _default_reader(name: str) -> str:
    from .secrets import get_key

    return get_key(name)


def _markers(policy: Policy, state: str, names: list[str]) -> dict[str, str]:
    # Prompt themes splice these into PS1/PROMPT: never a $(...) from a repository.
    marks = {
        "ORENV_ACTIVE": marker(policy.path),
        "ORENV_PROFILE": marker(policy.name if state == "active"
                                else f"{policy.name} ({state})"),
        "ORENV_STATE": state,
        "ORENV_MODE": policy.mode,
    }
    marks["ORENV_VARS"] = " ".join([*names, *marks, "ORENV_VARS"])
    return marks


def compute(
    cwd: str,
    base_env: Mapping[str, str],
    *,
    read_key: KeyReader | None = None,
    config: Config | None = None,
) -> Activation:
    """The environment *cwd* should have, applied over *base_env* (the env before orenv)."""
    stamp = str(paths.stamp_file())
    nearest = find_nearest(cwd)
    if nearest is None:
        return Activation(watch=(stamp,))
    # The policy's directory too: re-pointing a .orenv.toml link, or moving an
    # older file over it, changes the directory, not the file's time.
    watch = [stamp, nearest, os.path.dirname(nearest)]
    absent = _nearer_policies(cwd, nearest)
    policy: Policy | None = None
    try:
        config = config or load_config()
        if config.path and os.path.exists(config.path):
            watch.append(config.path)
        elif config.path:
            absent.append(config.path)
        chain = find_chain(cwd)
        watch[1:3] = [p for pf in chain for p in (pf.path, os.path.dirname(pf.path))]
        for pf in chain:
            trust.require(pf.path, pf.content)
        policy = resolve(chain, config)
        if not policy.enabled:
            return Activation(watch=tuple(watch), state="disabled", policy=policy,
                              absent=tuple(absent))
        # What Claude Code itself reads here is part of the decision, at every cd.
        present, missing = claude.settings_watch(cwd, base_env)
        watch += present
        absent += missing
        guard.check([cwd], base_env, config, policy_env(policy, {}, key_value=None),
                    policy.mode)
        key_value = None
        if policy.mode == "export":
            assert policy.key is not None  # resolve() guarantees it when enabled
            key_value = (read_key or _default_reader)(policy.key)
        env = policy_env(policy, base_env, key_value=key_value)
        env.update(_markers(policy, "active", list(env)))
        return Activation(env=env, watch=tuple(dict.fromkeys(watch)), state="active",
                          policy=policy, absent=tuple(dict.fromkeys(absent)))
    except OrenvError as exc:
        state = "error" if isinstance(exc, PolicyError) else "blocked"
        env = {}
        if policy is None:
            try:
                # Name the blocked profile for prompts even when it is not loaded.
                from .policy import read_policy_file

                pf = read_policy_file(nearest)
                # A file nobody allowed sets nothing, not even the prompt's name
                # (prompt themes may splice it into PS1, where $(...) would run).
                trusted = trust.check(pf.path, pf.content)
                name = (pf.name if trusted else None) or profile_name(nearest)
                env = {"ORENV_PROFILE": marker(f"{name} ({state})"), "ORENV_STATE": state}
            except OrenvError:
                # Unreadable or invalid: still name it (by its directory) for prompts.
                name = profile_name(nearest)
                env = {"ORENV_PROFILE": marker(f"{name} ({state})"), "ORENV_STATE": state}
        else:
            env = {k: v for k, v in _markers(policy, state, []).items()
                   if k in ("ORENV_PROFILE", "ORENV_STATE")}
        env["ORENV_VARS"] = " ".join([*env, "ORENV_VARS"])
        return Activation(env=env, watch=tuple(dict.fromkeys(watch)), message=exc.message,
                          state=state, policy=policy, absent=tuple(dict.fromkeys(absent)))


def _nearer_policies(cwd: str, nearest: str) -> list[str]:
    """Policy paths between *cwd* and the *nearest* one: one appearing there wins."""
    out = []
    d = os.path.abspath(cwd)
    stop = os.path.dirname(nearest)
    while d != stop:
        out.append(os.path.join(d, paths.POLICY_NAME))
        parent = os.path.dirname(d)
        if parent == d:
            break
        d = parent
    return out


def trusted_policy(cwd: str, config: Config | None = None) -> Policy | None:
    """The effective policy of *cwd*, None without one; raises unless every file is allowed."""
    chain = find_chain(cwd)
    if not chain:
        return None
    for pf in chain:
        trust.require(pf.path, pf.content)
    return resolve(chain, config or load_config())


def resolve_for_exec(
    cwd: str, base_env: Mapping[str, str], *, read_key: KeyReader | None = None,
    claude_dirs: tuple[str, ...] = (),
) -> tuple[Policy, dict[str, str]]:
    """The full environment (with the key) for ``orenv exec``/``orenv token``; raises.

    *claude_dirs*: more directories where Claude Code may start with this key
    (the process's own working directory); their settings are checked too.
    """
    config = load_config()
    policy = trusted_policy(cwd, config)
    if policy is None:
        raise OrenvError(f"no {paths.POLICY_NAME} at or above {cwd}; run `orenv init` there")
    if not policy.enabled:
        raise OrenvError(f"orenv is disabled here by {policy.path} (enabled = false)")
    assert policy.key is not None
    # Compared with what `orenv helper on` writes: the policy's own values.
    guard.check([cwd, *claude_dirs], base_env, config, policy_env(policy, {}, key_value=None),
                policy.mode)
    key_value = (read_key or _default_reader)(policy.key)
    env = policy_env(policy, base_env, key_value=key_value)
    return policy, env
