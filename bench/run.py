"""orenv vs direnv, side by side in one run, same directory tree, zsh and bash.

Writes bench/RESULTS.md (a Markdown table with ratios) and prints it.

    .venv/bin/python bench/run.py [--idle-seconds 60] [--rounds N]

Timings come from the shells themselves ($EPOCHREALTIME around hook calls in
one shell process, so the numbers are the hook's cost per prompt / per cd,
without terminal I/O); forks per prompt are counted with ``strace -f``.
Everything runs in a temporary HOME with a private gnome-keyring (the tests'
helper), so the machine's own setup is never touched.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
VENV_BIN = Path(sys.executable).parent
KEY = "sk-or-v1-" + "0123456789abcdef" * 4
TARGETS = {"idle": 0.1, "cd_warm_zsh": 1.5, "cd_none": 0.5, "first": 25.0, "hook": 30.0,
           "rss": 40.0}


def sh_env(home: dict[str, str], extra: dict[str, str] | None = None) -> dict[str, str]:
    path = f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin"
    return {"PATH": path, "LANG": "C.UTF-8", "TERM": "dumb", **home, **(extra or {})}


def script(shell: str, tool: str, tree: dict[str, str], n_idle: int, n_cd: int,
           fresh: list[str]) -> str:
    hookline = {"orenv": f'eval "$(orenv hook {shell})"',
                "direnv": f'eval "$(direnv hook {shell})"'}[tool]
    fn = {("zsh", "orenv"): "__orenv_precmd", ("bash", "orenv"): "__orenv_hook",
          ("zsh", "direnv"): "_direnv_hook", ("bash", "direnv"): "_direnv_hook"}[(shell, tool)]
    loop = "for ((i=0;i<{n};i++)); do {body}; done"
    fresh_list = " ".join(f"'{d}'" for d in fresh)
    pre = "zmodload zsh/datetime" if shell == "zsh" else ""
    none_body = f"cd '{tree['none_a']}'; p; cd '{tree['none_b']}'; p"
    return f"""{pre}
{hookline}
p() {{ {fn}; }}
t() {{ echo "$1 $2 $3 $4"; }}
cd '{tree['plain']}'; p; p
cd '{tree['proj']}'; p; cd '{tree['plain']}'; p
a=$EPOCHREALTIME; {loop.format(n=n_idle, body='p')}; b=$EPOCHREALTIME; t idle $a $b {n_idle}
cd '{tree['proj']}'; p
a=$EPOCHREALTIME; {loop.format(n=n_idle, body='p')}; b=$EPOCHREALTIME; t idle_in $a $b {n_idle}
a=$EPOCHREALTIME; {loop.format(n=n_cd, body=f"cd '{tree['plain']}'; p; cd '{tree['proj']}'; p")}; \
b=$EPOCHREALTIME; t cd_warm $a $b {2 * n_cd}
cd '{tree['none_a']}'; p; cd '{tree['none_b']}'; p
a=$EPOCHREALTIME; {loop.format(n=n_cd, body=none_body)}; \
b=$EPOCHREALTIME; t cd_none $a $b {2 * n_cd}
for d in {fresh_list}; do cd '{tree['plain']}'; p; \
a=$EPOCHREALTIME; cd "$d"; p; b=$EPOCHREALTIME; t first $a $b 1; done
"""


def run_script(shell: str, text: str, env: dict[str, str]) -> dict[str, list[float]]:
    argv = ["zsh", "-f", "-c", text] if shell == "zsh" else ["bash", "--norc", "-c", text]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600,
                          cwd=env["HOME"])
    out: dict[str, list[float]] = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 4:
            name, a, b, n = parts
            out.setdefault(name, []).append((float(b) - float(a)) * 1000 / int(n))
    if not out:
        raise RuntimeError(f"{shell} script failed: {proc.stderr[-2000:]}")
    return out


def count_forks(shell: str, tool: str, tree: dict[str, str], env: dict[str, str],
                n: int = 20) -> float:
    """Processes created per idle prompt (strace -f), baseline subtracted."""
    hookline = {"orenv": f'eval "$(orenv hook {shell})"',
                "direnv": f'eval "$(direnv hook {shell})"'}[tool]
    fn = {("zsh", "orenv"): "__orenv_precmd", ("bash", "orenv"): "__orenv_hook",
          ("zsh", "direnv"): "_direnv_hook", ("bash", "direnv"): "_direnv_hook"}[(shell, tool)]
    counts = []
    for reps in (0, n):
        body = f"""{hookline}
