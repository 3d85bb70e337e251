#!/usr/bin/env python3
"""Benchmark: committing a 200 MiB container layer, dockyard vs podman, docker and `tar | pigz`.

One run, as root. For each payload (random: incompressible; text: Zipf words, gzip ratio
about 0.3) and each tool, a container on a Debian base gets the 200 MiB file copied in and
`sync`ed (untimed), then the commit alone is timed:

  dockyard   a fresh process: open the store, Snapshots.commit (layer tar + sha256 + fsync),
             write config + manifest, register a name (what `docker commit` does)
  podman     podman commit -q            (own store under $BASE, overlay, runc)
  docker     docker commit               (Debian's docker.io; this script installs it with
             apt if missing and runs a private dockerd under $BASE: own socket, no bridge,
             no iptables, stopped at the end)
  tar|pigz   tar -cf - blob.bin | pigz > out.tar.gz   (the naive baseline)

Rows alternate (rotating which goes first); every round after a warm-up counts. Prints
median/min/max, MB/s, each row's ratio to `docker commit`, our peak RSS, and CPU time (the
process and the children it waited for, plus dockerd's and containerd's for docker rows):
the VM is shared, and CPU time is the steadier number when other work loads it. Stores are
kept between runs and between invocations (only the committed images are removed):
on this ext4 without a journal, creating files right after a mass delete is slow.

  bench/bench_layer_commit.sh [--rounds 5] [--mib 200] [--only dockyard,docker,...]
  bench/bench_layer_commit.sh --quick       # dockyard only, 3 rounds, no peers set up
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = str(REPO / ".venv" / "bin" / "python")
BASE = Path(os.environ.get("BASE", "/tmp/bench-commit"))
PEER_GEN = Path("/work/shared/peers/gen_data.py")
BASE_TARS = Path("/var/cache/dockyard/base")
BASE_IMAGE = "localhost/lc-base:latest"
DOCKER_COMMIT_REF_S = 1.184  # /work/shared/peers/RESULTS.md, random payload
MODES = ("random", "text")
TOOLS = ("dockyard", "podman", "docker", "tar|pigz")


def sh(cmd: str, check: bool = True, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {cmd}\n{proc.stderr[-3000:]}")
    return proc.stdout


# -- data and base image -------------------------------------------------------------------
def _text_payload(path: Path, size: int) -> None:
    """Text-like lines of Zipf-distributed pseudo-words (used when the peers' generator is absent)."""
    rng = random.Random(42)
    vocab = ["".join(rng.choices("etaoinshrdlcumwfgypbvkjxqz", k=rng.randint(1, 10)))
             for _ in range(30000)]
    weights = [1 / (r + 1) for r in range(len(vocab))]
    with open(path, "wb") as f:
        left = size
        while left > 0:
            words = rng.choices(vocab, weights, k=200_000)
            chunk = "\n".join(" ".join(words[i:i + 12]) for i in range(0, len(words), 12))
            data = (chunk + "\n").encode()[:left]
            f.write(data)
            left -= len(data)


def ensure_payloads(size: int) -> dict[str, Path]:
    out = {}
    (BASE / "data").mkdir(parents=True, exist_ok=True)
    for mode in MODES:
        path = BASE / "data" / f"{mode}-{size}.bin"
        if not path.exists() or path.stat().st_size != size:
            tmp = path.with_suffix(".tmp")
            if PEER_GEN.exists():  # the same bytes as the peers' 06_layer_commit.sh
                sh(f"python3 {PEER_GEN} {mode} {size} > {tmp}")
            elif mode == "random":
                sh(f"head -c {size} /dev/urandom > {tmp}")
            else:
                _text_payload(tmp, size)
            tmp.rename(path)
        out[mode] = path
    return out


def base_tarball() -> Path:
    """The cached Debian rootfs tarball, or a one-binary busybox rootfs made here."""
    found = sorted(BASE_TARS.glob("debian-*.tar"))
    if found:
        return found[0]
    tar = BASE / "busybox-rootfs.tar"
    if not tar.exists():
        root = BASE / "busybox-rootfs"
        (root / "bin").mkdir(parents=True, exist_ok=True)
        shutil.copy2("/bin/busybox", root / "bin" / "busybox")
        (root / "bin" / "sh").unlink(missing_ok=True)
        os.symlink("busybox", root / "bin" / "sh")
        sh(f"tar -C {root} -cf {tar} .")
    return tar


# -- the tools -----------------------------------------------------------------------------
def podman_cmd() -> str:
    conf = BASE / "containers.conf"  # runc, and ulimits this VM allows (see peers/lib.sh)
    text = Path("/usr/share/containers/containers.conf").read_text()
    text = text.replace("[containers]\n", '[containers]\ndefault_ulimits = ["nofile=20000:20000",'
                        ' "nproc=32768:32768"]\n', 1)
    conf.write_text(text.replace("[engine]\n", '[engine]\nruntime = "runc"\n', 1))
    os.environ["CONTAINERS_CONF"] = str(conf)
    return (f"podman --root {BASE}/podman/root --runroot {BASE}/podman/run"
            " --cgroup-manager cgroupfs --storage-driver overlay")


class Dockerd:
    """A private dockerd (own data root, socket and exec root; no bridge, no iptables)."""

    def __init__(self) -> None:
        self.sock = BASE / "docker.sock"
        self.pidfile = BASE / "dockerd.pid"
        self.proc: subprocess.Popen[bytes] | None = None
        self.client = "/usr/bin/docker" if Path("/usr/bin/docker").exists() else "docker"
        self.cmd = f"DOCKER_HOST=unix://{self.sock} {self.client}"

    def ok(self) -> bool:
        return subprocess.run(f"{self.cmd} info", shell=True, capture_output=True).returncode == 0

    def start(self) -> None:
        if shutil.which("dockerd") is None:
            print("installing docker.io with apt (dockerd is missing) ...", flush=True)
            sh("DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends"
               " docker.io")
            self.client = "/usr/bin/docker"
            self.cmd = f"DOCKER_HOST=unix://{self.sock} {self.client}"
        if self.ok():
            raise SystemExit(f"a dockerd already listens on {self.sock}; stop it first")
        log = open(BASE / "dockerd.log", "wb")
        self.proc = subprocess.Popen(
            ["dockerd", "--data-root", f"{BASE}/docker-data", "--exec-root", f"{BASE}/docker-exec",
             "-H", f"unix://{self.sock}", "--pidfile", str(self.pidfile), "--bridge", "none",
             "--iptables=false", "--ip6tables=false", "--storage-driver", "overlay2"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        for _ in range(300):
            if self.ok():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise SystemExit(f"dockerd did not come up, see {BASE}/dockerd.log")

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()  # dockerd stops its containerd and unmounts its layers
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


def rows(tools: list[str], payloads: dict[str, Path], base_tar: Path,
         dockerd: Dockerd | None) -> list[dict[str, str]]:
    """Set every tool's base image up (untimed) and return the timed rows."""
    table: list[dict[str, str]] = []
    store = BASE / "dockyard"
    for mode, payload in payloads.items():
        if "dockyard" in tools:
            table.append({"name": f"dockyard commit ({mode})", "tool": "dockyard", "ours": "1",
                          "argv": f"{PYTHON} {__file__} _commit {store} lc-{mode} localhost/lc:{mode}",
                          "prepare": f"{PYTHON} {__file__} _prepare {store} lc-{mode} {payload}",
                          "cleanup": f"{PYTHON} {__file__} _cleanup {store} lc-{mode} localhost/lc:{mode}"})
    if "dockyard" in tools:
        sh(f"{PYTHON} {__file__} _setup {store} {base_tar}")
    if "podman" in tools:
        pm = podman_cmd()
        if subprocess.run(f"{pm} image exists {BASE_IMAGE}", shell=True).returncode != 0:
            sh(f"{pm} import -q {base_tar} {BASE_IMAGE}")
        for mode, payload in payloads.items():
            c = f"lc-p-{mode}"
            table.append({
                "name": f"podman commit ({mode})", "tool": "podman",
                "cmd": f"{pm} commit -q {c} localhost/lc-commit:p-{mode}",
                "prepare": f"{pm} rm -f {c} >/dev/null 2>&1; {pm} create -q --network none --name {c}"
                           f" {BASE_IMAGE} true >/dev/null && cp {payload} $({pm} mount {c})/blob.bin"
                           f" && {pm} umount {c} >/dev/null && sync",
                "cleanup": f"{pm} rm -f {c} >/dev/null; {pm} rmi localhost/lc-commit:p-{mode} >/dev/null"})
    if dockerd is not None:
        dk = dockerd.cmd
        if subprocess.run(f"{dk} image inspect {BASE_IMAGE}", shell=True,
                          capture_output=True).returncode != 0:
            sh(f"{dk} import {base_tar} {BASE_IMAGE} >/dev/null")
        for mode, payload in payloads.items():
            c = f"lc-d-{mode}"
            table.append({
                "name": f"docker commit ({mode})", "tool": "docker",
                "cmd": f"{dk} commit {c} lc-commit:d-{mode}",
                "prepare": f"{dk} rm -f {c} >/dev/null 2>&1; {dk} create --network none --name {c}"
                           f" {BASE_IMAGE} true >/dev/null && {dk} cp {payload} {c}:/blob.bin && sync",
                "cleanup": f"{dk} rm -f {c} >/dev/null; {dk} rmi lc-commit:d-{mode} >/dev/null"})
    if "tar|pigz" in tools:
        for mode, payload in payloads.items():
            src = BASE / "tarsrc" / mode
            src.mkdir(parents=True, exist_ok=True)
            if not (src / "blob.bin").exists():
                os.link(payload, src / "blob.bin")
            out = BASE / f"out-{mode}.tar.gz"
            table.append({"name": f"tar | pigz ({mode})", "tool": "tar|pigz",
                          "cmd": f"tar -C {src} -cf - blob.bin | pigz -c > {out}",
                          "prepare": f"rm -f {out}; sync", "cleanup": f"rm -f {out}"})
    return table


# -- the timed loop ------------------------------------------------------------------------
def _tree_cpu(pid: int) -> float:
    """CPU seconds (user + sys) used so far by `pid` and its live descendants (a daemon tree)."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        ticks[int(entry)] = int(fields[11]) + int(fields[12])
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += ticks.get(current, 0)
        todo += [child for child, parent in parents.items() if parent == current]
    return total / os.sysconf("SC_CLK_TCK")


def run_timed(row: dict[str, str], daemon: int | None) -> tuple[float, float, dict[str, float]]:
    """Run a row's command: (wall s, CPU s of it and its children (+ the daemon's), its report)."""
    sh(row["prepare"])
    argv = row["argv"].split() if "argv" in row else ["bash", "-c", row["cmd"]]
    daemon_before = _tree_cpu(daemon) if daemon is not None and row["tool"] == "docker" else 0.0
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # rusage includes the children it waited for
        elapsed = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    cpu = usage.ru_utime + usage.ru_stime
    if daemon is not None and row["tool"] == "docker":
        cpu += _tree_cpu(daemon) - daemon_before  # docker commit's work happens in dockerd
    if proc.returncode != 0:
        raise SystemExit(f"{row['name']} failed ({proc.returncode}): {stderr.decode()[-3000:]}")
    sh(row["cleanup"])
    report: dict[str, float] = {"maxrss_kib": usage.ru_maxrss}
    if "argv" in row:
        report.update(json.loads(stdout.decode().strip().splitlines()[-1]))
    return elapsed, cpu, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--mib", type=int, default=200)
    parser.add_argument("--only", default=",".join(TOOLS), help="comma-separated: " + ",".join(TOOLS))
    parser.add_argument("--quick", action="store_true", help="dockyard only, 3 rounds")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root (overlay mounts, podman, dockerd)")
    tools = ["dockyard"] if args.quick else [t.strip() for t in args.only.split(",")]
    rounds = 3 if args.quick else args.rounds
    BASE.mkdir(parents=True, exist_ok=True)
    size = args.mib << 20
    t_setup = time.perf_counter()
    payloads = ensure_payloads(size)
    base_tar = base_tarball()
    dockerd = Dockerd() if "docker" in tools else None
    try:
        if dockerd is not None:
            dockerd.start()
        table = rows(tools, payloads, base_tar, dockerd)
        print(f"setup {time.perf_counter() - t_setup:.1f} s; base {base_tar.name};"
              f" {len(table)} rows x {rounds} rounds (+{args.warmup} warm-up); state in {BASE}",
              flush=True)
        daemon = dockerd.proc.pid if dockerd is not None and dockerd.proc is not None else None
        results = loop(table, rounds, args.warmup, daemon)
    finally:
        if dockerd is not None:
            dockerd.stop()
    report(table, results, size)


Result = tuple[float, float, dict[str, float]]


def loop(table: list[dict[str, str]], rounds: int, warmup: int,
         daemon: int | None) -> dict[str, list[Result]]:
    results: dict[str, list[Result]] = {r["name"]: [] for r in table}
    for rnd in range(warmup + rounds):
        k = rnd % len(table)
        for row in table[k:] + table[:k]:
            got = run_timed(row, daemon)
            if rnd >= warmup:
                results[row["name"]].append(got)
        print(f"round {rnd + 1}/{warmup + rounds} done (load {os.getloadavg()[0]:.1f})", flush=True)
    return results


def report(table: list[dict[str, str]], results: dict[str, list[Result]], size: int) -> None:
    medians = {name: statistics.median(t for t, _, _ in got) for name, got in results.items()}
    cpus = {name: statistics.median(c for _, c, _ in got) for name, got in results.items()}
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n== layer commit of {size >> 20} MiB; load {load}")
    print(f"{'row':26} {'median s':>9} {'min s':>7} {'max s':>7} {'MB/s':>7} {'vs docker':>10}"
          f" {'CPU s':>7} {'CPU vs docker':>14}  notes")
    for row in table:
        name, got = row["name"], results[row["name"]]
        times = [t for t, _, _ in got]
        mode = name.rsplit("(", 1)[1].rstrip(")")
        docker = f"docker commit ({mode})"
        ratio = f"{medians[docker] / medians[name]:.2f}x" if docker in medians else "-"
        cpu_ratio = f"{cpus[docker] / cpus[name]:.2f}x" if docker in cpus else "-"
        notes = "CPU includes dockerd + containerd" if row["tool"] == "docker" else ""
        if row.get("ours"):
            peak = max(r["maxrss_kib"] for _, _, r in got)
            inner = statistics.median(r["commit_s"] for _, _, r in got)
            image = statistics.median(r["image_s"] for _, _, r in got)
            notes = (f"peak RSS {peak / 1024:.0f} MiB; in-process: layer {inner:.3f} s"
                     f" + image {image:.3f} s")
        print(f"{name:26} {medians[name]:9.3f} {min(times):7.3f} {max(times):7.3f}"
              f" {size / 1e6 / medians[name]:7.0f} {ratio:>10} {cpus[name]:7.3f} {cpu_ratio:>14}  {notes}")
    for mode in MODES:
        ours = medians.get(f"dockyard commit ({mode})")
        docker_s = medians.get(f"docker commit ({mode})")
        src = ""
        if docker_s is None and mode == "random":
            docker_s, src = DOCKER_COMMIT_REF_S, " (docker from peers/RESULTS.md)"
        if ours and docker_s:
            verdict = "met" if docker_s / ours >= 2 else "NOT met"
            print(f"{mode}: dockyard {docker_s / ours:.2f}x faster than docker commit{src};"
                  f" goal 2x {verdict} (load {load})")
    out = BASE / "results.json"
    out.write_text(json.dumps({n: [list(g) for g in got] for n, got in results.items()}, indent=1))


# -- the dockyard side (run in fresh processes) --------------------------------------------
def _setup(root: str, base_tar: str) -> None:
    from dockyard.engine.image_import import import_image
    from dockyard.store import Store

    with Store(root) as store:
        try:
            store.image(BASE_IMAGE)
        except Exception:
            with open(base_tar, "rb") as f:
                import_image(store, f, BASE_IMAGE, changes=['CMD ["bash"]'])
        store.snapshots.ensure_unpacked(store.image(BASE_IMAGE))


def _prepare(root: str, key: str, payload: str) -> None:
    """A container-like active snapshot on the base holding the payload, synced (untimed)."""
    from dockyard.store import Store

    with Store(root) as store:
        snaps = store.snapshots
        if snaps._row(key) is not None:
            snaps.remove(key)
        snaps.prepare(key, snaps.ensure_unpacked(store.image(BASE_IMAGE)))
        target = Path(root) / "tmp" / f"mnt-{key}"
        snaps.mount(key, target)
        try:
            shutil.copyfile(payload, target / "blob.bin")
        finally:
            snaps.unmount(target)
            target.rmdir()
    subprocess.run(["sync"], check=True)


def _commit(root: str, key: str, ref: str) -> None:
    """What `docker commit` does: the layer, a config + manifest naming it, the name."""
    from dockyard.image import mutate
    from dockyard.oci.config import History
    from dockyard.store import Store

    with Store(root) as store, store.lease():
        t0 = time.perf_counter()
        layer = store.snapshots.commit(key)
        t1 = time.perf_counter()
        base = store.image(BASE_IMAGE)
        image = mutate.append_layer(base, layer, History(created_by="dockyard commit"))
        mutate.register(image, [ref], parent=base.id)
        t2 = time.perf_counter()
    print(json.dumps({"commit_s": t1 - t0, "image_s": t2 - t1, "layer_bytes": layer.size}))


def _cleanup(root: str, key: str, ref: str) -> None:
    from dockyard.engine.images import remove_images
    from dockyard.store import Store

    with Store(root) as store:
        _, errors = remove_images(store, [ref])
        if errors:
            raise SystemExit(str(errors[0]))


if __name__ == "__main__":
    steps: dict[str, Callable[..., None]] = {
        "_setup": _setup, "_prepare": _prepare, "_commit": _commit, "_cleanup": _cleanup,
    }
    if len(sys.argv) > 1 and sys.argv[1] in steps:
        steps[sys.argv[1]](*sys.argv[2:])
    else:
        main()
