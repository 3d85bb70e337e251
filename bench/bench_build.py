#!/usr/bin/env python3
"""Benchmark: `dockyard build` of examples/flask vs `buildah bud --layers`, `podman build` (and
Docker BuildKit when a dockerd is installed), cold / nothing changed / only app.py changed, in one run.

Setup (untimed, once): the python:3.11-slim tarball of scripts/base-images.sh is imported, with
the same config changes, into a dockyard store, a podman store and a buildah store (each its own
--root/--runroot under $BASE); the context is a copy of examples/flask. Stores are never wiped
between timed runs. Rows alternate (A B C, B C A, ...); the first round is a warm-up.

  cold      build --no-cache (base image present; pip install from PyPI dominates)
  nochange  the same build again, no file touched
  app       app.py rewritten with a new comment before each run: rebuild from `COPY app.py .`

Prints median / min / max wall seconds, the median CPU seconds (user+sys of the command and its
children: the VM is shared, CPU time is the steadier figure) and peer/dockyard ratios.

  python3 bench/bench_build.py [--rounds 7] [--cold-rounds 3] [--scenarios cold,nochange,app]
                               [--docker]   # include BuildKit (needs Debian's docker.io)
                               [--baseline SRC]  # also dockyard from another source tree
                                                 # (e.g. `git archive HEAD src | tar -x -C DIR`,
                                                 # SRC=DIR/src), in its own store: before/after
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOCKYARD = str(REPO / ".venv" / "bin" / "dockyard")
BASE = Path(os.environ.get("BASE", "/tmp/bench-build"))
IMAGE = "python:3.11-slim"
# Measured by the peers' scripts on these machines (see the build issue / peers RESULTS.md).
BUILDKIT_REF = {"cold": 2.529, "nochange": 0.078, "app": 0.075}
GOALS = {"cold": 1.0, "nochange": 1.5, "app": 2.0}  # dockyard / BuildKit at most


def sh(cmd: str, check: bool = True, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {cmd}\n{proc.stdout[-3000:]}"
                         f"\n{proc.stderr[-3000:]}")
    return proc.stdout


def bench_env() -> dict[str, str]:
    """The environment of every command: .pyc caching on (so `dockyard` starts as installed)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["CONTAINERS_CONF"] = str(containers_conf())
    return env


def containers_conf() -> Path:
    """podman/buildah on this VM need runc and lower ulimits (see /work/shared/peers/lib.sh)."""
    out = BASE / "containers.conf"
    text = Path("/usr/share/containers/containers.conf").read_text()
    text = text.replace("[containers]\n", '[containers]\ndefault_ulimits = ["nofile=20000:20000",'
                        ' "nproc=32768:32768"]\n', 1)
    text = text.replace("[engine]\n", '[engine]\nruntime = "runc"\n', 1)
    BASE.mkdir(parents=True, exist_ok=True)
    if not out.exists() or out.read_text() != text:
        out.write_text(text)
    return out


def base_tarball() -> tuple[str, list[str]]:
    """(tarball, config changes) of python:3.11-slim, built once by scripts/base-images.sh."""
    out = sh(f"bash {REPO}/scripts/base-images.sh --tarballs-only --print")
    for line in out.splitlines():
        name, tar, changes = line.split("\t")
        if name == IMAGE:
            return tar, [c for c in Path(changes).read_text().splitlines() if c.strip()]
    raise SystemExit(f"scripts/base-images.sh did not print {IMAGE}")


def containers_cli(tool: str, name: str, runroot: Path) -> str:
    return (f"{tool} --root {BASE}/{name}-root --runroot {runroot}/{name}"
            " --cgroup-manager cgroupfs --storage-driver overlay")


