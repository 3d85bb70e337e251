"""Snapshots on real overlay mounts (and the copy driver): unpack, stack, write, commit, share."""

from __future__ import annotations

import io
import multiprocessing
import os
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.errors import AlreadyExists, Conflict, InvalidArgument, NotFound
from dockyard.image import StoredImage, mutate
from dockyard.store import Store
from dockyard.store.mounts import is_mountpoint
from dockyard.store.snapshots import chain_id

pytestmark = pytest.mark.integration


def _tar(entries: list[tuple[str, bytes | None, int]]) -> bytes:
    """A layer tar: (name, data or None for a directory, mode)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data, mode in entries:
            info = tarfile.TarInfo(name)
            info.mode = mode
            info.mtime = 1_700_000_000
            if data is None:
                info.type = tarfile.DIRTYPE
                tf.addfile(info)
            else:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


BASE = _tar(
    [
        ("etc/", None, 0o755),
        ("etc/hostname", b"base\n", 0o644),
        ("etc/gone", b"to be deleted\n", 0o644),
        ("opt/", None, 0o755),
        ("opt/old/", None, 0o755),
        ("opt/old/a", b"a\n", 0o644),
        ("opt/old/b", b"b\n", 0o644),
        ("tmp/", None, 0o1777),
    ]
)
TOP = _tar(
    [
        ("etc/", None, 0o755),
        ("etc/.wh.gone", b"", 0o600),
        ("etc/hostname", b"top\n", 0o644),
        ("opt/", None, 0o755),
        ("opt/old/", None, 0o755),
        ("opt/old/.wh..wh..opq", b"", 0o600),
        ("opt/old/c", b"c\n", 0o644),
    ]
)

BIG = _tar([("big/", None, 0o755), ("big/data", os.urandom(300_000), 0o644)])


def _image(store: Store, layers: list[bytes]) -> StoredImage:
    image = mutate.scratch(store)
    for data in layers:
        digest = store.content.write_bytes(data)
        image = mutate.append_layer(image, _Blob(digest, len(data)))
    return image


class _Blob:
    def __init__(self, digest: str, size: int) -> None:
        self.digest = digest
        self.size = size


@pytest.fixture(params=["overlay", "copy"])
def store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.setenv("DOCKYARD_SNAPSHOTTER", request.param)
    with Store(tmp_path / "root") as s:
        yield s


@pytest.fixture
def mountpoints(tmp_path: Path) -> Iterator[list[Path]]:
    """Mount targets a test uses; whatever is still mounted at the end is unmounted."""
    used: list[Path] = []
    yield used
    for target in used:
        while is_mountpoint(target):
            os.system(f"umount -l {target}")


def _tree(root: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            st = path.lstat()
            if stat.S_ISDIR(st.st_mode):
                out[rel] = f"dir {stat.S_IMODE(st.st_mode):o}"
            elif stat.S_ISREG(st.st_mode):
                out[rel] = path.read_text()
            else:
                out[rel] = f"other {st.st_mode:o}"
    return out


EXPECTED = {
    "etc": "dir 755",
    "etc/hostname": "top\n",
    "opt": "dir 755",
    "opt/old": "dir 755",
    "opt/old/c": "c\n",
    "tmp": "dir 1777",
}


def test_unpack_two_layers_with_whiteouts_merges(store: Store, tmp_path: Path, mountpoints: list[Path]) -> None:
    image = _image(store, [BASE, TOP])
    top = store.snapshots.ensure_unpacked(image)
    assert top == image.chain_ids()[-1]
    assert len(store.snapshots.lowerdirs(top)) == (2 if store.snapshots.driver == "overlay" else 1)
    target = tmp_path / "merged"
    mountpoints.append(target)
    store.snapshots.prepare("c1", top)
    store.snapshots.mount("c1", target)
    try:
        assert _tree(target) == EXPECTED
    finally:
        store.snapshots.unmount(target)
    assert not is_mountpoint(target)


def test_commit_gives_exactly_the_changes(store: Store, tmp_path: Path, mountpoints: list[Path]) -> None:
    image = _image(store, [BASE])
    parent = store.snapshots.ensure_unpacked(image)
    target = tmp_path / "rootfs"
    mountpoints.append(target)
    store.snapshots.prepare("build-1", parent)
    store.snapshots.mount("build-1", target)
    try:
        (target / "etc" / "hostname").write_text("changed\n")
        (target / "etc" / "gone").unlink()
        (target / "new").mkdir()
        (target / "new" / "file").write_bytes(b"x" * 5000)
    finally:
        store.snapshots.unmount(target)
    blob = store.snapshots.commit("build-1")
    assert store.content.size(blob.digest) == blob.size
    with store.content.open(blob.digest) as f, tarfile.open(fileobj=f, mode="r|") as tf:
        names = sorted(m.name.rstrip("/") for m in tf)
    assert names == ["etc", "etc/.wh.gone", "etc/hostname", "new", "new/file"]
    # the upper became the committed layer: a child of it sees the new tree
    chain = chain_id(parent, blob.digest)
    assert store.snapshots.has(chain)
    store.snapshots.prepare("c2", chain)
    store.snapshots.mount("c2", target)
    try:
        tree = _tree(target)
    finally:
        store.snapshots.unmount(target)
    assert tree["etc/hostname"] == "changed\n" and "etc/gone" not in tree
    assert tree["new/file"] == "x" * 5000


def test_images_sharing_a_base_share_its_snapshot(store: Store) -> None:
    other = _tar([("srv/", None, 0o755), ("srv/x", b"x\n", 0o644)])
    a = _image(store, [BASE, TOP])
    b = _image(store, [BASE, other])
    store.snapshots.ensure_unpacked(a)
    before = {s.key for s in store.snapshots.entries()}
    store.snapshots.ensure_unpacked(b)
    after = [s.key for s in store.snapshots.entries()]
    assert len(after) == 3 and before < set(after)
    assert a.chain_ids()[0] == b.chain_ids()[0]


def test_parent_with_children_cannot_be_removed(store: Store) -> None:
    image = _image(store, [BASE, TOP])
    top = store.snapshots.ensure_unpacked(image)
    with pytest.raises(Conflict):
        store.snapshots.remove(image.chain_ids()[0])
    assert top is not None
    store.snapshots.remove(top)
    store.snapshots.remove(image.chain_ids()[0])
    assert store.snapshots.entries() == []
    assert [p.name for p in (store.root / "snapshots").iterdir() if p.name[0].isdigit()] == []


def _unpack_in_child(root: Path, image: StoredImage) -> None:
    with Store(root) as own:
        own.snapshots.ensure_unpacked(StoredImage(own, image.record))


def test_concurrent_unpack_of_one_layer_keeps_one_snapshot(store: Store) -> None:
    image = _image(store, [BASE, BIG])
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_unpack_in_child, args=(store.root, image)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    assert [s.key for s in store.snapshots.entries()] == image.chain_ids()
    leftovers = [p.name for p in (store.root / "snapshots").iterdir() if p.name.startswith("unpack-")]
    assert leftovers == []


def test_corrupt_layer_leaves_no_snapshot(store: Store) -> None:
    bad = BIG[: len(BIG) // 2]
    image = _image(store, [bad])
    with pytest.raises(InvalidArgument, match="layer sha256:"):
        store.snapshots.ensure_unpacked(image)
    assert store.snapshots.entries() == []
    assert [p.name for p in (store.root / "snapshots").iterdir() if p.name.startswith("unpack-")] == []


def test_committed_snapshot_mounts_read_only(store: Store, tmp_path: Path, mountpoints: list[Path]) -> None:
    image = _image(store, [BASE, TOP])
    top = store.snapshots.ensure_unpacked(image)
    assert top is not None
    target = tmp_path / "view"
    mountpoints.append(target)
    store.snapshots.mount(top, target)
    try:
        assert _tree(target) == EXPECTED
        with pytest.raises(OSError):
            (target / "etc" / "new").write_text("no")
    finally:
        store.snapshots.unmount(target)


def test_active_key_is_unique_and_mounted_commit_is_refused(
    store: Store, tmp_path: Path, mountpoints: list[Path]
) -> None:
    store.snapshots.prepare("k", None)
    with pytest.raises(AlreadyExists):
        store.snapshots.prepare("k", None)
    if store.snapshots.driver == "overlay":
        target = tmp_path / "m"
        mountpoints.append(target)
        store.snapshots.mount("k", target)
        try:
            with pytest.raises(Conflict, match="still mounted"):
                store.snapshots.commit("k")
        finally:
            store.snapshots.unmount(target)
    (store.snapshots.active("k").upper / "only").write_text("1")
    blob = store.snapshots.commit("k")
    with store.content.open(blob.digest) as f, tarfile.open(fileobj=f, mode="r|") as tf:
        assert [m.name for m in tf] == ["only"]
    with pytest.raises(NotFound):
        store.snapshots.active("k")


def test_gc_keeps_snapshots_in_use_and_removes_the_rest(store: Store) -> None:
    from dockyard.store import gc

    kept = mutate.register(_image(store, [BASE]), ["kept:1"])
    dropped = _image(store, [BASE, TOP])  # never named: its top layer is garbage
    store.snapshots.ensure_unpacked(kept)
    store.snapshots.ensure_unpacked(dropped)
    container = _image(store, [BASE, BIG])
    top = store.snapshots.ensure_unpacked(container)
    store.snapshots.prepare("container-1", top)
    result = gc.collect(store)
    remaining = set(store.snapshots.list_committed())
    assert kept.chain_ids()[0] in remaining
    assert dropped.chain_ids()[1] not in remaining
    assert top in remaining  # a container's active snapshot still builds on it
    assert dropped.chain_ids()[1] in result.snapshots_removed
    assert store.snapshots.active("container-1").upper.is_dir()


def test_commit_waits_for_a_running_gc(store: Store, tmp_path: Path, mountpoints: list[Path]) -> None:
    """commit() holds a lease: a collection in progress never sees a half-made layer."""
    import threading

    parent = store.snapshots.ensure_unpacked(_image(store, [BASE]))
    target = tmp_path / "rootfs"
    mountpoints.append(target)
    store.snapshots.prepare("build-gc", parent)
    store.snapshots.mount("build-gc", target)
    try:
        (target / "made-during-gc").write_text("x")
    finally:
        store.snapshots.unmount(target)
    done: list[str] = []
    before = sorted(store.content.list())
    with store.gc_lock():  # what gc.collect holds while it marks and sweeps
        worker = threading.Thread(target=lambda: done.append(store.snapshots.commit("build-gc").digest))
        worker.start()
        worker.join(0.5)
        assert worker.is_alive() and not done
        assert sorted(store.content.list()) == before  # no new blob while GC runs
    worker.join(30)
    assert done and store.content.has(done[0])
    assert store.snapshots.has(chain_id(parent, done[0]))


def test_many_layers_mount_past_the_option_page_limit(
    store: Store, tmp_path: Path, mountpoints: list[Path]
) -> None:
    if store.snapshots.driver == "copy":
        pytest.skip("the copy driver keeps one directory per snapshot: no option list")
    layers = [_tar([(f"l{i:03}", f"{i}\n".encode(), 0o644)]) for i in range(70)]
    image = _image(store, layers)
    top = store.snapshots.ensure_unpacked(image)
    lowers = store.snapshots.lowerdirs(top)
    assert len(":".join(map(str, lowers))) > 4096  # too long for absolute paths
    target = tmp_path / "many"
    mountpoints.append(target)
    store.snapshots.prepare("many", top)
    store.snapshots.mount("many", target)
    try:
        assert sorted(os.listdir(target)) == [f"l{i:03}" for i in range(70)]
        assert (target / "l000").read_text() == "0\n"
        with pytest.raises(Conflict, match="still mounted"):
            store.snapshots.commit("many")
    finally:
        store.snapshots.unmount(target)
