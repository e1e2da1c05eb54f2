"""orenv vs direnv and mise, side by side in one run, same directory tree, zsh, bash, fish.

Writes bench/RESULTS.md (a Markdown table with ratios) and prints it.

    .venv/bin/python bench/run.py [--idle-seconds 60] [--rounds N]

Timings come from the shells themselves ($EPOCHREALTIME around hook calls in
one shell process, fish's ``time`` keyword, so the numbers are the hook's cost
per prompt / per cd, without terminal I/O); forks per prompt are counted with
``strace -f``. The shell start is the cost of the rc line: sourcing the file
``orenv hook --write`` made (what install.sh sets up) vs ``eval "$(orenv hook
zsh)"``, ``direnv hook`` and ``mise activate``, each in a fresh shell.
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
    mise = REPO / ".tools" / "mise" / "node_modules" / ".bin"
    path = f"{VENV_BIN}:{mise}:/usr/local/bin:/usr/bin:/bin"
    return {"PATH": path, "LANG": "C.UTF-8", "TERM": "dumb", **home, **(extra or {})}


SHELLS = ("zsh", "bash", "fish")
TOOLS = ("orenv", "direnv", "mise")
# The function each tool's hook runs at a prompt.
PROMPT_FN = {("zsh", "orenv"): "__orenv_precmd", ("bash", "orenv"): "__orenv_hook",
             ("fish", "orenv"): "__orenv_on_prompt",
             ("zsh", "direnv"): "_direnv_hook", ("bash", "direnv"): "_direnv_hook",
             ("fish", "direnv"): "__direnv_export_eval",
             ("zsh", "mise"): "_mise_hook_precmd", ("bash", "mise"): "_mise_hook_prompt_command",
             ("fish", "mise"): "__mise_env_eval_on_prompt"}


def hookline(shell: str, tool: str, data_home: str = "") -> str:
    """The rc line of *tool* in *shell*; with *data_home*, orenv's is install.sh's block,
    which sources the file `orenv hook --write` made there."""
    if tool == "orenv" and data_home:
        return installed_block(shell)
    if shell == "fish":
        return {"orenv": "orenv hook fish | source", "direnv": "direnv hook fish | source",
                "mise": "mise activate fish | source"}[tool]
    return {"orenv": f'eval "$(orenv hook {shell})"', "direnv": f'eval "$(direnv hook {shell})"',
            "mise": f'eval "$(mise activate {shell})"'}[tool]


def installed_block(shell: str) -> str:
    """install.sh's rc block for *shell* (guards and all), calling the venv's orenv."""
    env = {"HOME": "/nonexistent", "PATH": "/nonexistent/.local/bin:/usr/bin:/bin"}
    block = subprocess.run([str(REPO / "install.sh"), f"--print-rc={shell}"], check=True,
                           capture_output=True, text=True, timeout=30, env=env).stdout
    return block.replace("$HOME/.local/bin/orenv", str(VENV_BIN / "orenv"))


def hung_section(shell: str, tool: str, tree: dict[str, str], n: int = 3) -> str:
    """orenv only: a cd into a project while the daemon is stopped (SIGSTOP), after warm
    ones (bash has its FIFO channel): the fallback, which must stay within 1 s."""
    if tool != "orenv":
        return ""
    warm = f"cd '{tree['plain']}'; p; cd '{tree['proj']}'; p; cd '{tree['plain']}'; p"
    if shell == "fish":
        return "".join(f"{warm}; command kill -STOP $BENCH_DAEMON_PID; echo 'T hung 1' >&2; "
                       f"time begin; cd '{tree['proj']}'; p; end; "
                       "command kill -CONT $BENCH_DAEMON_PID\n" for _ in range(n))
    return "".join(f"{warm}; kill -STOP $BENCH_DAEMON_PID; a=$EPOCHREALTIME; "
                   f"cd '{tree['proj']}'; p; b=$EPOCHREALTIME; kill -CONT $BENCH_DAEMON_PID; "
                   "t hung $a $b 1\n" for _ in range(n))


def fish_script(tool: str, tree: dict[str, str], n_idle: int, n_cd: int,
                fresh: list[str]) -> str:
    """The same measurements in fish: `time` around each loop, a label before it."""
    fn = PROMPT_FN[("fish", tool)]
    fresh_list = " ".join(f"'{d}'" for d in fresh)

    def timed_loop(name: str, n: int, body: str, reps: int) -> str:
        return (f"echo 'T {name} {reps}' >&2; set -l L (seq {n}); "
                f"time begin; for i in $L; {body}; end; end")
    return f"""{hookline('fish', tool)}
