#!/usr/bin/env python3
"""Benchmark: container start, `dockyard run --rm IMAGE true` vs bare runc and podman, in one run.

Rows (alternating A B C ..., the first row rotating every round, so load hits all alike):
  - dockyard run --rm busybox true           (default bridge network)
  - dockyard run --rm --network none busybox true
  - runc run of a prepared bundle (same busybox rootfs, `runc spec` + args true)
  - python -c pass (the venv's interpreter: the "Python start" of the goal)
  - podman run --rm busybox true             (default network, then --network none)
and the time from `run -d -p PORT:8000 busybox httpd` to the first HTTP answer, dockyard vs
podman (the container is removed untimed after each round).

Same image everywhere: the busybox rootfs tar of tests/helpers/busybox.py, `dockyard import`ed
and `podman import`ed (podman with its own --root/--runroot, runc, cgroupfs, the VM's
containers.conf fixes from /work/shared/peers/lib.sh). Prints medians and the goal ratios.

  PYTHONDONTWRITEBYTECODE= python3 bench/bench_run.py [--rounds 15] [--http-rounds 8]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = str(REPO / ".venv" / "bin" / "python")
DOCKYARD = str(REPO / ".venv" / "bin" / "dockyard")
BASE = Path(os.environ.get("BASE", "/tmp/bench-run"))
IMAGE = "localhost/busybox:bench"
sys.path[:0] = [str(REPO / "tests"), str(REPO / "src")]


def sh(args: list[str] | str, check: bool = True) -> subprocess.CompletedProcess[str]:
    cmd = ["bash", "-c", args] if isinstance(args, str) else args
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {args}\n{proc.stderr[-2000:]}")
    return proc


def containers_conf() -> Path:
    """podman on this VM needs runc and lower ulimits (see /work/shared/peers/lib.sh)."""
    out = BASE / "containers.conf"
    text = Path("/usr/share/containers/containers.conf").read_text()
    text = text.replace("[containers]\n", '[containers]\ndefault_ulimits = ["nofile=20000:20000",'
                        ' "nproc=32768:32768"]\n', 1)  # fmt: skip
    text = text.replace("[engine]\n", '[engine]\nruntime = "runc"\n', 1)
    out.write_text(text)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Env:
    def __init__(self) -> None:
        from helpers.busybox import make_rootfs, make_rootfs_tar

        BASE.mkdir(parents=True, exist_ok=True)
        os.environ["CONTAINERS_CONF"] = str(containers_conf())
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # measure with cached bytecode
        self.tar = BASE / "busybox.tar"
        if not self.tar.exists():
            make_rootfs_tar(self.tar, Path(tempfile.mkdtemp(dir=BASE)))
        self.runroot = Path("/run/dockyard-bench-podman")  # podman's store remembers its runroot
        self.dy = [DOCKYARD, "--root", str(BASE / "dy-root")]
        self.pm = ["podman", "--root", str(BASE / "pm-root"), "--runroot", str(self.runroot),
                   "--cgroup-manager", "cgroupfs", "--storage-driver", "overlay"]  # fmt: skip
        if not sh([*self.dy, "images", "-q", IMAGE]).stdout.strip():
            sh([*self.dy, "import", str(self.tar), IMAGE])
        if sh([*self.pm, "image", "exists", IMAGE], check=False).returncode != 0:
            sh([*self.pm, "import", "-q", str(self.tar), IMAGE])
        # the bare runtime's bundle: the same rootfs, `runc spec` with args ["true"]
        self.bundle = BASE / "bundle"
        if not (self.bundle / "rootfs" / "bin" / "busybox").exists():
            shutil.rmtree(self.bundle, ignore_errors=True)
            make_rootfs(self.bundle / "rootfs")
        (self.bundle / "config.json").unlink(missing_ok=True)
        sh(["runc", "spec", "-b", str(self.bundle)])
        spec = json.loads((self.bundle / "config.json").read_text())
        spec["process"]["terminal"] = False
        spec["process"]["args"] = ["true"]
        (self.bundle / "config.json").write_text(json.dumps(spec))
        for cmd in (self.dy, self.pm):  # warm up (first network setup, caches)
            sh([*cmd, "run", "--rm", IMAGE, "true"])

    def close(self) -> None:
        """Remove the containers, and the bridge and NAT rules of dockyard's default network."""
        sh([*self.pm, "rm", "-af"], check=False)
        sh([*self.dy, "rm", "-f", *sh([*self.dy, "ps", "-aq"]).stdout.split()], check=False)
        from dockyard.network.networks import NetworkStore
        from dockyard.store.db import Database

        db = Database(BASE / "dy-root" / "metadata.db")
        NetworkStore(db, BASE / "dy-root").release_devices()
        db.close()


