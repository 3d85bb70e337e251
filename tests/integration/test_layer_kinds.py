"""Layer entries only root can make: devices, owners, file capabilities, overlay whiteouts."""

from __future__ import annotations

import hashlib
import io
import os
import signal
import stat
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from dockyard.image.layer import apply_layer, write_diff
from dockyard.store import Store
from dockyard.store.mounts import is_mountpoint, mount_overlay, unmount

pytestmark = pytest.mark.integration

# security.capability v2 value for cap_net_bind_service+ep
CAP_NET_BIND = bytes.fromhex("0100000200040000000000000000000000000000")


def _root_tree(root: Path) -> None:
    (root / "dev").mkdir(parents=True)
    os.mknod(root / "dev" / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.mknod(root / "dev" / "loop9", stat.S_IFBLK | 0o660, os.makedev(7, 9))
    (root / "bin").mkdir()
    (root / "bin" / "suid").write_bytes(b"\x7fELF")
    os.chown(root / "bin" / "suid", 0, 0)
    os.chmod(root / "bin" / "suid", 0o4755)
    (root / "bin" / "cap").write_bytes(b"cap")
    os.setxattr(root / "bin" / "cap", "security.capability", CAP_NET_BIND)
    (root / "home" / "app").mkdir(parents=True)
    (root / "home" / "app" / "f").write_text("app")
    os.chown(root / "home" / "app", 1000, 1000)
    os.chown(root / "home" / "app" / "f", 1000, 50)
    os.symlink("f", root / "home" / "app" / "l")
    os.lchown(root / "home" / "app" / "l", 1000, 1000)
    os.setxattr(root / "home", "trusted.dockyard-test", b"kept")


def _meta(root: Path) -> dict[str, tuple[object, ...]]:
    out: dict[str, tuple[object, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            xattrs = sorted(
                (n, os.getxattr(p, n, follow_symlinks=False))
                for n in os.listxattr(p, follow_symlinks=False)
            )
            out[str(p.relative_to(root))] = (st.st_mode, st.st_uid, st.st_gid, st.st_rdev, tuple(xattrs))
    return out


def test_devices_owners_setuid_and_capabilities_round_trip(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    _root_tree(src)
    buf = io.BytesIO()
    result = write_diff(src, buf)
    applied = apply_layer(io.BytesIO(buf.getvalue()), dst)
    assert applied.diff_id == result.digest
    assert _meta(dst) == _meta(src)
    assert os.getxattr(dst / "bin" / "cap", "security.capability") == CAP_NET_BIND
    assert stat.S_IMODE((dst / "bin" / "suid").stat().st_mode) == 0o4755


def test_real_overlay_upper_diff_and_overlay_apply(tmp_path: Path) -> None:
    lower, upper, work, merged = (tmp_path / n for n in ("lower", "upper", "work", "merged"))
    for d in (lower / "etc", lower / "var" / "cache", upper, work, merged):
        d.mkdir(parents=True)
    (lower / "etc" / "passwd").write_text("root\n")
    (lower / "etc" / "shadow").write_text("x\n")
    (lower / "var" / "cache" / "old").write_text("old\n")
    mount_overlay([lower], upper, work, merged, tmp_path)
    try:
        (merged / "etc" / "shadow").unlink()
        subprocess.run(["rm", "-rf", str(merged / "var" / "cache")], check=True)
        (merged / "var" / "cache").mkdir()
        (merged / "var" / "cache" / "new").write_text("new\n")
        (merged / "etc" / "passwd").write_text("root\napp\n")
    finally:
        unmount(merged)
    buf = io.BytesIO()
    write_diff(upper, buf)
    with tarfile.open(fileobj=io.BytesIO(buf.getvalue())) as tf:
        names = [m.name for m in tf]
    assert names == ["etc", "etc/passwd", "etc/.wh.shadow", "var", "var/cache",
                     "var/cache/.wh..wh..opq", "var/cache/new"]
    # applied as an overlay layer, the whiteouts become overlay's own again
    layer = tmp_path / "layer"
    apply_layer(io.BytesIO(buf.getvalue()), layer, overlay=True)
    wh = (layer / "etc" / "shadow").lstat()
    assert stat.S_ISCHR(wh.st_mode) and wh.st_rdev == 0
    assert os.getxattr(layer / "var" / "cache", "trusted.overlay.opaque") == b"y"
    view = tmp_path / "view"
    view.mkdir()
    mount_overlay([layer, lower], None, None, view, tmp_path)
    try:
        assert sorted(os.listdir(view / "etc")) == ["passwd"]
        assert os.listdir(view / "var" / "cache") == ["new"]
    finally:
        unmount(view)
    assert not is_mountpoint(view)


_SLOW_CHILD = """
import io, sys, time
from pathlib import Path
from dockyard.store import Store
class Slow(io.RawIOBase):
    def __init__(self, data): self.data, self.pos = data, 0
    def readable(self): return True
    def readinto(self, b):
        if self.pos > len(self.data) // 2: time.sleep(30)
        n = min(len(b), 65536, len(self.data) - self.pos)
        b[:n] = self.data[self.pos:self.pos + n]; self.pos += n; return n
data = open(sys.argv[2], "rb").read()
Store(Path(sys.argv[1])).snapshots.unpack(io.BufferedReader(Slow(data)), sys.argv[3], None)
"""


def test_killed_unpack_leaves_no_committed_snapshot(tmp_path: Path) -> None:
    layer = tmp_path / "layer.tar"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for i in range(8):
            info = tarfile.TarInfo(f"f{i}")
            info.size = 256 * 1024
            tf.addfile(info, io.BytesIO(os.urandom(info.size)))
    layer.write_bytes(buf.getvalue())
    diff_id = "sha256:" + hashlib.sha256(buf.getvalue()).hexdigest()
    root = tmp_path / "root"
    Store(root).close()
    child = subprocess.Popen([sys.executable, "-c", _SLOW_CHILD, str(root), str(layer), diff_id])
    try:
        deadline = time.monotonic() + 20
        while not any(p.name.startswith("unpack-") and any((p / "fs").glob("f*"))
                      for p in (root / "snapshots").iterdir()):
            assert time.monotonic() < deadline and child.poll() is None
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    with Store(root) as store:
        snaps = store.snapshots
        assert not snaps.has(diff_id) and snaps.entries() == []
        assert not [p for p in (root / "snapshots").iterdir() if p.name.startswith("unpack-")]
        with open(layer, "rb") as f:
            assert snaps.unpack(f, diff_id, None) == diff_id
        assert sorted(os.listdir(snaps.path(diff_id))) == [f"f{i}" for i in range(8)]


def test_unpack_matches_gnu_tar_on_a_real_rootfs(tmp_path: Path) -> None:
    from helpers.busybox import make_rootfs

    rootfs = make_rootfs(tmp_path / "rootfs")
    os.setxattr(rootfs / "bin" / "busybox", "security.capability", CAP_NET_BIND)
    archive = subprocess.run(
        ["tar", "--xattrs", "--xattrs-include=*", "--numeric-owner", "-C", str(rootfs),
         "-cf", "-", "."], check=True, capture_output=True,
    ).stdout
    ours, gnu = tmp_path / "ours", tmp_path / "gnu"
    gnu.mkdir()
    apply_layer(io.BytesIO(archive), ours)
    subprocess.run(["tar", "--xattrs", "--xattrs-include=*", "--numeric-owner", "-xpf", "-",
                    "-C", str(gnu)], input=archive, check=True)
    assert write_diff(ours, io.BytesIO()).digest == write_diff(gnu, io.BytesIO()).digest
    assert _meta(ours) == _meta(gnu)
