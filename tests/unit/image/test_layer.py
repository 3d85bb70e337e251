"""Layer tars without root: diff -> apply round trips, determinism, compression, tar format."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest
import zstandard

from dockyard.image.layer import apply_layer, write_diff

MTIME = 1_600_000_000


def _make_tree(root: Path) -> None:
    (root / "dir" / "sub").mkdir(parents=True)
    (root / "dir" / "file.txt").write_text("hello\n")
    (root / "dir" / "big.bin").write_bytes(os.urandom(5 * 1024 * 1024 + 17))
    os.link(root / "dir" / "file.txt", root / "dir" / "hardlink.txt")
    os.symlink("../dir/file.txt", root / "dir" / "sub" / "link")
    os.symlink("/nowhere/absolute", root / "dangling")
    os.mkfifo(root / "fifo")
    (root / "setgid").write_text("g")
    os.chmod(root / "setgid", 0o2755)
    (root / "sticky").mkdir()
    os.chmod(root / "sticky", 0o1777)
    (root / ("x" * 120)).write_text("long name")
    (root / "ünïcode").write_text("utf-8 name")
    (root / "dir" / "readonly").mkdir()
    (root / "dir" / "readonly" / "inside").write_text("ro")
    os.chmod(root / "dir" / "readonly", 0o555)
    try:
        os.setxattr(root / "dir" / "file.txt", "user.note", b"\x00\xffbinary")
    except OSError:
        pass  # a filesystem without user xattrs: the rest still counts
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in dirnames + filenames + [""]:
            os.utime(os.path.join(dirpath, name), (MTIME, MTIME), follow_symlinks=False)


def _describe(root: Path) -> dict[str, tuple[object, ...]]:
    """Everything a layer must keep, per path (hard links by shared inode)."""
    out: dict[str, tuple[object, ...]] = {}
    inodes: dict[int, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            st = path.lstat()
            kind = stat.S_IFMT(st.st_mode)
            extra: object = None
            if stat.S_ISREG(st.st_mode):
                extra = hashlib.sha256(path.read_bytes()).hexdigest()
                if st.st_nlink > 1:
                    extra = (extra, inodes.setdefault(st.st_ino, rel))
            elif stat.S_ISLNK(st.st_mode):
                extra = os.readlink(path)
            xattrs = sorted(
                (n, os.getxattr(path, n, follow_symlinks=False))
                for n in os.listxattr(path, follow_symlinks=False)
            )
            mtime = int(st.st_mtime)
            out[rel] = (kind, stat.S_IMODE(st.st_mode), mtime, extra, tuple(xattrs))
    return out


def _digest_of(tree: Path) -> tuple[str, bytes]:
    buf = io.BytesIO()
    result = write_diff(tree, buf)
    data = buf.getvalue()
    assert result.size == len(data)
    assert result.digest == "sha256:" + hashlib.sha256(data).hexdigest()
    return result.digest, data


def test_round_trip_keeps_every_kind_of_entry(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    _make_tree(src)
    digest, data = _digest_of(src)
    result = apply_layer(io.BytesIO(data), dst)
    assert result.diff_id == digest and result.compression == "none"
    assert _describe(dst) == _describe(src)


def test_same_files_give_same_digest(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    _make_tree(src)
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-a", str(src), str(copy)], check=True)
    first, _ = _digest_of(src)
    assert _digest_of(src)[0] == first
    assert _digest_of(copy)[0] == first
    os.utime(copy / "dir" / "file.txt", (MTIME + 5, MTIME + 5))
    assert _digest_of(copy)[0] != first


def test_tar_is_readable_by_gnu_tar_and_sorted(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    _make_tree(src)
    _, data = _digest_of(src)
    (tmp_path / "layer.tar").write_bytes(data)
    listing = subprocess.run(
        ["tar", "-tf", str(tmp_path / "layer.tar")], check=True, capture_output=True, text=True
    ).stdout.splitlines()
    assert "dir/" in listing and "x" * 120 in listing and "ünïcode" in listing
    assert listing.index("dir/") < listing.index("dir/file.txt")
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        members = {m.name: m for m in tf}
    link = members["dir/hardlink.txt"]
    assert link.islnk() and link.linkname == "dir/file.txt"
    assert all(m.uname == "" and m.gname == "" for m in members.values())


def test_overlay_whiteouts_in_upper_become_wh_entries(tmp_path: Path) -> None:
    upper = tmp_path / "upper"
    (upper / "d").mkdir(parents=True)
    try:
        os.mknod(upper / "d" / "deleted", stat.S_IFCHR | 0o600, os.makedev(0, 0))
    except PermissionError:
        pytest.skip("creating a whiteout device needs CAP_MKNOD or kernel >= 5.8")
    _, data = _digest_of(upper)
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        names = [m.name for m in tf]
    assert names == ["d", "d/.wh.deleted"]


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_compressed_layers_are_detected(tmp_path: Path, kind: str) -> None:
    src = tmp_path / "src"
    src.mkdir()
    _make_tree(src)
    digest, data = _digest_of(src)
    packed = gzip.compress(data) if kind == "gzip" else zstandard.ZstdCompressor().compress(data)
    result = apply_layer(io.BytesIO(packed), tmp_path / "dst")
    assert result.compression == kind
    assert result.diff_id == digest
    assert _describe(tmp_path / "dst") == _describe(src)


def test_whiteouts_delete_from_the_tree_below(tmp_path: Path) -> None:
    target = tmp_path / "t"
    (target / "keep").mkdir(parents=True)
    (target / "keep" / "old").write_text("old")
    (target / "gone.txt").write_text("bye")
    (target / "opaque").mkdir()
    (target / "opaque" / "lower-only").write_text("hidden")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name in (".wh.gone.txt", "opaque/new", "opaque/.wh..wh..opq"):
            info = tarfile.TarInfo(name)
            tf.addfile(info, io.BytesIO(b""))
    apply_layer(io.BytesIO(buf.getvalue()), target)
    assert sorted(p.name for p in target.iterdir()) == ["keep", "opaque"]
    assert [p.name for p in (target / "opaque").iterdir()] == ["new"]
    assert (target / "keep" / "old").read_text() == "old"


def test_large_file_is_streamed(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    with open(src / "sparse", "wb") as f:
        f.truncate(64 * 1024 * 1024)
    sink = _CountingSink()
    result = write_diff(src, sink)  # type: ignore[arg-type]
    assert result.size == sink.size > 64 * 1024 * 1024
    assert sink.largest <= 8 * 1024 * 1024


class _CountingSink:
    def __init__(self) -> None:
        self.size = 0
        self.largest = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        self.largest = max(self.largest, len(data))
        return len(data)



def test_many_small_files_around_big_ones_keep_their_order_and_bytes(tmp_path: Path) -> None:
    """Small entries are batched per ~1 MiB and big files streamed between the batches."""
    src = tmp_path / "src"
    expected: dict[str, bytes] = {}
    for d in range(3):
        for i in range(700):  # ~2 MiB of tar per directory: several batches
            data = hashlib.sha256(f"{d}/{i}".encode()).digest() * (i % 50)
            expected[f"d{d}/f{i:04}"] = data
        expected[f"d{d}/f0350-big"] = os.urandom((1 << 20) + d)  # streamed mid-directory
    for rel, data in expected.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    _, data = _digest_of(src)
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        members = tf.getmembers()
        names = [m.name for m in members]
        got = {m.name: tf.extractfile(m).read() for m in members if m.isfile()}  # type: ignore[union-attr]
    assert names == sorted(names, key=lambda n: n.encode().split(b"/"))
    assert got == expected