def setup(env: dict[str, str], docker: bool, baseline: str | None = None) -> dict[str, str]:
    """Stores with the base image, the context; returns the CLI prefix of each tool."""
    runroot = BASE / "run"  # podman's database remembers it: the same path every run
    runroot.mkdir(parents=True, exist_ok=True)
    tools = {
        "DY": f"{DOCKYARD} --root {BASE}/dy-root",
        "PM": containers_cli("podman", "pm", runroot),
        "BH": containers_cli("buildah", "bh", runroot),
        "RUNROOT": str(runroot),
    }
    tar, changes = base_tarball()
    sh(f"DOCKYARD_ROOT={BASE}/dy-root bash {REPO}/scripts/base-images.sh", env=env)
    flags = " ".join(f"--change '{c}'" for c in changes)
    for store in ("pm", "bh"):
        pm = containers_cli("podman", store, runroot)
        if subprocess.run(["bash", "-c", f"{pm} image exists localhost/{IMAGE}"],
                          env=env).returncode != 0:
            sh(f"{pm} import -q {flags} {tar} localhost/{IMAGE}", env=env)
    if baseline:
        src = Path(baseline).resolve()
        if not (src / "dockyard" / "__init__.py").is_file():
            raise SystemExit(f"--baseline {baseline}: no dockyard package there")
        tools["DYB"] = f"PYTHONPATH={src} {DOCKYARD} --root {BASE}/dy-base-root"
        sh(f"DOCKYARD_ROOT={BASE}/dy-base-root bash {REPO}/scripts/base-images.sh", env=env)
    if docker:
        tools["DK"] = "/usr/bin/docker"
        start_dockerd(env)
        if sh(f"docker image inspect {IMAGE} >/dev/null 2>&1 || echo missing", env=env).strip():
            sh(f"/usr/bin/docker import {flags} {tar} {IMAGE}", env=env)
    ctx = BASE / "ctx"
    shutil.rmtree(ctx, ignore_errors=True)
    shutil.copytree(REPO / "examples" / "flask", ctx)
    shutil.copy(ctx / "app.py", BASE / "app.py.orig")
    tools["CTX"] = str(ctx)
    return tools


