"""Build cache lookups on the build path: step keys -> the image each step produced, in SQLite.

A key is a sha256 over the parent image ID, the expanded instruction, the build args it used
and, for COPY/ADD, the content digest of every source. A hit gives back the very image (same
config bytes, same created times), so an unchanged rebuild yields the same image ID.

Kept apart from build/cache.py (prune, usage, GC roots) so that a build does not import the
garbage collector; build/cache.py re-exports these names.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from dockyard.image import StoredImage
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