cd '{tree['proj']}'; {fn}; {fn}
for ((i=0;i<{reps};i++)); do {fn}; done
"""
        argv = ["zsh", "-f", "-c", body] if shell == "zsh" else ["bash", "--norc", "-c", body]
        with tempfile.NamedTemporaryFile(suffix=".strace") as log:
            subprocess.run(["strace", "-f", "-qq", "-e", "trace=fork,vfork,clone,clone3",
                            "-o", log.name, *argv], env=env, capture_output=True, timeout=300)
            lines = Path(log.name).read_text().splitlines()
        counts.append(sum(1 for ln in lines if any(c in ln for c in
                                                    ("fork(", "clone(", "clone3("))
                          and "= -1" not in ln and "resumed" not in ln
                          and "CLONE_THREAD" not in ln))  # threads are not processes
    return (counts[1] - counts[0]) / n


def timed(argv: list[str], env: dict[str, str], rounds: int = 10) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        subprocess.run(argv, env=env, capture_output=True, check=True, timeout=60)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def make_tree(root: Path, env: dict[str, str], fresh_n: int) -> tuple[dict[str, str], list[str],
                                                                      list[str]]:
    tree = {"plain": root / "plain", "proj": root / "proj", "none_a": root / "plain" / "a",
            "none_b": root / "plain" / "b"}
    for p in tree.values():
        p.mkdir(parents=True, exist_ok=True)
    policy = ('[openrouter]\nkey = "work"\n[models]\nopus = "anthropic/claude-opus-4.5"\n'
              '[env]\nAPI_TIMEOUT_MS = "600000"\n')
    envrc = ('export ANTHROPIC_BASE_URL=https://openrouter.ai/api\n'
             f'export ANTHROPIC_AUTH_TOKEN={KEY}\nexport ANTHROPIC_API_KEY=\n'
             'export ANTHROPIC_DEFAULT_OPUS_MODEL=anthropic/claude-opus-4.5\n'
             'export API_TIMEOUT_MS=600000\n')
    fresh_o, fresh_d = [], []
    dirs = [tree["proj"]]
    for i in range(fresh_n):
        for kind, lst in (("o", fresh_o), ("d", fresh_d)):
            d = root / f"fresh-{kind}{i}"
            d.mkdir()
            lst.append(str(d))
            dirs.append(d)
    for d in dirs:
        (d / ".orenv.toml").write_text(policy)
        (d / ".envrc").write_text(envrc)
        subprocess.run(["orenv", "allow", str(d)], env=env, capture_output=True, check=True)
        subprocess.run(["direnv", "allow", str(d)], env=env, capture_output=True, check=True,
                       cwd=d)
    return {k: str(v) for k, v in tree.items()}, fresh_o, fresh_d


def daemon_proc(env: dict[str, str]) -> psutil.Process:
    pid = int((Path(env["XDG_RUNTIME_DIR"]) / "orenv" / "daemon.pid").read_text())
    return psutil.Process(pid)


def fmt(v: float, unit: str = "ms") -> str:
    if unit == "ms":
        return f"{v:.3f} ms" if v < 1 else f"{v:.2f} ms"
    return f"{v:.1f} {unit}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--idle-seconds", type=float, default=60.0,
                    help="how long to watch the idle daemon's CPU (default 60)")
    ap.add_argument("--rounds", type=int, default=200, help="idle prompts per measurement")
    ap.add_argument("--cds", type=int, default=50, help="cd pairs per measurement")
    ap.add_argument("--fresh", type=int, default=10, help="first loads per tool and shell")
    ap.add_argument("--out", default=str(REPO / "bench" / "RESULTS.md"))
    args = ap.parse_args()
    for tool in ("zsh", "bash", "strace", "direnv"):
        if not shutil.which(tool):
            sys.exit(f"bench: {tool} is not installed (run `make deps`)")

    from keyringd import start_keyring

    base = Path(tempfile.mkdtemp(prefix="orenv-bench-"))
    ks = start_keyring(base / "keyring")
    daemon: psutil.Process | None = None
    try:
        home = base / "home"
        xdg = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
               "XDG_DATA_HOME": str(home / ".local/share"),
               "XDG_STATE_HOME": str(home / ".local/state"),
               "XDG_CACHE_HOME": str(home / ".cache"), "XDG_RUNTIME_DIR": str(base / "run")}
        for v in xdg.values():
            Path(v).mkdir(parents=True, exist_ok=True)
        (base / "run").chmod(0o700)
        env = sh_env({**xdg, **ks.env}, {"ORENV_DAEMON_LINGER": "600", "ORENV_QUIET": "1"})
        subprocess.run(["orenv", "key", "set", "work"], input=KEY, text=True, env=env,
                       capture_output=True, check=True)
        tree, fresh_o, fresh_d = make_tree(home / "src", env, args.fresh * 2)
        subprocess.run(["orenv", "daemon", "start"], env=env, capture_output=True, check=True)
        daemon = daemon_proc(env)
        # The bench process registers as a live shell, so the daemon stays.
        from orenv.daemon.client import export as client_export

        client_export("zsh", str(os.getpid()), "cd",
                      str(Path(xdg["XDG_RUNTIME_DIR"]) / "orenv" / "daemon.sock"), tree["plain"],
                      env={}, timeout=5)

        results: dict[tuple[str, str], dict[str, float]] = {}
        for shell in ("zsh", "bash"):
            half = slice(0, args.fresh) if shell == "zsh" else slice(args.fresh, None)
            for tool, fresh in (("orenv", fresh_o[half]), ("direnv", fresh_d[half])):
                r = run_script(shell, script(shell, tool, tree, args.rounds, args.cds, fresh),
                               env)
                res = {k: statistics.median(v) for k, v in r.items()}
                res["forks"] = count_forks(shell, tool, tree, env)
                results[(shell, tool)] = res

        hook_o = timed(["orenv", "hook", "zsh"], env)
        hook_d = timed(["direnv", "hook", "zsh"], env)
        # Let the daemon notice the benchmark shells are gone (it prunes them
        # at its next ticks) before the idle window starts.
        time.sleep(3)
        rss = daemon.memory_info().rss / 1048576
        cpu0 = sum(daemon.cpu_times()[:2])
        time.sleep(args.idle_seconds)
        cpu1 = sum(daemon.cpu_times()[:2])
        rss_after = daemon.memory_info().rss / 1048576
        idle_cpu = (cpu1 - cpu0) / args.idle_seconds * 100
    finally:
        with contextlib.suppress(Exception):
            subprocess.run(["orenv", "daemon", "stop"], env=env, capture_output=True, timeout=20)
        with contextlib.suppress(Exception):
            if daemon is not None and daemon.is_running():
                daemon.kill()
        ks.stop()
        shutil.rmtree(base, ignore_errors=True)

    def row(label: str, key: str, target: str, lower_better: bool = True) -> list[str]:
        cells = [label]
        for shell in ("zsh", "bash"):
            o = results[(shell, "orenv")][key]
            d = results[(shell, "direnv")][key]
            ratio = f"{d / o:.0f}x faster" if o > 0 and d / o >= 1.5 else (
                f"{d / o:.2f}x" if o > 0 else "—")
            cells += [fmt(o), fmt(d), ratio]
        return [*cells, target]

    def frow(label: str) -> list[str]:
        cells = [label]
        for shell in ("zsh", "bash"):
            o = results[(shell, "orenv")]["forks"]
            d = results[(shell, "direnv")]["forks"]
            cells += [f"{o:.2f}", f"{d:.2f}", "—"]
        return [*cells, "0"]

    header = ["", "orenv zsh", "direnv zsh", "ratio", "orenv bash", "direnv bash", "ratio",
              "target"]
    rows = [
        row("idle prompt (no policy)", "idle", "≤ 0.1 ms"),
        row("idle prompt (in project)", "idle_in", "≤ 0.1 ms"),
        frow("processes per idle prompt (strace)"),
        row("cd into/out of project, warm (per cd + prompt)", "cd_warm", "≤ 1.5 ms (zsh)"),
        row("cd with no policy above", "cd_none", "≤ 0.5 ms"),
        row("first load, cold (cd into new project)", "first", "≤ 25 ms"),
    ]
    direnv_v = subprocess.run(["direnv", "version"], capture_output=True, text=True).stdout
    lines = ["# orenv vs direnv", "",
             f"Measured by `bench/run.py` on {platform.node() and 'this machine'}: "
             f"{os.cpu_count()} CPUs, {platform.python_implementation()} "
             f"{platform.python_version()}, direnv "
             f"{direnv_v.strip()}"
             f", zsh and bash; {args.rounds} idle prompts, {args.cds} cd pairs, {args.fresh} "
             "first loads per cell (medians). Ratios: direnv time / orenv time.", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    lines += ["", "| other | orenv | direnv | target |", "|---|---|---|---|",
              f"| `orenv hook zsh` / `direnv hook zsh` | {fmt(hook_o)} | {fmt(hook_d)} "
              "| ≤ 30 ms |",
              f"| daemon RSS (start / after idle) | {rss:.1f} / {rss_after:.1f} MiB "
              "| — (no daemon) "
              "| ≤ 40 MB |",
              f"| daemon idle CPU over {args.idle_seconds:g} s | {idle_cpu:.3f} % | — | 0 % |", ""]
    lines += [
        "Notes: the hook functions are called in a loop inside one shell process "
        "(`__orenv_precmd`/`__orenv_hook` vs `_direnv_hook`), after each `cd` as a prompt "
        "would; zsh's `cd` also runs chpwd hooks (both tools use them). With no "
        "`.orenv.toml` at or above, the orenv hook decides by itself with builtins (no "
        "process, no daemon). Into or within a project, bash reaches the daemon through "
        "one `python -I -S` client per cd; zsh through `zsocket` (no process). First "
        "load: a project directory the daemon has not seen (orenv) / an allowed `.envrc` "
        "not yet loaded (direnv).", ""]
    text = "\n".join(lines)
    Path(args.out).write_text(text)
    print(text)
    print(json.dumps({f"{s}/{t}": v for (s, t), v in results.items()}, indent=1),
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