def start_dockerd(env: dict[str, str]) -> None:
    if subprocess.run(["bash", "-c", "/usr/bin/docker info >/dev/null 2>&1"]).returncode == 0:
        return
    if not shutil.which("dockerd"):
        raise SystemExit("--docker: dockerd is not installed (apt-get install -y docker.io)")
    log = open(BASE / "dockerd.log", "w")
    proc = subprocess.Popen(["dockerd", "--data-root", str(BASE / "docker-data")],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    (BASE / "dockerd.pid").write_text(str(proc.pid))
    for _ in range(100):
        if subprocess.run(["bash", "-c", "/usr/bin/docker info >/dev/null 2>&1"]).returncode == 0:
            return
        time.sleep(0.2)
    raise SystemExit(f"dockerd did not come up, see {BASE}/dockerd.log")


def rows(t: dict[str, str], scenario: str) -> list[dict[str, str]]:
    ctx = t["CTX"]
    nc = " --no-cache" if scenario == "cold" else ""
    table = [
        {"name": "dockyard build", "cmd": f"{t['DY']} build -q{nc} -t flask:dy {ctx}", "prune": ""},
        {"name": "buildah bud --layers",
         "cmd": f"{t['BH']} bud -q --layers{nc} -t localhost/flask:bh {ctx}",
         "prune": f"{t['BH'].replace('buildah', 'podman', 1)} image prune -f"},
        {"name": "podman build", "cmd": f"{t['PM']} build -q{nc} -t localhost/flask:pm {ctx}",
         "prune": f"{t['PM']} image prune -f"},
    ]
    if "DYB" in t:
        table.append({"name": "dockyard (baseline)",
                      "cmd": f"{t['DYB']} build -q{nc} -t flask:dyb {ctx}", "prune": ""})
    if "DK" in t:
        table.append({"name": "docker build (BuildKit)",
                      "cmd": f"DOCKER_BUILDKIT=1 {t['DK']} build -q{nc} -t flask:dk {ctx}",
                      "prune": f"{t['DK']} image prune -f"})
    orig = BASE / "app.py.orig"
    for row in table:
        if scenario == "nochange":  # the context is left exactly as the priming build saw it
            row["prepare"] = f"cmp -s {orig} {ctx}/app.py || cp {orig} {ctx}/app.py"
        elif scenario == "app":
            row["prepare"] = f"cp {orig} {ctx}/app.py && echo \"# nonce $(date +%s%N)\" >> {ctx}/app.py"
        else:
            row["prepare"] = row["prune"] or ":"
        if scenario != "cold" and row["prune"]:
            row["prepare"] += f" && {row['prune']} >/dev/null"
    return table


def timed(cmd: str, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the command's process tree)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {cmd}\n{proc.stdout[-3000:]}\n"
                         f"{proc.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def run_scenario(t: dict[str, str], scenario: str, rounds: int, env: dict[str, str]) -> dict:
    table = rows(t, scenario)
    sh(f"cp {BASE}/app.py.orig {t['CTX']}/app.py")
    for row in table:  # prime: every tool has the current context in its cache
        sh(row["cmd"].replace(" --no-cache", ""), env=env)
    wall: dict[str, list[float]] = {r["name"]: [] for r in table}
    cpu: dict[str, list[float]] = {r["name"]: [] for r in table}
    for rnd in range(rounds + 1):
        k = rnd % len(table)
        for row in table[k:] + table[:k]:
            sh(row["prepare"], env=env)
            w, c = timed(row["cmd"], env)
            if rnd:  # round 0 is the warm-up
                wall[row["name"]].append(w)
                cpu[row["name"]].append(c)
    sh(f"cp {BASE}/app.py.orig {t['CTX']}/app.py")
    return {"wall": wall, "cpu": cpu}


def report(scenario: str, res: dict) -> None:
    wall, cpu = res["wall"], res["cpu"]
    load = " ".join(open("/proc/loadavg").read().split()[:3])
    n = len(next(iter(wall.values())))
    print(f"\n== {scenario}  ({n} alternating rounds after 1 warm-up; loadavg {load})")
    print(f"{'tool':28} {'median s':>9} {'min s':>7} {'max s':>7} {'CPU s':>7} {'x dockyard':>11}")
    ours = statistics.median(wall["dockyard build"])
    for name, ts in wall.items():
        med = statistics.median(ts)
        print(f"{name:28} {med:9.3f} {min(ts):7.3f} {max(ts):7.3f}"
              f" {statistics.median(cpu[name]):7.3f} {med / ours:10.2f}x")
    ref = BUILDKIT_REF[scenario]
    measured = wall.get("docker build (BuildKit)")
    bk = statistics.median(measured) if measured else ref
    src = "measured here" if measured else "reference, not measured in this run"
    print(f"dockyard / BuildKit ({bk:.3f} s, {src}) = {ours / bk:.2f}x"
          f"  (goal <= {GOALS[scenario]}x)")
    if "dockyard (baseline)" in wall:
        base = statistics.median(wall["dockyard (baseline)"])
        print(f"dockyard / baseline = {ours / base:.2f}x (wall), "
              f"{statistics.median(cpu['dockyard build']) / statistics.median(cpu['dockyard (baseline)']):.2f}x (CPU)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--cold-rounds", type=int, default=3)
    parser.add_argument("--scenarios", default="nochange,app,cold")
    parser.add_argument("--docker", action="store_true", help="include Docker BuildKit")
    parser.add_argument("--baseline", metavar="SRC",
                        help="also time dockyard from this source tree (its own store)")
    args = parser.parse_args()
    env = bench_env()
    t0 = time.perf_counter()
    tools = setup(env, args.docker, args.baseline)
    print(f"setup {time.perf_counter() - t0:.1f}s; context {tools['CTX']}; stores under {BASE}")
    try:
        for scenario in args.scenarios.split(","):
            rounds = args.cold_rounds if scenario == "cold" else args.rounds
            report(scenario, run_scenario(tools, scenario, rounds, env))
    finally:
        pid = BASE / "dockerd.pid"
        if pid.exists():
            subprocess.run(["kill", pid.read_text().strip()], check=False)
            pid.unlink()


if __name__ == "__main__":
    main()
