"""Time `Snapshots.commit` of a 200 MiB file written into a container (cf. `docker commit`: 1.18 s).

Run as root: .venv/bin/python bench/layer_commit.py [MiB] [rounds]
The file is copied into the mounted snapshot and synced untimed, as the peer benchmark does.
"""

from __future__ import annotations

import io
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from dockyard.image import mutate
from dockyard.store import Store


class _Blob:
    def __init__(self, digest: str, size: int) -> None:
        self.digest, self.size = digest, size


def main() -> None:
    mib = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    work = Path(tempfile.mkdtemp(prefix="dockyard-bench-", dir="/var/tmp"))
    payload = work / "payload.bin"
    with open(payload, "wb") as f:
        for _ in range(mib):
            f.write(os.urandom(1 << 20))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for d in ("etc/", "usr/", "usr/bin/"):
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            tf.addfile(info)
    times = []
    with Store(work / "root") as store:
        image = mutate.scratch(store)
        digest = store.content.write_bytes(buf.getvalue())
        image = mutate.append_layer(image, _Blob(digest, len(buf.getvalue())))
        parent = store.snapshots.ensure_unpacked(image)
        target = work / "mnt"
        for i in range(rounds + 1):
            key = f"bench-{i}"
            store.snapshots.prepare(key, parent)
            store.snapshots.mount(key, target)
            shutil.copyfile(payload, target / "blob.bin")
            os.utime(target / "blob.bin", (1_700_000_000 + i, 1_700_000_000 + i))
            store.snapshots.unmount(target)
            subprocess.run(["sync"], check=True)
            start, cpu = time.perf_counter(), time.process_time()
            blob = store.snapshots.commit(key)
            elapsed = time.perf_counter() - start
            cpu = time.process_time() - cpu
            if i:  # the first round warms up
                times.append(elapsed)
            print(f"round {i}: {elapsed:.3f} s wall, {cpu:.3f} s CPU,"
                  f" {blob.size / elapsed / 1e6:.0f} MB/s; load {os.getloadavg()[0]:.1f}", flush=True)
        print(f"driver {store.snapshots.driver}: median {statistics.median(times):.3f} s for"
              f" {mib} MiB ({mib * 1048576 / statistics.median(times) / 1e6:.0f} MB/s);"
              " docker commit: 1.184 s")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
