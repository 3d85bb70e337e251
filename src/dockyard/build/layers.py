"""A writable layer for one step: prepare a snapshot on the parent, mount it, let the step
change files, unmount, commit the upper directory as a layer blob (or nothing if unchanged).

The overlay is mounted `volatile` (no syncfs of the whole filesystem on unmount); the upper,
which becomes the committed snapshot, is made durable by fsyncing just its own files."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING

from dockyard.errors import DockyardError
from dockyard.image import StoredImage
from dockyard.store.snapshots import rmtree

if TYPE_CHECKING:
    from dockyard.store import Store


SYNC_EACH_MAX = 256  # more files than this in a step's upper: one syncfs instead


class LayerWork:
    """What a step gets: the mounted root filesystem; `.result` after the block: (diff ID, size)
    of the new layer, or None when the step changed nothing."""

    def __init__(self, rootfs: Path) -> None:
        self.rootfs = rootfs
        self.result: tuple[str, int] | None = None
        # directories overlay copied up only for RUN mount points: (rootfs-relative path, mode,
        # uid, gid, mtime_ns before the step); dropped from the upper when still untouched
        self.prunable: list[tuple[str, int, int, int, int]] = []


def parent_chain(store: Store, image: StoredImage) -> str | None:
    """The chain ID of `image`'s top layer, unpacking missing layers once."""
    if not image.layers:
        return None
    chain: str | None = store.snapshots.ensure_unpacked(image)
    return chain


def sync_tree(root: Path) -> None:
    """Make the files under `root` durable: fsync each file and directory (few, for most steps),
    or one syncfs of its filesystem when there are many."""
    entries: list[str] = [str(root)]
    todo = [str(root)]
    while todo and len(entries) <= SYNC_EACH_MAX:
        with os.scandir(todo.pop()) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    todo.append(entry.path)
                    entries.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    entries.append(entry.path)
    if len(entries) > SYNC_EACH_MAX:
        _syncfs(root)
        return
    for path in reversed(entries):  # files before the directories naming them
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _sync_in_background(root: Path) -> Callable[[], None]:
    """Start `sync_tree(root)` on a thread; the returned call waits for it (raising its error)."""
    import threading

    errors: list[BaseException] = []

    def sync() -> None:
        try:
            sync_tree(root)
        except BaseException as exc:  # re-raised by wait(), in the committing thread
            errors.append(exc)

    thread = threading.Thread(target=sync, name="layer-sync")
    thread.start()

    def wait() -> None:
        thread.join()
        if errors:
            raise errors[0]

    return wait


def _syncfs(path: Path) -> None:
    import ctypes

    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if ctypes.CDLL(None, use_errno=True).syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


def prune_copied_up(upper: Path, entries: list[tuple[str, int, int, int, int]]) -> None:
    """Remove from `upper` the directories that are empty there and still have the metadata
    they had before the step: overlay copied them up only because a mount point was created
    below them, so the layer must not carry them (BuildKit's differ skips them too)."""
    for rel, mode, uid, gid, mtime in sorted(entries, key=lambda e: -e[0].count("/")):
        path = upper / rel
        try:
            st = os.lstat(path)
            if (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns) != (mode, uid, gid, mtime):
                continue
            with suppress(OSError):
                if os.getxattr(path, "trusted.overlay.opaque") == b"y":
                    continue
            if not any(os.scandir(path)):
                os.rmdir(path)
        except OSError:
            continue


@contextmanager
def writable_layer(store: Store, parent: StoredImage) -> Iterator[LayerWork]:
    """Mount a new snapshot on `parent`; on success commit it, on failure drop it."""
    snapshots = store.snapshots
    chain = parent_chain(store, parent)
    key = "build-" + os.urandom(12).hex()
    active = snapshots.prepare(key, chain)
    target = store.tmpdir("build-mnt-")
    mounted = False
    committed = False
    overlay = snapshots.driver == "overlay"
    try:
        snapshots.mount(key, target, volatile=overlay)
        mounted = True
        work = LayerWork(target)
        yield work
        snapshots.unmount(target)
        mounted = False
        if overlay and active.work is not None:  # the volatile mount's marker, so that the
            rmtree(active.work / "work" / "incompat")  # work dir
            # is an empty one again when the snapshot's commit removes it
        if overlay and work.prunable:
            prune_copied_up(active.upper, work.prunable)
        if overlay and not any(os.scandir(active.upper)):
            work.result = None
        else:
            # what unmounting a non-volatile overlay would do, on a thread while the layer
            # blob is written; the snapshot is recorded as committed only once it is done
            synced = _sync_in_background(active.upper) if overlay else None
            try:
                blob = snapshots.commit(key, before_publish=synced)
            except BaseException:
                if synced is not None:
                    with suppress(Exception):  # the commit's own error is the one to report
                        synced()  # (never leave the thread working on a removed snapshot)
                raise
            committed = True
            work.result = (blob.digest, blob.size)
    finally:
        if mounted:
            with suppress(DockyardError, OSError):
                snapshots.unmount(target)
        if not committed:
            with suppress(DockyardError, OSError):
                snapshots.remove(key)
        with suppress(OSError):
            target.rmdir()  # never rmtree: a failed unmount must not lose files


@contextmanager
def readonly_rootfs(store: Store, image: StoredImage) -> Iterator[Path]:
    """`image`'s files mounted read-only (an empty directory for an image without layers)."""
    target = store.tmpdir("build-src-")
    chain = parent_chain(store, image)
    mounted = False
    try:
        if chain is not None:
            store.snapshots.mount(chain, target)
            mounted = True
        yield target
    finally:
        if mounted:
            with suppress(DockyardError, OSError):
                store.snapshots.unmount(target)
        with suppress(OSError):
            target.rmdir()  # never rmtree: a failed unmount must not lose files
