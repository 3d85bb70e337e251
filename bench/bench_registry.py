#!/usr/bin/env python3
"""Benchmark: dockyard push/pull vs skopeo and podman against one CNCF distribution registry,
and skopeo pulls served by our registry vs distribution's, in one run.

Images: the Flask image (`my-flask-app:1.0` from /var/lib/dockyard, else `python:3.11-slim`
there; `make demo` builds it) and a generated 500 MB image (half random, half text-like,
one layer, `dockyard import`). Both are copied (save/load) into a bench store so that the
default store is never changed. Setup is untimed and cached under $BASE.

Timed rows alternate (A B C ..., the first rotating). Push rows start from an empty registry
(distribution restarted on an emptied directory, untimed); "cold" push rows also drop the
store's remembered gzip variants first. Pull rows pull into a brand-new empty store or
directory per run; deletion is deferred to the end (ext4 penalty, see peers/lib.sh).
Dirty pages are synced before every run. Peak RSS of our commands comes from wait4(),
our server's from /proc/PID/status (VmHWM), one server process per image.

  .venv/bin/python bench/bench_registry.py [--rounds 2] [--warmup 1] [--images flask,big] [--size-mb 500]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
DY = str(REPO / ".venv" / "bin" / "dockyard")
PEERS = Path("/work/shared/peers")
BASE = Path(os.environ.get("BASE", "/tmp/bench-registry"))
DEFAULT_STORE = Path("/var/lib/dockyard")
STORE = BASE / "dy-store"


def sh(args: list[str] | str, check: bool = True, **kw: object) -> subprocess.CompletedProcess[str]:
    argv = ["bash", "-c", args] if isinstance(args, str) else args
    proc = subprocess.run(argv, capture_output=True, text=True, **kw)  # type: ignore[call-overload]
    if check and proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {args}\n{proc.stdout}{proc.stderr}")
    return proc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(400):
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {url}")
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.025)
    raise SystemExit(f"no answer from {url}")


class Distribution:
    """Debian's docker-registry on a fixed free port; `fresh()` restarts it empty."""

    def __init__(self) -> None:
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.dir = BASE / "distribution"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        conf = self.dir / "config.yml"
        conf.write_text(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
            f"storage:\n  filesystem:\n    rootdirectory: {self.dir / 'data'}\n"
            "  delete:\n    enabled: true\n  cache:\n    blobdescriptor: inmemory\n"
            f"http:\n  addr: {self.host}\n")
        self.proc = subprocess.Popen(["docker-registry", "serve", str(conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        wait_up(f"http://{self.host}/v2/", self.proc)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def fresh(self) -> None:
        self.stop()
        shutil.rmtree(self.dir / "data", ignore_errors=True)
        self.start()


class Ours:
    """`dockyard registry serve` (one process per image, so VmHWM is per image)."""

    def __init__(self, name: str) -> None:
        self.root = BASE / f"ours-{name}"
        shutil.rmtree(self.root, ignore_errors=True)
        ready = BASE / f"ours-{name}.port"
        ready.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [DY, "--root", str(BASE / "ours-store"), "registry", "serve", "--addr", "127.0.0.1:0",
             "--root", str(self.root), "--ready-file", str(ready)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        for _ in range(400):
            if ready.exists() and ready.read_text():
                break
            time.sleep(0.025)
        self.host = f"127.0.0.1:{ready.read_text()}"
        wait_up(f"http://{self.host}/v2/", self.proc)

    def peak_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(10)


# -- setup (untimed, cached) ------------------------------------------------------------------

def podman_conf() -> Path:
    """podman on this VM needs runc and lower ulimits (see /work/shared/peers/lib.sh)."""
    out = BASE / "containers.conf"
    text = Path("/usr/share/containers/containers.conf").read_text()
    text = text.replace("[containers]\n", '[containers]\ndefault_ulimits = ["nofile=20000:20000",'
                        ' "nproc=32768:32768"]\n', 1)
    out.write_text(text.replace("[engine]\n", '[engine]\nruntime = "runc"\n', 1))
    return out


def dy(*args: str, root: Path = STORE) -> list[str]:
    return [DY, "--root", str(root), *args]


def has_image(ref: str, root: Path = STORE) -> bool:
    return sh(dy("images", "-q", ref, root=root), check=False).stdout.strip() != ""


def setup_flask() -> str:
    ref = "localhost/bench/flask:1"
    marker = BASE / "src" / "flask.source"
    for src in ("my-flask-app:1.0", "python:3.11-slim"):
        if has_image(src, DEFAULT_STORE):
            break
    else:
        if has_image(ref):
            return ref
        raise SystemExit("neither my-flask-app:1.0 nor python:3.11-slim in /var/lib/dockyard:"
                         " run `make demo` first")
    if has_image(ref) and marker.exists() and marker.read_text() == src:
        return ref
    for stale in (BASE / "src" / "flask.tar", BASE / "src" / "flask-oci"):
        shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(True)
    print(f"setup: copying {src} from {DEFAULT_STORE} into the bench store", flush=True)
    tar = BASE / "src" / "flask-src.tar"
    sh(dy("save", "-o", str(tar), src, root=DEFAULT_STORE))
    sh(dy("load", "-q", "-i", str(tar)))
    sh(dy("tag", src, ref))
    tar.unlink()
    marker.write_text(src)
    return ref


def setup_big(size_mb: int) -> str:
    ref = f"localhost/bench/big{size_mb}:1"
    if has_image(ref):
        return ref
    print(f"setup: generating a {size_mb} MB image (random + text)", flush=True)
    rootfs = BASE / "big-rootfs"
    shutil.rmtree(rootfs, ignore_errors=True)
    (rootfs / "data").mkdir(parents=True)
    half = size_mb * 1_000_000 // 2
    for mode in ("random", "text"):
        sh(f"python3 {PEERS / 'gen_data.py'} {mode} {half} > {rootfs / 'data' / mode}.bin")
    tar = BASE / "src" / "big-rootfs.tar"
    sh(["tar", "-C", str(rootfs), "-cf", str(tar), "."])
    shutil.rmtree(rootfs)
    sh(dy("import", str(tar), ref))
    tar.unlink()
    return ref


def skopeo_sources(name: str, ref: str) -> tuple[Path, Path]:
    """A docker-archive of the image (skopeo compresses it) and a pre-gzipped OCI layout."""
    archive = BASE / "src" / f"{name}.tar"
    layout = BASE / "src" / f"{name}-oci"
    if not archive.exists():
        sh(dy("save", "-o", str(archive) + ".tmp", ref))
        os.rename(str(archive) + ".tmp", archive)
    if not (layout / "index.json").exists():
        shutil.rmtree(layout, ignore_errors=True)
        sh(["skopeo", "copy", "-q", f"docker-archive:{archive}", f"oci:{layout}:latest"])
    return archive, layout


def compressed_bytes_of_layout(layout: Path) -> int:
    index = json.loads((layout / "index.json").read_text())
    digest = index["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads((layout / "blobs" / "sha256" / digest).read_text())
    return int(sum(d["size"] for d in manifest["layers"]) + manifest["config"]["size"])


def compressed_bytes_in_registry(host: str, repo: str) -> int:
    req = urllib.request.Request(
        f"http://{host}/v2/{repo}/manifests/1",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json,"
                           "application/vnd.oci.image.manifest.v1+json"})
    manifest = json.loads(urllib.request.urlopen(req).read())
    return int(sum(d["size"] for d in manifest["layers"]) + manifest["config"]["size"])


def drop_variants(ref: str) -> None:
    """Forget the gzip forms of the image's layers (a 'first push': compress again)."""
    from dockyard.store import Store

    with Store(STORE) as store:
        for diff_id in store.image(ref).diff_ids:
            known = store.content.variant(diff_id, "gzip")
            if known is not None:
                store.content.delete(known[0])


# -- timing -----------------------------------------------------------------------------------

@dataclass
class Row:
    name: str
    cmd: list[str] | None
    prepare: object = None  # callable run untimed before every run
    nbytes: int = 0
    ours: bool = False  # record the peak RSS of the command
    times: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # user + system seconds (the VM is shared)
    peak_mb: float = 0.0


def run_timed(row: Row, log: Path) -> None:
    if callable(row.prepare):
        row.prepare()
    os.sync()
    assert row.cmd is not None
    with open(log, "a") as out:
        out.write(f"\n### {row.name}: {' '.join(row.cmd)}\n")
        out.flush()
        t0 = time.perf_counter()
        proc = subprocess.Popen(row.cmd, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        dt = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{row.name} failed (exit {proc.returncode}), see {log}")
    row.times.append(dt)
    row.cpu.append(usage.ru_utime + usage.ru_stime)
    row.peak_mb = max(row.peak_mb, usage.ru_maxrss / 1024)


def alternate(rows: list[Row], rounds: int, warmup: int, log: Path) -> None:
    for r in range(warmup + rounds):
        k = r % len(rows)
        for row in rows[k:] + rows[:k]:
            before = len(row.times)
            run_timed(row, log)
            if r < warmup:
                del row.times[before:]
                del row.cpu[before:]


def table(title: str, rows: list[Row]) -> list[dict[str, object]]:
    print(f"\n== {title}  (loadavg {' '.join(open('/proc/loadavg').read().split()[:3])})")
    print(f"{'row':54s} {'median':>7s} {'min':>7s} {'max':>7s} {'MB/s':>6s} {'CPU s':>6s}"
          f" {'peakRSS':>8s}")
    out = []
    for row in rows:
        med = statistics.median(row.times)
        mbps = row.nbytes / 1e6 / med if row.nbytes else 0.0
        rss = f"{row.peak_mb:6.0f}MB" if row.ours else ""
        cpu = statistics.median(row.cpu)
        print(f"{row.name:54s} {med:7.3f} {min(row.times):7.3f} {max(row.times):7.3f}"
              f" {mbps:6.1f} {cpu:6.2f} {rss:>8s}")
        out.append({"name": row.name, "times": row.times, "median": med, "MBps": mbps,
                    "cpu_median": cpu, "peak_rss_mb": row.peak_mb if row.ours else None})
    return out


# -- one image --------------------------------------------------------------------------------

def bench_image(name: str, ref: str, dist: Distribution, rounds: int, warmup: int,
                fresh_dirs: list[Path]) -> dict[str, object]:
    archive, layout = skopeo_sources(name, ref)
    sk_bytes = compressed_bytes_of_layout(layout)
    target = f"{dist.host}/bench/{name}:1"
    sh(dy("tag", ref, target))
    log = BASE / f"{name}.log"
    log.write_text("")
    # the gzip variant dockyard makes once (and its size) before the push rows
    dist.fresh()
    sh(dy("push", "-q", target))
    dy_bytes = compressed_bytes_in_registry(dist.host, f"bench/{name}")

    def cold() -> None:
        dist.fresh()
        drop_variants(ref)

    pm_conf = {**os.environ, "CONTAINERS_CONF": str(podman_conf())}
    push = [
        Row("dockyard push, first time (compresses)", dy("push", "-q", target), cold, dy_bytes,
            True),
        Row("dockyard push, layers already compressed", dy("push", "-q", target), dist.fresh,
            dy_bytes, True),
        Row("skopeo push docker-archive: (compresses)",
            ["skopeo", "copy", "-q", "--dest-tls-verify=false", f"docker-archive:{archive}",
             f"docker://{target}"], dist.fresh, sk_bytes),
        Row("skopeo push oci: (pre-gzipped)",
            ["skopeo", "copy", "-q", "--dest-tls-verify=false", f"oci:{layout}:latest",
             f"docker://{target}"], dist.fresh, sk_bytes),
    ]
    alternate(push, rounds, warmup, log)
    # the registries now serve the image as dockyard pushed it (same bytes from both)
    dist.fresh()
    sh(dy("push", "-q", target))
    ours = Ours(name)
    try:
        sh(["skopeo", "copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false",
            f"docker://{target}", f"docker://{ours.host}/bench/{name}:1"])
        fresh_root = BASE / "fresh"
        fresh_root.mkdir(exist_ok=True)
        counter = [0]

        def new_dir() -> Path:
            counter[0] += 1
            d = fresh_root / f"{name}-{os.getpid()}-{counter[0]}"
            fresh_dirs.append(d)
            return d

        def fresh_row(label: str, make: object, nbytes: int, mine: bool = False) -> Row:
            row = Row(label, None, None, nbytes, mine)

            def prepare() -> None:
                row.cmd = make(new_dir())  # type: ignore[operator]

            row.prepare = prepare
            return row

        pull = [
            fresh_row("dockyard pull <- distribution (new empty store)",
                      lambda d: dy("pull", "-q", target, root=d), dy_bytes, True),
            fresh_row("dockyard pull <- our server (new empty store)",
                      lambda d: dy("pull", "-q", f"{ours.host}/bench/{name}:1", root=d),
                      dy_bytes, True),
            fresh_row("podman pull <- distribution (new empty store)",
                      lambda d: ["podman", "--root", str(d / "root"), "--runroot",
                                 str(d / "run"), "--storage-driver", "overlay",
                                 "--cgroup-manager", "cgroupfs", "pull", "-q",
                                 "--tls-verify=false", target], dy_bytes),
            fresh_row("skopeo pull <- distribution -> oci: (empty dir)",
                      lambda d: ["skopeo", "copy", "-q", "--src-tls-verify=false",
                                 f"docker://{target}", f"oci:{d}:x"], dy_bytes),
            fresh_row("skopeo pull <- our server -> oci: (empty dir)",
                      lambda d: ["skopeo", "copy", "-q", "--src-tls-verify=false",
                                 f"docker://{ours.host}/bench/{name}:1", f"oci:{d}:x"], dy_bytes),
        ]
        os.environ["CONTAINERS_CONF"] = pm_conf["CONTAINERS_CONF"]
        alternate(pull, rounds, warmup, log)
        server_peak = ours.peak_mb()
    finally:
        ours.stop()
    size = sum(os.path.getsize(STORE / "blobs" / "sha256" / d.split(":")[1])
               for d in _diff_ids(ref))
    title = f"{name}: {size / 1e6:.0f} MB uncompressed, {dy_bytes / 1e6:.0f} MB gzip (dockyard)" \
            f" / {sk_bytes / 1e6:.0f} MB (skopeo)"
    res = {"title": title, "push": table(f"{title} -- push", push),
           "pull": table(f"{title} -- pull", pull), "server_peak_rss_mb": server_peak}
    m = {r.name: statistics.median(r.times) for r in push + pull}
    ratios = {
        "dockyard warm push / skopeo oci: push (goal <= 1)":
            m["dockyard push, layers already compressed"] / m["skopeo push oci: (pre-gzipped)"],
        "dockyard first push / skopeo oci: push (goal <= 2)":
            m["dockyard push, first time (compresses)"] / m["skopeo push oci: (pre-gzipped)"],
        "dockyard first push / skopeo docker-archive: push":
            m["dockyard push, first time (compresses)"]
            / m["skopeo push docker-archive: (compresses)"],
        "podman pull / dockyard pull (goal >= 5)":
            m["podman pull <- distribution (new empty store)"]
            / m["dockyard pull <- distribution (new empty store)"],
        "dockyard pull / skopeo pull to oci:":
            m["dockyard pull <- distribution (new empty store)"]
            / m["skopeo pull <- distribution -> oci: (empty dir)"],
        "skopeo pull from ours / from distribution (goal <= 1.5)":
            m["skopeo pull <- our server -> oci: (empty dir)"]
            / m["skopeo pull <- distribution -> oci: (empty dir)"],
    }
    print(f"-- ratios ({name})")
    for k, v in ratios.items():
        print(f"   {k:58s} {v:6.2f}")
    print(f"   our server's peak RSS (VmHWM, push+pulls of {name}):   {server_peak:6.0f} MB")
    res["ratios"] = ratios
    sh(dy("rmi", target), check=False)  # the tag names this run's port: drop it
    return res


def _diff_ids(ref: str) -> list[str]:
    from dockyard.store import Store

    with Store(STORE) as store:
        return store.image(ref).diff_ids


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--images", default="flask,big")
    ap.add_argument("--size-mb", type=int, default=500)
    args = ap.parse_args()
    (BASE / "src").mkdir(parents=True, exist_ok=True)
    print(sh(["skopeo", "--version"]).stdout.strip(), "|", sh(["podman", "--version"]).stdout
          .strip(), "|", sh(["docker-registry", "--version"]).stdout.strip(), "|",
          f"{os.cpu_count()} CPUs", flush=True)
    wanted = args.images.split(",")
    refs = {}
    if "flask" in wanted:
        refs["flask"] = setup_flask()
    if "big" in wanted:
        refs["big"] = setup_big(args.size_mb)
    dist = Distribution()
    fresh_dirs: list[Path] = []
    results = {}
    try:
        for name, ref in refs.items():
            results[name] = bench_image(name, ref, dist, args.rounds, args.warmup, fresh_dirs)
    finally:
        dist.stop()
        for d in fresh_dirs:  # deferred deletion of the per-run stores
            for line in reversed(Path("/proc/mounts").read_text().splitlines()):
                if line.split()[1].startswith(f"{d}/"):
                    sh(["umount", line.split()[1]], check=False)
            shutil.rmtree(d, ignore_errors=True)
    (BASE / "results.json").write_text(json.dumps(results, indent=1))
    print(f"\nresults: {BASE / 'results.json'}, logs: {BASE}/*.log")


if __name__ == "__main__":
    main()
