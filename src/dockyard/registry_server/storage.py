"""The registry server's storage: verified blobs, upload sessions, manifests and tags in SQLite.

Layout under the server root (crash-safe: nothing is visible under a digest before it
is verified and renamed into place):
    blobs/sha256/<hex>     every blob and manifest, by digest (dockyard.store.content)
    uploads/<uuid>         bytes of upload sessions in progress
    registry.db            repositories' blob links, manifests, tags, upload sessions
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from dockyard.store.content import ContentStore
from dockyard.store.db import Database

_DDL = """
CREATE TABLE IF NOT EXISTS repo_blobs (
    repo TEXT NOT NULL, digest TEXT NOT NULL, PRIMARY KEY (repo, digest)
);
CREATE TABLE IF NOT EXISTS manifests (
    repo TEXT NOT NULL, digest TEXT NOT NULL, media_type TEXT NOT NULL, size INTEGER NOT NULL,
    subject TEXT, artifact_type TEXT, annotations TEXT, created REAL NOT NULL,
    PRIMARY KEY (repo, digest)
);
CREATE INDEX IF NOT EXISTS manifests_subject ON manifests(repo, subject);
CREATE TABLE IF NOT EXISTS tags (
    repo TEXT NOT NULL, tag TEXT NOT NULL, digest TEXT NOT NULL, PRIMARY KEY (repo, tag)
);
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY, repo TEXT NOT NULL, created REAL NOT NULL
);
"""

CHUNK = 1 << 20


@dataclass(frozen=True)
class ManifestRow:
    repo: str
    digest: str
    media_type: str
    size: int
    subject: str | None
    artifact_type: str | None
    annotations: str | None


class UploadState:
    """An upload in progress: its file and a running hash (rebuilt from the file if lost)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.hasher = hashlib.sha256()
        self.hashed = 0
        self.lock = threading.Lock()

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return -1

    def digest(self) -> str:
        """sha256 of the whole file (the running hash, caught up with whatever it missed)."""
        with open(self.path, "rb") as f:
            f.seek(self.hashed)
            while chunk := f.read(CHUNK):
                self.hasher.update(chunk)
                self.hashed += len(chunk)
        return "sha256:" + self.hasher.hexdigest()


