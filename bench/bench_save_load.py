#!/usr/bin/env python3
"""Benchmark: dockyard save/load of a ~1 GB image vs podman save/load and skopeo copy, in one run.

Setup (untimed): a rootfs tar of incompressible data, imported once into a dockyard store
and a podman store (both under $BASE, overlay). Timed rows alternate (A B C ..., rotating
the first); every load goes into a brand-new empty store made before the run (untimed),
dirty pages are synced between runs. Prints the median time, MB/s, ratios and the peak
RSS (/usr/bin/time) of our commands.

  python3 bench/bench_save_load.py [--size-mb 1024] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOCKYARD = str(REPO / ".venv" / "bin" / "dockyard")
BASE = Path(os.environ.get("BASE", "/tmp/bench-saveload"))
IMAGE = "localhost/big:1"


def sh(cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {cmd}\n{proc.stderr}")
    return proc


def containers_conf() -> Path:
    """podman on this VM needs runc and lower ulimits (see /work/shared/peers/lib.sh)."""
    out = BASE / "containers.conf"
    text = Path("/usr/share/containers/containers.conf").read_text()
    text = text.replace("[containers]\n", '[containers]\ndefault_ulimits = ["nofile=20000:20000",'
                        ' "nproc=32768:32768"]\n', 1)
    text = text.replace("[engine]\n", '[engine]\nruntime = "runc"\n', 1)
    out.write_text(text)
    return out


def podman(root: Path, run: Path) -> str:
    return f"podman --root {root} --runroot {run} --cgroup-manager cgroupfs --storage-driver overlay"


def setup(size_mb: int) -> dict[str, str]:
    BASE.mkdir(parents=True, exist_ok=True)
    os.environ["CONTAINERS_CONF"] = str(containers_conf())
    rootfs = BASE / f"rootfs-{size_mb}.tar"
    if not rootfs.exists():
        src = BASE / "rootfs"
        shutil.rmtree(src, ignore_errors=True)
        (src / "data").mkdir(parents=True)
        parts = max(1, size_mb // 256)
        for i in range(parts):
            sh(f"head -c {size_mb // parts}M /dev/urandom > {src}/data/part{i}.bin")
        sh(f"tar -C {src} -cf {rootfs}.tmp . && mv {rootfs}.tmp {rootfs}")
        shutil.rmtree(src)
    run = Path(tempfile.mkdtemp(prefix="bsl-", dir="/tmp"))
    env = {
        "DY": f"{DOCKYARD} --root {BASE}/dy-store",
        "PM": podman(BASE / "pm-root", run),
        "S": str(BASE / "out"),
    }
    (BASE / "out").mkdir(exist_ok=True)
    if sh(f"{env['DY']} images -q {IMAGE}").stdout.strip() == "":
        sh(f"{env['DY']} import {rootfs} {IMAGE}")
    if sh(f"{env['PM']} image exists {IMAGE}", check=False).returncode != 0:
        sh(f"{env['PM']} import -q {rootfs} {IMAGE}")
    # archives the load rows read (untimed)
    sh(f"{env['DY']} save -o {env['S']}/dy.tar {IMAGE}")
    sh(f"{env['PM']} save -q -o {env['S']}/pm.tar {IMAGE}")
    env["RUN"] = str(run)
    return env


def rows(env: dict[str, str]) -> list[dict[str, str]]:
    s, fresh = env["S"], f"{BASE}/fresh"
    fresh_pm = podman(Path(fresh) / "root", Path(env["RUN"]) / "fresh")
    new_store = f"rm -rf {fresh} {env['RUN']}/fresh; mkdir -p {fresh}; sync"
    storage = f"containers-storage:[overlay@{BASE}/pm-root+{env['RUN']}]{IMAGE}"
    return [
        {"name": "dockyard save", "cmd": f"{env['DY']} save -o {s}/x-dy.tar {IMAGE}",
         "prepare": f"rm -f {s}/x-dy.tar; sync", "ours": "1"},
        {"name": "podman save (docker-archive)", "cmd": f"{env['PM']} save -q -o {s}/x-pm.tar {IMAGE}",
         "prepare": f"rm -f {s}/x-pm.tar; sync"},
        {"name": "skopeo copy containers-storage: -> docker-archive:",
         "cmd": f"skopeo copy -q '{storage}' docker-archive:{s}/x-sk.tar:{IMAGE}",
         "prepare": f"rm -f {s}/x-sk.tar; sync"},
        {"name": "dockyard load (new empty store)",
         "cmd": f"{DOCKYARD} --root {fresh}/dy load -q -i {s}/dy.tar", "prepare": new_store,
         "ours": "1"},
        {"name": "podman load (new empty store)", "cmd": f"{fresh_pm} load -q -i {s}/pm.tar",
         "prepare": new_store},
        {"name": "skopeo copy docker-archive: -> oci: (new dir)",
         "cmd": f"skopeo copy -q docker-archive:{s}/pm.tar oci:{fresh}/oci:big", "prepare": new_store},
    ]


def timed(row: dict[str, str]) -> tuple[float, int]:
    sh(row["prepare"])
    t0 = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", "bash", "-c", row["cmd"]],
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{row['name']} failed: {proc.stderr[-2000:]}")
    rss_kb = int(proc.stderr.strip().splitlines()[-1])
    return elapsed, rss_kb


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    t_setup = time.perf_counter()
    env = setup(args.size_mb)
    size = os.path.getsize(f"{env['S']}/dy.tar")
    print(f"setup {time.perf_counter() - t_setup:.1f}s; archive {size / 1e6:.1f} MB", flush=True)
    table = rows(env)
    times: dict[str, list[float]] = {r["name"]: [] for r in table}
    rss: dict[str, int] = {r["name"]: 0 for r in table}
    try:
        for rnd in range(args.rounds):
            k = rnd % len(table)
            for row in table[k:] + table[:k]:
                elapsed, peak = timed(row)
                times[row["name"]].append(elapsed)
                rss[row["name"]] = max(rss[row["name"]], peak)
    finally:
        sh(f"rm -rf {BASE}/fresh {env['RUN']}/fresh {env['S']}/x-*.tar", check=False)
    print(f"\n{'row':52} {'median s':>9} {'min s':>7} {'MB/s':>7} {'peak RSS MB':>12}")
    med = {name: statistics.median(ts) for name, ts in times.items()}
    for name, ts in times.items():
        print(f"{name:52} {med[name]:9.2f} {min(ts):7.2f} {size / 1e6 / med[name]:7.0f}"
              f" {rss[name] / 1024:12.0f}")
    print("\nratios (peer time / dockyard time; >1 means dockyard is faster):")
    for ours, peer in (("dockyard save", "podman save (docker-archive)"),
                       ("dockyard save", "skopeo copy containers-storage: -> docker-archive:"),
                       ("dockyard load (new empty store)", "podman load (new empty store)"),
                       ("dockyard load (new empty store)",
                        "skopeo copy docker-archive: -> oci: (new dir)")):
        print(f"  {peer:52} / {ours:32} = {med[peer] / med[ours]:.2f}x")
    worst = max(rss[r["name"]] for r in table if r.get("ours")) / 1024
    print(f"\ndockyard peak RSS: {worst:.0f} MB (goal < 150 MB); goal speed >= 1.5x podman")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
