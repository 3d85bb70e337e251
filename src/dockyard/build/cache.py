"""The build cache: step keys -> the image each step produced, in SQLite; GC roots; prune.

A key is a sha256 over the parent image ID, the expanded instruction, the build args it used
and, for COPY/ADD, the content digest of every source. A hit gives back the very image (same
config bytes, same created times), so an unchanged rebuild yields the same image ID.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from dockyard.image import StoredImage, chain_ids
from dockyard.store import gc
from dockyard.store.db import register_schema
from dockyard.store.images import ImageRecord

if TYPE_CHECKING:
    from dockyard.store import Store

CACHE_VERSION = "dockyard-build-v1"

register_schema(
    "build_cache",
    """
    CREATE TABLE IF NOT EXISTS build_cache (
        key TEXT PRIMARY KEY,
        image_id TEXT NOT NULL,
        manifest_digest TEXT NOT NULL,
        layers TEXT NOT NULL DEFAULT '[]',
        created REAL NOT NULL,
        last_used REAL NOT NULL
    );
    CREATE INDEX IF NOT EXISTS build_cache_image ON build_cache(image_id);
    CREATE TABLE IF NOT EXISTS build_cache_results (
        key TEXT NOT NULL,
        result TEXT NOT NULL,
        PRIMARY KEY (key, result)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS build_cache_results_result ON build_cache_results(result)
    """,
)


def step_key(
    parent_id: str,
    instruction: str,
    details: Mapping[str, object] | None = None,
    used_args: Mapping[str, str] | None = None,
    sources: str = "",
) -> str:
    """The cache key of one step (hex sha256)."""
    doc = {
        "v": CACHE_VERSION,
        "parent": parent_id,
        "instruction": instruction,
        "details": details or {},
        "args": dict(sorted((used_args or {}).items())),
        "sources": sources,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


class BuildCache:
    """Lookups and records of step results for one store."""

    def __init__(self, store: Store, enabled: bool = True) -> None:
        self.store = store
        self.enabled = enabled
        self.db = store.db
        self.db.ensure()

    def get(self, key: str) -> StoredImage | None:
        """The image a step with this key produced, if it is still complete in the store."""
        if not self.enabled:
            return None
        rows = self.db.query(
            "SELECT image_id, manifest_digest, layers FROM build_cache WHERE key = ?", (key,)
        )
        if not rows:
            return None
        row = rows[0]
        content = self.store.content
        wanted = [row["image_id"], row["manifest_digest"], *json.loads(row["layers"])]
        if not all(content.has(d) for d in wanted):  # collected behind our back: a miss
            self.forget(key)
            return None
        record = ImageRecord(id=row["image_id"], manifest_digest=row["manifest_digest"])
        return StoredImage(self.store, record)

    def put(self, key: str, image: StoredImage) -> None:
        layers = json.dumps([str(d.digest) for d in image.layers])
        now = time.time()
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO build_cache(key, image_id, manifest_digest, layers,"
                " created, last_used) VALUES (?, ?, ?, ?, ?, ?)",
                (key, image.id, image.manifest_digest, layers, now, now),
            )

    def forget(self, key: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM build_cache WHERE key = ?", (key,))


def link(store: Store, keys: Iterable[str], result: str) -> None:
    """Remember that the steps `keys` made (or were reused for) the built image `result`."""
    rows = [(k, result) for k in dict.fromkeys(keys)]
    with store.db.transaction() as conn:
        conn.executemany(
            "INSERT OR IGNORE INTO build_cache_results(key, result) VALUES (?, ?)", rows
        )


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
    return prune(store, collect=False) if all else drop_dangling(store)


def prune(store: Store, *, older_than: float | None = None, collect: bool = True) -> int:
    """Drop cache records (all, or those unused for `older_than` seconds); then collect blobs.

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
