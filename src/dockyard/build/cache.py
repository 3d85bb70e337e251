"""The build cache's upkeep: prune (`builder prune`, `image prune`), usage, GC roots.

Lookups and records (step_key, BuildCache, link) live in build/stepcache.py, which a build
imports without the garbage collector; they are re-exported here. Importing this module
registers the cache's records as GC roots (engine/images.py does before collecting).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from dockyard.build.stepcache import CACHE_VERSION, BuildCache, link, step_key
from dockyard.image import chain_ids
from dockyard.store import gc

if TYPE_CHECKING:
    from dockyard.store import Store

__all__ = ["CACHE_VERSION", "BuildCache", "drop_dangling", "link", "prune", "prune_for_images",
           "step_key", "usage"]  # fmt: skip


def drop_dangling(store: Store) -> int:
    """Drop the records `image prune` counts as dangling: those whose step image is no longer
    complete in the content store, and those linked only to built images that are gone from
    the index (records never linked, e.g. of a failed build, stay until `builder prune`)."""
    from dockyard.build import replay

    store.db.ensure()
    content = store.content
    doomed = [
        row["key"]
        for row in store.db.query("SELECT key, image_id, manifest_digest, layers FROM build_cache")
        if not all(content.has(d) for d in
                   [row["image_id"], row["manifest_digest"], *json.loads(row["layers"])])
    ]  # fmt: skip
    gone = "result NOT IN (SELECT id FROM images)"
    with store.db.transaction() as conn:
        orphans = [r[0] for r in conn.execute(
            f"SELECT DISTINCT key FROM build_cache_results WHERE {gone}")]  # fmt: skip
        conn.execute(f"DELETE FROM build_cache_results WHERE {gone}")
        doomed += [k for k in orphans if conn.execute(
            "SELECT 1 FROM build_cache_results WHERE key = ? LIMIT 1", (k,)).fetchone() is None]
        dropped = 0
        for key in dict.fromkeys(doomed):
            dropped += conn.execute("DELETE FROM build_cache WHERE key = ?", (key,)).rowcount
            conn.execute("DELETE FROM build_cache_results WHERE key = ?", (key,))
    replay.forget_gone(store)
    return dropped


def prune_for_images(store: Store, *, all: bool) -> int:
    """The build cache's part of `image prune` (run after the images went, before GC): the
    dangling records, or with `all` (`image prune -a`) every record, as `builder prune -a`."""
    return prune(store, collect=False, mounts=False) if all else drop_dangling(store)


def prune(store: Store, *, older_than: float | None = None, collect: bool = True,
          mounts: bool = True) -> int:  # fmt: skip
    """Drop cache records (all, or those unused for `older_than` seconds); then collect blobs.
    Dropping all also removes the `RUN --mount=type=cache` directories (unless `mounts` is
    False) that no running build holds.

    Returns the number of records dropped. Blobs and snapshots still used by images stay.
    """
    from dockyard.build import replay

    store.db.ensure()
    with store.db.transaction() as conn:
        if older_than is None:
            cur = conn.execute("DELETE FROM build_cache")
            conn.execute("DELETE FROM build_cache_results")
        else:
            cur = conn.execute(
                "DELETE FROM build_cache WHERE last_used < ?", (time.time() - older_than,)
            )
        dropped = cur.rowcount
    replay.forget_all(store)  # a replay stands for a build that hit the cache everywhere
    if mounts and older_than is None:
        from dockyard.build import mount_cache

        mount_cache.prune(store)
    if collect:
        gc.collect(store)
    return int(dropped)


def usage(store: Store) -> tuple[int, int]:
    """(records, bytes of layer blobs the cache alone keeps)."""
    store.db.ensure()
    rows = store.db.query("SELECT layers FROM build_cache")
    layers: set[str] = set()
    for row in rows:
        layers.update(json.loads(row["layers"]))
    size = 0
    for digest in layers:
        if store.content.has(digest):
            size += store.content.size(digest)
    return len(rows), size


def _blob_roots(store: Store) -> Iterable[str]:
    store.db.ensure()
    for row in store.db.query("SELECT image_id, manifest_digest, layers FROM build_cache"):
        yield row["image_id"]
        yield row["manifest_digest"]
        yield from json.loads(row["layers"])


def _snapshot_roots(store: Store) -> Iterable[str]:
    store.db.ensure()
    for row in store.db.query("SELECT layers FROM build_cache"):
        yield from chain_ids(json.loads(row["layers"]))


gc.register_blob_roots("build-cache", _blob_roots)
gc.register_snapshot_roots("build-cache", _snapshot_roots)