class RegistryStorage:
    """Everything the server keeps, under one root directory."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).absolute()
        self.uploads_dir = self.root / "uploads"
        self.uploads_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(self.root / "registry.db")
        self.db.conn.executescript(_DDL)
        self.content = ContentStore(self.root, self.db)
        self._uploads: dict[str, UploadState] = {}
        self._lock = threading.Lock()

    # -- blobs -----------------------------------------------------------------------------
    def blob_in_repo(self, repo: str, digest: str) -> bool:
        if not self.content.has(digest):
            return False
        rows = self.db.query(
            "SELECT 1 FROM repo_blobs WHERE repo = ? AND digest = ?", (repo, digest)
        )
        return bool(rows)

    def blob_anywhere(self, digest: str) -> bool:
        return self.content.has(digest)

    def link_blob(self, repo: str, digest: str) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO repo_blobs(repo, digest) VALUES (?, ?)", (repo, digest)
            )

    def unlink_blob(self, repo: str, digest: str) -> bool:
        with self.db.transaction() as conn:
            cur = conn.execute(
                "DELETE FROM repo_blobs WHERE repo = ? AND digest = ?", (repo, digest)
            )
        return cur.rowcount > 0

    def open_blob(self, digest: str) -> BinaryIO:
        return self.content.open(digest)

    def blob_size(self, digest: str) -> int:
        return self.content.size(digest)

    # -- uploads ---------------------------------------------------------------------------
    def start_upload(self, repo: str) -> str:
        upload_id = str(uuid.uuid4())
        path = self.uploads_dir / upload_id
        path.touch()
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO uploads(id, repo, created) VALUES (?, ?, ?)",
                (upload_id, repo, time.time()),
            )
        return upload_id

    def upload(self, repo: str, upload_id: str) -> UploadState | None:
        """The session `upload_id` of `repo`, or None when unknown."""
        rows = self.db.query("SELECT repo FROM uploads WHERE id = ?", (upload_id,))
        if not rows or rows[0]["repo"] != repo:
            return None
        with self._lock:
            state = self._uploads.get(upload_id)
            if state is None:
                state = UploadState(self.uploads_dir / upload_id)
                self._uploads[upload_id] = state
        if state.size() < 0:
            return None
        return state

    def append(self, state: UploadState, data: bytes) -> None:
        """Append bytes to an upload (hashing them when the running hash is caught up)."""
        with open(state.path, "ab") as f:
            f.write(data)
        if state.hashed == state.size() - len(data):
            state.hasher.update(data)
            state.hashed += len(data)

    def finish_upload(self, repo: str, upload_id: str, state: UploadState, digest: str) -> bool:
        """Verify and publish the upload as `digest`; False (upload kept) if it does not match."""
        actual = state.digest()
        if actual != digest:
            return False
        with open(state.path, "rb") as f:
            published = self.content.publish(f.fileno(), state.path, digest)
        if not published:
            state.path.unlink(missing_ok=True)
        self.link_blob(repo, digest)
        self._forget_upload(upload_id)
        return True

    def cancel_upload(self, upload_id: str) -> None:
        (self.uploads_dir / upload_id).unlink(missing_ok=True)
        self._forget_upload(upload_id)

    def _forget_upload(self, upload_id: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))
        with self._lock:
            self._uploads.pop(upload_id, None)

    # -- manifests and tags ----------------------------------------------------------------
    def put_manifest(self, row: ManifestRow, data: bytes, tags: list[str]) -> None:
        self.content.write_bytes(data, expected=row.digest)
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO manifests(repo, digest, media_type, size, subject,"
                " artifact_type, annotations, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (row.repo, row.digest, row.media_type, row.size, row.subject,
                 row.artifact_type, row.annotations, time.time()),
            )
            for tag in tags:
                conn.execute(
                    "INSERT OR REPLACE INTO tags(repo, tag, digest) VALUES (?, ?, ?)",
                    (row.repo, tag, row.digest),
                )

    def manifest(self, repo: str, digest: str) -> ManifestRow | None:
        rows = self.db.query(
            "SELECT * FROM manifests WHERE repo = ? AND digest = ?", (repo, digest)
        )
        if not rows or not self.content.has(digest):
            return None
        return _row(rows[0])

    def tag_digest(self, repo: str, tag: str) -> str | None:
        rows = self.db.query("SELECT digest FROM tags WHERE repo = ? AND tag = ?", (repo, tag))
        return str(rows[0]["digest"]) if rows else None

    def delete_tag(self, repo: str, tag: str) -> bool:
        with self.db.transaction() as conn:
            cur = conn.execute("DELETE FROM tags WHERE repo = ? AND tag = ?", (repo, tag))
        return cur.rowcount > 0

    def delete_manifest(self, repo: str, digest: str) -> bool:
        with self.db.transaction() as conn:
            cur = conn.execute(
                "DELETE FROM manifests WHERE repo = ? AND digest = ?", (repo, digest)
            )
            conn.execute("DELETE FROM tags WHERE repo = ? AND digest = ?", (repo, digest))
        return cur.rowcount > 0

    def tags(self, repo: str) -> list[str]:
        return [
            r["tag"]
            for r in self.db.query("SELECT tag FROM tags WHERE repo = ? ORDER BY tag", (repo,))
        ]

    def repo_exists(self, repo: str) -> bool:
        return bool(
            self.db.query("SELECT 1 FROM manifests WHERE repo = ? LIMIT 1", (repo,))
            or self.db.query("SELECT 1 FROM repo_blobs WHERE repo = ? LIMIT 1", (repo,))
        )

    def repositories(self) -> list[str]:
        rows = self.db.query("SELECT DISTINCT repo FROM manifests ORDER BY repo")
        return [r["repo"] for r in rows]

    def referrers(self, repo: str, subject: str) -> list[ManifestRow]:
        rows = self.db.query(
            "SELECT * FROM manifests WHERE repo = ? AND subject = ? ORDER BY digest",
            (repo, subject),
        )
        return [_row(r) for r in rows]


def _row(r: sqlite3.Row) -> ManifestRow:
    get = r.__getitem__
    return ManifestRow(
        repo=get("repo"), digest=get("digest"), media_type=get("media_type"), size=get("size"),
        subject=get("subject"), artifact_type=get("artifact_type"),
        annotations=get("annotations"),
    )
