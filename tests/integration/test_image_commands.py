"""Image commands through the installed `dockyard` binary, on a real root-made rootfs tarball."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
BUSYBOX = shutil.which("busybox") or "/bin/busybox"


def dockyard(root: Path, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "dockyard.cli.main", "--root", str(root), *args],
        input=input, capture_output=True, timeout=120,
    )


@pytest.fixture
def rootfs_tar(tmp_path: Path) -> Path:
    """A busybox rootfs with root-only entries (a device node, setuid, other owners), via tar."""
    rootfs = tmp_path / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    (rootfs / "dev").mkdir()
    (rootfs / "home" / "user").mkdir(parents=True)
    shutil.copy(BUSYBOX, rootfs / "bin" / "busybox")
    os.symlink("busybox", rootfs / "bin" / "sh")
    os.mknod(rootfs / "dev" / "null", 0o20666, os.makedev(1, 3))
    os.chmod(rootfs / "dev" / "null", 0o666)
    (rootfs / "bin" / "su").write_bytes(b"#!/bin/sh\n")
    os.chmod(rootfs / "bin" / "su", 0o4755)
    os.chown(rootfs / "home" / "user", 1000, 1000)
    out = tmp_path / "rootfs.tar.gz"
    subprocess.run(["tar", "-C", str(rootfs), "-czf", str(out), "."], check=True)
    return out


def test_import_keeps_the_exact_tar_and_lists(tmp_path: Path, rootfs_tar: Path) -> None:
    root = tmp_path / "store"
    res = dockyard(root, "import", "-c", 'CMD ["/bin/sh"]', str(rootfs_tar), "bb:1")
    assert res.returncode == 0, res.stderr.decode()
    image_id = res.stdout.decode().strip()
    plain = subprocess.run(["gzip", "-dc", str(rootfs_tar)], capture_output=True, check=True).stdout
    diff_id = "sha256:" + hashlib.sha256(plain).hexdigest()
    doc = json.loads(dockyard(root, "image", "inspect", "bb:1").stdout)[0]
    assert doc["Id"] == image_id
    assert doc["RootFS"]["Layers"] == [diff_id]
    assert (root / "blobs" / "sha256" / diff_id[7:]).read_bytes() == plain
    listing = subprocess.run(["tar", "--numeric-owner", "-tvf", str(root / "blobs" / "sha256" / diff_id[7:])],
                             capture_output=True, check=True, text=True).stdout
    assert "crw-rw-rw-" in listing and "rwsr-xr-x" in listing and "1000/1000" in listing
    lines = dockyard(root, "images").stdout.decode().splitlines()
    assert lines[1].split()[:3] == ["bb", "1", image_id[7:19]]
    assert dockyard(root, "history", "-q", "--no-trunc", "bb:1").stdout.decode().strip() == image_id


def test_concurrent_imports_and_removals(tmp_path: Path, rootfs_tar: Path) -> None:
    root = tmp_path / "store"
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "dockyard.cli.main", "--root", str(root), "import",
             str(rootfs_tar), f"img{i}:latest"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        for i in range(4)
    ]
    ids = set()
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
        ids.add(out.decode().strip())
    names = dockyard(root, "images", "--format", "{{.Repository}}").stdout.decode().split()
    assert sorted(names) == [f"img{i}" for i in range(4)]
    # remove and prune at once: no error other than "No such image", store stays usable
    procs = [subprocess.Popen([sys.executable, "-m", "dockyard.cli.main", "--root", str(root),
                               *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for args in (["rmi", "img0", "img1"], ["image", "prune", "-f", "-a"],
                          ["rmi", "img2", "img3"])]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0 or b"No such image" in err, err.decode()
    assert dockyard(root, "images", "-q").stdout == b""
    dockyard(root, "image", "prune", "-f")
    assert list((root / "blobs" / "sha256").iterdir()) == []
