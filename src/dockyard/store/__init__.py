"""The local store: blobs, image names, snapshots and (later) containers under one root."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.errors import InvalidArgument
from dockyard.store.content import ContentStore
from dockyard.store.db import Database
from dockyard.store.images import ImageIndex
from dockyard.store.locking import file_lock

if TYPE_CHECKING:
    from dockyard.image import StoredImage

MARKER = "dockyard-store"
STORE_VERSION = 1
GC_LOCK = "gc.lock"


def _check_root(root: Path) -> None:
    """Create the root on first use; refuse a file or a foreign non-empty directory."""
    if root.exists() and not root.is_dir():
        raise InvalidArgument(
            f"store root {root} exists and is not a directory",
            hint="pass --root (or DOCKYARD_ROOT) naming a directory dockyard may use",
        )
    marker = root / MARKER
    if root.is_dir() and not marker.exists() and any(root.iterdir()):
        raise InvalidArgument(
            f"store root {root} is a non-empty directory that is not a dockyard store"
            f" (no {MARKER} file)",
            hint="pass --root (or DOCKYARD_ROOT) naming an empty or new directory",
        )
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidArgument(
            f"cannot create store root {root}: {exc.strerror}",
            hint="pass --root (or DOCKYARD_ROOT) naming a directory you may write",
        ) from exc
    try:
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        _check_marker(marker)
        return
    try:
        os.write(fd, b'{"version": %d}\n' % STORE_VERSION)
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_marker(marker: Path) -> None:
    text = marker.read_text(errors="replace").strip()
    if not text:
        return  # another process is writing it right now
    import json

    try:
        version = int(json.loads(text).get("version", 0))
    except (ValueError, AttributeError, TypeError) as exc:
        raise InvalidArgument(
            f"store marker {marker} is unreadable", hint="is this directory a dockyard store?"
        ) from exc
    if version > STORE_VERSION:
        raise InvalidArgument(
            f"store {marker.parent} has format version {version}; this dockyard reads"
            f" up to {STORE_VERSION}",
            hint="upgrade dockyard or use another --root",
        )


class Store:
    """Everything dockyard keeps locally, under one root directory."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).absolute()
        _check_root(self.root)
        for sub in ("blobs/sha256", "ingest", "snapshots", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.db = Database(self.root / "metadata.db")
        self.content = ContentStore(self.root, self.db)
        self.images = ImageIndex(self.db)

    @cached_property
    def snapshots(self) -> Any:
        """The snapshotter (store/snapshots.py), created on first use."""
        from dockyard.store.snapshots import Snapshots

        return Snapshots(self)

    def tmpdir(self, prefix: str = "tmp-") -> Path:
        """A fresh directory under <root>/tmp/ (same filesystem as the blobs)."""
        from dockyard.store.content import temp_dir

        return temp_dir(self.root / "tmp", prefix)

    def image(self, ref_or_id: str) -> StoredImage:
        """Resolve a name, digest reference or (short) ID and load the image."""
        from dockyard.image import StoredImage

        return StoredImage(self, self.images.resolve(ref_or_id))

    @contextmanager
    def lease(self) -> Iterator[None]:
        """Hold off garbage collection while writing blobs that are not referenced yet.

        Wrap any write that adds blobs and then records them (pull, load, import, build
        commits): GC takes the same lock exclusively, so it never sees them half-done.
        """
        with file_lock(self.root / GC_LOCK, shared=True):
            yield

    @contextmanager
    def gc_lock(self) -> Iterator[None]:
        """Exclusive: no lease is held while the block runs (used by store.gc)."""
        with file_lock(self.root / GC_LOCK, shared=False):
            yield

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