def start_rows(env: Env) -> dict[str, list[str]]:
    return {
        "dockyard run --rm true": [*env.dy, "run", "--rm", IMAGE, "true"],
        "dockyard run --rm --network none true": [*env.dy, "run", "--rm", "--network", "none", IMAGE, "true"],
        "runc run (bundle, true)": ["runc", "run", "-b", str(env.bundle), "bench-runc"],
        "python -c pass": [PYTHON, "-c", "pass"],
        "podman run --rm true": [*env.pm, "run", "--rm", IMAGE, "true"],
        "podman run --rm --network none true": [*env.pm, "run", "--rm", "--network", "none", IMAGE, "true"],
    }  # fmt: skip


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)  # fmt: skip
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr.decode()[-2000:]}")
    return elapsed


def first_answer(url: str, deadline: float = 30.0) -> None:
    end = time.perf_counter() + deadline
    while time.perf_counter() < end:
        try:
            with urllib.request.urlopen(url, timeout=0.5) as resp:
                resp.read()
                return
        except OSError:
            time.sleep(0.002)
    raise SystemExit(f"no HTTP answer from {url}")


def http_round(cli: list[str], name: str) -> float:
    port = free_port()
    script = "echo ok > /tmp/index.html; exec httpd -f -p 8000 -h /tmp"
    t0 = time.perf_counter()
    timed([*cli, "run", "-d", "--name", name, "-p", f"{port}:8000", IMAGE, "sh", "-c", script])
    first_answer(f"http://127.0.0.1:{port}/")
    elapsed = time.perf_counter() - t0
    sh([*cli, "rm", "-f", name])
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--http-rounds", type=int, default=8)
    args = parser.parse_args()
    env = Env()
    rows = start_rows(env)
    times: dict[str, list[float]] = {name: [] for name in rows}
    http: dict[str, list[float]] = {"dockyard run -d -p -> first HTTP answer": [],
                                    "podman run -d -p -> first HTTP answer": []}  # fmt: skip
    try:
        names = list(rows)
        for rnd in range(args.rounds):
            k = rnd % len(names)
            for name in names[k:] + names[:k]:
                times[name].append(timed(rows[name]))
        for rnd in range(args.http_rounds):
            pair = [("dockyard", env.dy), ("podman", env.pm)]
            for who, cli in pair if rnd % 2 == 0 else pair[::-1]:
                http[f"{who} run -d -p -> first HTTP answer"].append(http_round(cli, f"bench-http-{rnd}"))
    finally:
        env.close()
    med = {k: statistics.median(v) for k, v in {**times, **http}.items()}
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    print(f"\n{'row':45} {'median ms':>10} {'min ms':>8} {'max ms':>8}")
    for name, values in {**times, **http}.items():
        print(f"{name:45} {med[name] * 1e3:10.1f} {min(values) * 1e3:8.1f} {max(values) * 1e3:8.1f}")
    dy, dy_none = med["dockyard run --rm true"], med["dockyard run --rm --network none true"]
    bare = med["runc run (bundle, true)"] + med["python -c pass"]
    print("\ngoals:")
    print(f"  podman run --rm / dockyard run --rm (default network): "
          f"{med['podman run --rm true'] / dy:.2f}x  (want >= 2)")  # fmt: skip
    print(f"  dockyard --network none / (runc run + python start): {dy_none / bare:.2f}x  (want <= 1.5)")
    print(f"  podman --network none / dockyard --network none: "
          f"{med['podman run --rm --network none true'] / dy_none:.2f}x")  # fmt: skip
    hd, hp = med["dockyard run -d -p -> first HTTP answer"], med["podman run -d -p -> first HTTP answer"]
    print(f"  first HTTP answer, podman / dockyard: {hp / hd:.2f}x  (want > 1)")


if __name__ == "__main__":
    main()