function p; {fn}; end
cd '{tree['plain']}'; p; p
cd '{tree['proj']}'; p; cd '{tree['plain']}'; p
{timed_loop('idle', n_idle, 'p', n_idle)}
cd '{tree['proj']}'; p
{timed_loop('idle_in', n_idle, 'p', n_idle)}
{timed_loop('cd_warm', n_cd, f"cd '{tree['plain']}'; p; cd '{tree['proj']}'; p", 2 * n_cd)}
cd '{tree['none_a']}'; p; cd '{tree['none_b']}'; p
{timed_loop('cd_none', n_cd, f"cd '{tree['none_a']}'; p; cd '{tree['none_b']}'; p", 2 * n_cd)}
for d in {fresh_list}; cd '{tree['plain']}'; p; echo 'T first 1' >&2; time begin; cd $d; p; end; end
{hung_section('fish', tool, tree)}"""


_UNITS = {"micros": 0.001, "millis": 1.0, "secs": 1000.0, "mins": 60000.0}


def parse_fish_times(stderr: str) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    label: tuple[str, int] | None = None
    for line in stderr.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "T":
            label = (parts[1], int(parts[2]))
        elif line.startswith("Executed in") and label is not None:
            value, unit = float(parts[2]), parts[3]
            out.setdefault(label[0], []).append(value * _UNITS[unit] / label[1])
            label = None
    return out


def script(shell: str, tool: str, tree: dict[str, str], n_idle: int, n_cd: int,
           fresh: list[str]) -> str:
    if shell == "fish":
        return fish_script(tool, tree, n_idle, n_cd, fresh)
    fn = PROMPT_FN[(shell, tool)]
    loop = "for ((i=0;i<{n};i++)); do {body}; done"
    fresh_list = " ".join(f"'{d}'" for d in fresh)
    pre = "zmodload zsh/datetime" if shell == "zsh" else ""
    none_body = f"cd '{tree['none_a']}'; p; cd '{tree['none_b']}'; p"
    return f"""{pre}
{hookline(shell, tool)}
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
{hung_section(shell, tool, tree)}"""


def shell_argv(shell: str, text: str) -> list[str]:
    return {"zsh": ["zsh", "-f", "-c", text], "bash": ["bash", "--norc", "-c", text],
            "fish": ["fish", "--no-config", "-c", text]}[shell]


def run_script(shell: str, text: str, env: dict[str, str]) -> dict[str, list[float]]:
    proc = subprocess.run(shell_argv(shell, text), env=env, capture_output=True, text=True,
                          timeout=600, cwd=env["HOME"])
    if shell == "fish":
        found = parse_fish_times(proc.stderr)
        if not found:
            raise RuntimeError(f"fish script failed: {proc.stderr[-2000:]}")
        return found
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
                n: int = 20, cds: bool = False) -> float:
    """Processes created per idle prompt, or per warm cd + prompt with *cds* (strace -f),
    baseline subtracted."""
    fn = PROMPT_FN[(shell, tool)]
    step = f"cd '{tree['plain']}'; {fn}; cd '{tree['proj']}'; {fn}" if cds else fn
    counts = []
    for reps in (0, n):
        if shell == "fish":
            loop = f"for i in {' '.join(['x'] * reps)}; {step}; end" if reps else ""
        else:
            loop = f"for ((i=0;i<{reps};i++)); do {step}; done"
        body = f"""{hookline(shell, tool)}
