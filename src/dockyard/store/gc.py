"""Garbage collection: remove blobs and snapshots nothing refers to (mark from pluggable roots).

Roots: every image in the index (its manifests, config, layers and their compressed
variants) plus whatever other areas register (containers, build cache) through
`register_blob_roots` / `register_snapshot_roots`. GC holds the store's exclusive
GC lock, so a writer holding `Store.lease()` never loses blobs it has not recorded yet.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dockyard.errors import DockyardError, Unavailable
from dockyard.image import chain_ids
from dockyard.store.locking import file_lock

if TYPE_CHECKING:
    from dockyard.store import Store

log = logging.getLogger(__name__)

RootFn = Callable[["Store"], Iterable[str]]
_BLOB_ROOTS: dict[str, RootFn] = {}
_SNAPSHOT_ROOTS: dict[str, RootFn] = {}


def register_blob_roots(name: str, fn: RootFn) -> None:
    """Blobs `fn(store)` yields (digests) are kept. One function per area, by name."""
    _BLOB_ROOTS[name] = fn


def register_snapshot_roots(name: str, fn: RootFn) -> None:
    """Snapshots whose keys/chain IDs `fn(store)` yields are kept."""
    _SNAPSHOT_ROOTS[name] = fn


@dataclass
class GCResult:
    blobs_removed: list[str] = field(default_factory=list)
    snapshots_removed: list[str] = field(default_factory=list)
    bytes_freed: int = 0
    ingest_removed: int = 0


def _manifest_refs(store: Store, digest: str) -> list[str]:
    """The config and layer digests a stored manifest names (nothing if it is unreadable)."""
    try:
        doc = json.loads(store.content.read_bytes(digest))
    except (DockyardError, ValueError, OSError):
        return []
    refs = []
    if isinstance(doc, dict):
        for desc in [doc.get("config"), *(doc.get("layers") or []), *(doc.get("manifests") or [])]:
            if isinstance(desc, dict) and isinstance(desc.get("digest"), str):
                refs.append(desc["digest"])
    return refs


def image_blob_roots(store: Store) -> Iterable[str]:
    """Every blob an indexed image needs: manifests, configs, layers."""
    rows = store.db.query("SELECT digest, image_id FROM image_manifests")
    for row in rows:
        yield row["digest"]
        yield row["image_id"]
        yield from _manifest_refs(store, row["digest"])


def image_snapshot_roots(store: Store) -> Iterable[str]:
    """The chain IDs of every indexed image's layers."""
    for row in store.db.query("SELECT id FROM images"):
        try:
            config = json.loads(store.content.read_bytes(row["id"]))
            diff_ids = [str(d) for d in (config.get("rootfs") or {}).get("diff_ids") or []]
        except (DockyardError, ValueError, OSError, AttributeError):
            continue
        yield from chain_ids(diff_ids)


register_blob_roots("images", image_blob_roots)
register_snapshot_roots("images", image_snapshot_roots)


def _marked_blobs(store: Store) -> set[str]:
    keep: set[str] = set()
    for fn in _BLOB_ROOTS.values():
        keep.update(str(d) for d in fn(store))
    # a compressed variant lives as long as its uncompressed blob
    for row in store.db.query("SELECT uncompressed, digest FROM blob_variants"):
        if row["uncompressed"] in keep:
            keep.add(row["digest"])
    return keep


def _sweep_snapshots(store: Store, result: GCResult) -> None:
    snapshots = store.snapshots
    lister = getattr(snapshots, "list_committed", None) or getattr(snapshots, "list", None)
    remover = getattr(snapshots, "remove_committed", None) or getattr(snapshots, "remove", None)
    if lister is None or remover is None:
        return
    keep: set[str] = set()
    for fn in _SNAPSHOT_ROOTS.values():
        keep.update(str(k) for k in fn(store))
    for key in list(lister()):
        key = str(getattr(key, "chain_id", None) or getattr(key, "key", None) or key)
        if key not in keep and remover(key) is not False:
            result.snapshots_removed.append(key)


def collect(store: Store, *, blocking: bool = True, snapshots: bool = True) -> GCResult:
    """Remove unreferenced blobs (and snapshots); Unavailable if busy and not `blocking`."""
    result = GCResult()
    with file_lock(store.root / "gc.lock", shared=False, blocking=blocking):
        keep = _marked_blobs(store)
        for digest in store.content.list():
            if digest in keep:
                continue
            try:
                size = store.content.size(digest)
            except DockyardError:
                continue
            store.content.delete(digest)
            result.blobs_removed.append(digest)
            result.bytes_freed += size
        result.ingest_removed = store.content.clean_ingest(older_than=0)
        if snapshots:
            try:
                _sweep_snapshots(store, result)
            except ImportError:
                log.debug("no snapshotter yet: snapshots not collected")
    return result


def try_collect(store: Store) -> GCResult | None:
    """Collect now unless another process holds a lease or GC; None when skipped."""
    try:
        return collect(store, blocking=False)
    except Unavailable:
        return None
