"""What the store knows about layers' compressed forms in registries (Docker's distribution metadata).

A pull records "diff ID X is blob D (size, media type) in repository R of registry H";
a push then skips layers the target has, or mounts them from another repository of the
same registry, without compressing anything.
"""

from __future__ import annotations

from dockyard.records import FrozenRecord
from dockyard.store.db import Database, register_schema

register_schema(
    "registry_blobs",
    """
    CREATE TABLE IF NOT EXISTS registry_blob_sources (
        diff_id TEXT NOT NULL,
        digest TEXT NOT NULL,
        size INTEGER NOT NULL,
        media_type TEXT NOT NULL,
        registry TEXT NOT NULL,
        repository TEXT NOT NULL,
        PRIMARY KEY (diff_id, digest, registry, repository)
    );
    CREATE INDEX IF NOT EXISTS registry_blob_sources_digest ON registry_blob_sources(digest)
    """,
)


class BlobSource(FrozenRecord):
    """Layer `diff_id` is blob `digest` (size, media type) in `repository` of `registry`."""

    def __init__(
        self, diff_id: str, digest: str, size: int, media_type: str, registry: str, repository: str
    ) -> None:
        self.diff_id = diff_id
        self.digest = digest
        self.size = size
        self.media_type = media_type
        self.registry = registry
        self.repository = repository


def record(db: Database, src: BlobSource) -> None:
    with db.transaction() as conn:
        conn.execute(
            "INSERT OR REPLACE INTO registry_blob_sources(diff_id, digest, size, media_type,"
            " registry, repository) VALUES (?, ?, ?, ?, ?, ?)",
            (src.diff_id, src.digest, src.size, src.media_type, src.registry, src.repository),
        )


def sources(db: Database, diff_id: str, registry: str) -> list[BlobSource]:
    """Known blobs of `diff_id` in `registry`, most recently recorded last."""
    rows = db.query(
        "SELECT * FROM registry_blob_sources WHERE diff_id = ? AND registry = ? ORDER BY rowid",
        (diff_id, registry),
    )
    return [
        BlobSource(r["diff_id"], r["digest"], int(r["size"]), r["media_type"], r["registry"],
                   r["repository"])
        for r in rows
    ]


def forget(db: Database, digest: str, registry: str, repository: str) -> None:
    with db.transaction() as conn:
        conn.execute(
            "DELETE FROM registry_blob_sources WHERE digest = ? AND registry = ? AND repository = ?",
            (digest, registry, repository),
        )
