"""A writable layer for one step: prepare a snapshot on the parent, mount it, let the step
change files, unmount, commit the upper directory as a layer blob (or nothing if unchanged)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING

from dockyard.errors import DockyardError
from dockyard.image import StoredImage

if TYPE_CHECKING:
    from dockyard.store import Store


class LayerWork:
    """What a step gets: the mounted root filesystem; `.result` after the block: (diff ID, size)
    of the new layer, or None when the step changed nothing."""

    def __init__(self, rootfs: Path) -> None:
        self.rootfs = rootfs
        self.result: tuple[str, int] | None = None


def parent_chain(store: Store, image: StoredImage) -> str | None:
    """The chain ID of `image`'s top layer, unpacking missing layers once."""
    if not image.layers:
        return None
    chain: str | None = store.snapshots.ensure_unpacked(image)
    return chain


@contextmanager
def writable_layer(store: Store, parent: StoredImage) -> Iterator[LayerWork]:
    """Mount a new snapshot on `parent`; on success commit it, on failure drop it."""
    snapshots = store.snapshots
    chain = parent_chain(store, parent)
    key = "build-" + secrets.token_hex(12)
    active = snapshots.prepare(key, chain)
    target = store.tmpdir("build-mnt-")
    mounted = False
    committed = False
    try:
        snapshots.mount(key, target)
        mounted = True
        work = LayerWork(target)
        yield work
        snapshots.unmount(target)
        mounted = False
        if snapshots.driver == "overlay" and not any(os.scandir(active.upper)):
            work.result = None
        else:
            blob = snapshots.commit(key)
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