cd '{tree['proj']}'; {fn}; {fn}
{loop}
"""
        argv = shell_argv(shell, body)
        with tempfile.NamedTemporaryFile(suffix=".strace") as log:
            subprocess.run(["strace", "-f", "-qq", "-e", "trace=fork,vfork,clone,clone3",
                            "-o", log.name, *argv], env=env, capture_output=True, timeout=300)
            lines = Path(log.name).read_text().splitlines()
        counts.append(sum(1 for ln in lines if any(c in ln for c in
                                                    ("fork(", "clone(", "clone3("))
                          and "= -1" not in ln and "resumed" not in ln
                          and "CLONE_THREAD" not in ln))  # threads are not processes
    return (counts[1] - counts[0]) / (2 * n if cds else n)


def timed(argv: list[str], env: dict[str, str], rounds: int = 10) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        subprocess.run(argv, env=env, capture_output=True, check=True, timeout=60)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def make_tree(root: Path, env: dict[str, str], fresh_n: int) -> tuple[dict[str, str],
                                                                      dict[str, list[str]]]:
    """The directory tree; the first-load directories of each tool (none seen yet)."""
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
    mise_toml = ('[env]\nANTHROPIC_BASE_URL = "https://openrouter.ai/api"\n'
                 f'ANTHROPIC_AUTH_TOKEN = "{KEY}"\nANTHROPIC_API_KEY = ""\n'
                 'ANTHROPIC_DEFAULT_OPUS_MODEL = "anthropic/claude-opus-4.5"\n'
                 'API_TIMEOUT_MS = "600000"\n')
    fresh: dict[str, list[str]] = {tool: [] for tool in TOOLS}
    dirs = [tree["proj"]]
    for i in range(fresh_n):
        for tool in TOOLS:
            d = root / f"fresh-{tool}{i}"
            d.mkdir()
            fresh[tool].append(str(d))
            dirs.append(d)
    for d in dirs:
        (d / ".orenv.toml").write_text(policy)
        (d / ".envrc").write_text(envrc)
        (d / "mise.toml").write_text(mise_toml)
        subprocess.run(["orenv", "allow", str(d)], env=env, capture_output=True, check=True)
        subprocess.run(["direnv", "allow", str(d)], env=env, capture_output=True, check=True,
                       cwd=d)
        subprocess.run(["mise", "trust", str(d / "mise.toml")], env=env, capture_output=True,
                       check=True, cwd=d)
    return {k: str(v) for k, v in tree.items()}, fresh


def shell_start(shell: str, tool: str, env: dict[str, str], data_home: str = "",
                rounds: int = 20) -> tuple[float, float]:
    """The rc line's cost in a fresh shell (median ms) and the processes it starts."""
    line = hookline(shell, tool, data_home)
    if shell == "fish":
        text = f"echo 'T start 1' >&2\ntime begin\n{line}\nend\n"
    else:
        pre = "zmodload zsh/datetime\n" if shell == "zsh" else ""
        text = f'{pre}a=$EPOCHREALTIME\n{line}\nb=$EPOCHREALTIME; echo "start $a $b 1"\n'
    times = [run_script(shell, text, env)["start"][0] for _ in range(rounds)]
    counts = []
    for body in ("true", line):
        with tempfile.NamedTemporaryFile(suffix=".strace") as log:
            subprocess.run(["strace", "-f", "-qq", "-e", "trace=fork,vfork,clone,clone3",
                            "-o", log.name, *shell_argv(shell, body)], env=env,
                           capture_output=True, timeout=300, cwd=env["HOME"])
            lines = Path(log.name).read_text().splitlines()
        counts.append(sum(1 for ln in lines if any(c in ln for c in
                                                    ("fork(", "clone(", "clone3("))
                          and "= -1" not in ln and "resumed" not in ln
                          and "CLONE_THREAD" not in ln))
    return statistics.median(times), float(counts[1] - counts[0])


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
    for tool in ("zsh", "bash", "fish", "strace", "direnv", "mise"):
        if not shutil.which(tool, path=sh_env({})["PATH"]):
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
        # ORENV_BASH_FIFO: this runtime directory is a temp one; on a desktop it is
        # /run/user/UID, where bash's FIFO channel is on by default.
        env = sh_env({**xdg, **ks.env}, {"ORENV_DAEMON_LINGER": "600", "ORENV_QUIET": "1",
                                         "MISE_YES": "1", "ORENV_BASH_FIFO": "1"})
        subprocess.run(["orenv", "key", "set", "work"], input=KEY, text=True, env=env,
                       capture_output=True, check=True)
        subprocess.run(["orenv", "hook", "--write"], env=env, capture_output=True, check=True)
        tree, fresh = make_tree(home / "src", env, args.fresh * len(SHELLS))
        subprocess.run(["orenv", "daemon", "start"], env=env, capture_output=True, check=True)
        daemon = daemon_proc(env)
        # The bench process registers as a live shell, so the daemon stays.
        from orenv.daemon.client import export as client_export

        client_export("zsh", str(os.getpid()), "cd",
                      str(Path(xdg["XDG_RUNTIME_DIR"]) / "orenv" / "daemon.sock"), tree["plain"],
                      env={}, timeout=5)

        results: dict[tuple[str, str], dict[str, float]] = {}
        starts: dict[tuple[str, str], tuple[float, float]] = {}
        for i, shell in enumerate(SHELLS):
            part = slice(i * args.fresh, (i + 1) * args.fresh)
            for tool in TOOLS:
                try:
                    r = run_script(shell, script(shell, tool, tree, args.rounds, args.cds,
                                                 fresh[tool][part]),
                                   {**env, "BENCH_DAEMON_PID": str(daemon.pid)})
                finally:
                    with contextlib.suppress(psutil.Error):
                        daemon.resume()  # never left stopped by a script that failed
                res = {k: statistics.median(v) for k, v in r.items()}
                res["forks"] = count_forks(shell, tool, tree, env)
                res["cd_forks"] = count_forks(shell, tool, tree, env, cds=True)
                results[(shell, tool)] = res
            starts[(shell, "orenv sourced")] = shell_start(shell, "orenv", env,
                                                           xdg["XDG_DATA_HOME"])
            for tool in TOOLS:
                starts[(shell, tool)] = shell_start(shell, tool, env)

        hook_o = timed(["orenv", "hook", "zsh"], env)
        hook_d = timed(["direnv", "hook", "zsh"], env)
        hook_m = timed(["mise", "activate", "zsh"], env)
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

    def ratio(o: float, other: float) -> str:
        if o <= 0:
            return "—"
        return f"{other / o:.0f}x" if other / o >= 1.5 else f"{other / o:.2f}x"

    def row(shell: str, label: str, key: str, target: str) -> list[str]:
        o, d, m = (results[(shell, t)][key] for t in TOOLS)
        return [label, fmt(o), fmt(d), fmt(m), ratio(o, d), ratio(o, m), target]

    def frow(shell: str, key: str = "forks",
             label: str = "processes per idle prompt (strace)", target: str = "0") -> list[str]:
        o, d, m = (results[(shell, t)][key] for t in TOOLS)
        return [label, f"{o:.2f}", f"{d:.2f}", f"{m:.2f}", "—", "—", target]

    # Issue 15: bash reaches the daemon through FIFOs with builtins; fish keeps one
    # client per cd (its `read` has no timeout: README, "The daemon and speed").
    warm_target = {"zsh": "≤ 1.5 ms", "bash": "≤ 0.5 ms", "fish": "— (client)"}
    first_target = {"zsh": "≤ 25 ms", "bash": "≤ 5 ms", "fish": "≤ 25 ms"}
    cd_proc_target = {"zsh": "0", "bash": "0", "fish": "1 (client)"}

    header = ["", "orenv", "direnv", "mise", "direnv / orenv", "mise / orenv", "target"]
    machine = cpu_name()
    versions = {t: subprocess.run([t, "version" if t == "direnv" else "--version"], env=env,
                                  capture_output=True, text=True).stdout.split()[0]
                for t in ("direnv", "mise")}
    shell_versions = {sh: subprocess.run([sh, "--version"], capture_output=True,
                                         text=True).stdout.split("\n")[0]
                      for sh in SHELLS}
    lines = ["# orenv vs direnv and mise", "",
             f"Measured by `bench/run.py` on {machine}, {os.cpu_count()} CPUs; "
             f"{platform.python_implementation()} {platform.python_version()}, "
             f"direnv {versions['direnv']}, mise {versions['mise']}; "
             + ", ".join(shell_versions.values())
             + f". {args.rounds} idle prompts, {args.cds} cd pairs, {args.fresh} first loads "
             "per cell (medians). Ratios: the other tool's time / orenv's (higher: orenv "
             "is faster).", ""]
    for shell in SHELLS:
        rows = [
            row(shell, "idle prompt (no policy)", "idle", "≤ 0.1 ms"),
            row(shell, "idle prompt (in project)", "idle_in", "≤ 0.1 ms"),
            frow(shell),
            row(shell, "cd into/out of project, warm (per cd + prompt)", "cd_warm",
                warm_target[shell]),
            frow(shell, "cd_forks", "processes per warm cd (strace)", cd_proc_target[shell]),
            row(shell, "cd with no policy above", "cd_none", "≤ 0.5 ms"),
            row(shell, "first load, cold (cd into new project)", "first", first_target[shell]),
            ["cd with the daemon hung (SIGSTOP): the fallback",
             fmt(results[(shell, "orenv")].get("hung", 0.0)), "— (no daemon)",
             "— (no daemon)", "—", "—", "≤ 1000 ms"],
        ]
        lines += [f"### {shell}", "", "| " + " | ".join(header) + " |",
                  "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        lines.append("")
    lines += ["### Shell start: the rc line", "",
              "| shell | orenv, sourced file | orenv, `eval \"$(orenv hook …)\"` | direnv "
              "| mise | target |", "|---|---|---|---|---|---|"]
    for shell in SHELLS:
        cells = [f"{fmt(t)}, {n:.0f} proc." for t, n in
                 (starts[(shell, k)] for k in ("orenv sourced", *TOOLS))]
        lines.append(f"| {shell} | " + " | ".join(cells) + " | ≤ 1 ms, 0 processes |")
    lines += ["", "| other | orenv | direnv | mise | target |", "|---|---|---|---|---|",
              f"| `orenv hook zsh` / `direnv hook zsh` / `mise activate zsh` | {fmt(hook_o)} "
              f"| {fmt(hook_d)} | {fmt(hook_m)} | ≤ 30 ms |",
              f"| daemon RSS (start / after idle) | {rss:.1f} / {rss_after:.1f} MiB "
              "| — (no daemon) | — (no daemon) | ≤ 40 MB |",
              f"| daemon idle CPU over {args.idle_seconds:g} s | {idle_cpu:.3f} % | — | — "
              "| 0 % |", ""]
    lines += [
        "Notes: the hook functions are called in a loop inside one shell process "
        "(orenv `__orenv_precmd`/`__orenv_hook`/`__orenv_on_prompt`, direnv "
        "`_direnv_hook`/`__direnv_export_eval`, mise `_mise_hook_precmd`/"
        "`_mise_hook_prompt_command`/`__mise_env_eval_on_prompt`), after each `cd` as a "
        "prompt would; `cd` also runs each tool's chpwd/PWD hooks. With no "
        "`.orenv.toml` at or above, the orenv hook decides by itself with builtins (no "
        "process, no daemon). Into or within a project, zsh reaches the daemon through "
        "`zsocket` and bash through its FIFO channel (no process: the first cd of a bash "
        "session runs one client, which checks the daemon and sets the channel up); "
        "fish through one `python -I -S` client per cd. "
        "First load: a project directory the daemon has not seen (orenv) / an allowed "
        "`.envrc` not yet loaded (direnv) / a trusted `mise.toml` not yet loaded (mise). "
        "Shell start: the rc line alone in a fresh non-interactive shell, timed inside it "
        "(20 shells, median), processes counted with `strace -f`; orenv's sourced file "
        "is loaded by install.sh's rc block, its ownership and mode checks included.", ""]
    text = "\n".join(lines)
    Path(args.out).write_text(text)
    print(text)
    print(json.dumps({f"{s}/{t}": v for (s, t), v in results.items()}, indent=1),
          file=sys.stderr)
    return 0


def cpu_name() -> str:
    """The processor's model name (/proc/cpuinfo), never the host's name."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return " ".join(line.split(":", 1)[1].split())
    except OSError:
        pass
    return platform.machine() or "this machine"


if __name__ == "__main__":
    sys.exit(main())
