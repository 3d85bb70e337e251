"""The image index: image IDs (config digests), their manifests, names and repo digests, in SQLite."""

from __future__ import annotations

import builtins
import sqlite3
import time

from dockyard.errors import InvalidArgument, NotFound
from dockyard.records import FrozenRecord
from dockyard.store.content import check_digest
from dockyard.store.db import Database, register_schema

register_schema(
    "images",
    """
    CREATE TABLE IF NOT EXISTS images (
        id TEXT PRIMARY KEY,
        manifest_digest TEXT NOT NULL,
        parent TEXT,
        created REAL NOT NULL
    );
    CREATE TABLE IF NOT EXISTS image_manifests (
        digest TEXT PRIMARY KEY,
        image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
    );
    CREATE INDEX IF NOT EXISTS image_manifests_image ON image_manifests(image_id);
    CREATE TABLE IF NOT EXISTS image_names (
        name TEXT PRIMARY KEY,
        manifest_digest TEXT NOT NULL REFERENCES image_manifests(digest) ON DELETE CASCADE,
        created REAL NOT NULL
    );
    CREATE INDEX IF NOT EXISTS image_names_manifest ON image_names(manifest_digest);
    CREATE TABLE IF NOT EXISTS image_repo_digests (
        ref TEXT PRIMARY KEY,
        image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
    )
    """,
)

_HEX = frozenset("0123456789abcdef")


def _hex_prefix(text: str) -> bool:
    """1 to 64 lowercase hex digits."""
    return 0 < len(text) <= 64 and _HEX.issuperset(text)


class ImageRecord(FrozenRecord):
    """One stored image: its ID (config digest), the manifest a lookup chose, and its names.

    A plain record, not a dataclass: this module is on the path of every command (a no-change
    build included), and `dataclasses` costs ~10 ms to import on these machines."""

    _fields = ("id", "manifest_digest", "names", "created", "repo_digests", "parent")
    id: str
    manifest_digest: str
    names: list[str]
    created: float
    repo_digests: list[str]
    parent: str | None

    def __init__(self, id: str, manifest_digest: str, names: list[str] | None = None,
                 created: float = 0.0, repo_digests: list[str] | None = None,
                 parent: str | None = None) -> None:  # fmt: skip
        self._set(id=id, manifest_digest=manifest_digest,
                  names=names if names is not None else [], created=created,
                  repo_digests=repo_digests if repo_digests is not None else [], parent=parent)

    @property
    def short_id(self) -> str:
        return self.id.split(":", 1)[1][:12]


class ParsedRef(FrozenRecord):
    """A user reference split the way the index needs it (normalized, docker.io/library/...)."""

    _fields = ("repository", "tag", "digest")
    repository: str
    tag: str | None
    digest: str | None

    def __init__(self, repository: str, tag: str | None, digest: str | None) -> None:
        self._set(repository=repository, tag=tag, digest=digest)

    @property
    def tagged(self) -> str | None:
        return f"{self.repository}:{self.tag}" if self.tag is not None else None


# `NAME[:TAG]` or `docker.io/library/NAME[:TAG]`, NAME one path component: the common case,
# read here without dockyard.reference (its import and regexes cost ~4 ms per command).
_SIMPLE_REF = (r"(?:docker\.io/library/)?([a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)"
               r"(?::([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?")  # fmt: skip


def simple_ref(ref: str) -> ParsedRef | None:
    """`ref` normalized as Docker does when it has the simple form above, else None (then
    dockyard.reference decides)."""
    import re  # (re caches the compiled pattern)

    match = re.fullmatch(_SIMPLE_REF, ref)
    if match is None or len(match.group(1)) > 200:
        return None
    return ParsedRef("docker.io/library/" + match.group(1), match.group(2) or "latest", None)


def parse_ref(ref: str) -> ParsedRef:
    """Normalize `ref` with dockyard.reference (docker's rules); InvalidArgument if invalid."""
    simple = simple_ref(ref)
    if simple is not None:
        return simple
    from dockyard import reference

    parsed = reference.parse_reference(ref, default_tag=False)
    if parsed.digest is not None:  # name:tag@digest: the digest decides, as in Docker
        return ParsedRef(parsed.name, parsed.tag, str(parsed.digest))
    return ParsedRef(parsed.name, parsed.tag or "latest", None)


def normalize_name(ref: str) -> str:
    """A tag name as stored: "docker.io/library/alpine:latest" (digests are refused)."""
    p = parse_ref(ref)
    if p.digest is not None:
        raise InvalidArgument(
            f"invalid tag {ref!r}: a name to tag with cannot contain a digest",
            hint="use repository:tag",
        )
    assert p.tagged is not None
    return p.tagged


class ImageIndex:
    """Names -> manifests -> image IDs. Every change is one SQLite transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- changes ---------------------------------------------------------------------------
    def add(
        self,
        manifest_digest: str,
        config_digest: str,
        names: list[str] | tuple[str, ...] = (),
        *,
        parent: str | None = None,
        repo_digests: list[str] | tuple[str, ...] = (),
    ) -> ImageRecord:
        """Record an image (its blobs must already be in the content store) and name it."""
        check_digest(manifest_digest)
        check_digest(config_digest)
        normalized = [normalize_name(n) for n in names]
        now = time.time()
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO images(id, manifest_digest, parent, created) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET manifest_digest = excluded.manifest_digest,"
                " parent = COALESCE(excluded.parent, images.parent)",
                (config_digest, manifest_digest, parent, now),
            )
            conn.execute(
                "INSERT INTO image_manifests(digest, image_id) VALUES (?, ?)"
                " ON CONFLICT(digest) DO UPDATE SET image_id = excluded.image_id",
                (manifest_digest, config_digest),
            )
            for name in normalized:
                self._set_name(conn, name, manifest_digest, now)
            for ref in repo_digests:
                conn.execute(
                    "INSERT OR REPLACE INTO image_repo_digests(ref, image_id) VALUES (?, ?)",
                    (ref, config_digest),
                )
        return self.get(config_digest, manifest_digest)

    @staticmethod
    def _set_name(conn: sqlite3.Connection, name: str, manifest_digest: str, now: float) -> None:
        conn.execute(
            "INSERT INTO image_names(name, manifest_digest, created) VALUES (?, ?, ?)"
            " ON CONFLICT(name) DO UPDATE SET manifest_digest = excluded.manifest_digest,"
            " created = excluded.created",
            (name, manifest_digest, now),
        )

    def tag(self, name: str, manifest_digest: str) -> str:
        """Point `name` at a stored manifest (moving it from any other image); returns the name."""
        normalized = normalize_name(name)
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT image_id FROM image_manifests WHERE digest = ?", (manifest_digest,)
            ).fetchone()
            if row is None:
                raise NotFound(f"manifest {manifest_digest} is not in the image index")
            self._set_name(conn, normalized, manifest_digest, time.time())
        return normalized

    def untag(self, name: str) -> str:
        """Remove one name; the image stays (dangling if it was its last). Returns the name."""
        normalized = normalize_name(name)
        with self.db.transaction() as conn:
            cur = conn.execute("DELETE FROM image_names WHERE name = ?", (normalized,))
            if cur.rowcount == 0:
                raise NotFound(f"No such image: {name}")
        return normalized

    def add_repo_digest(self, image_id: str, ref: str) -> None:
        """Remember `repo@sha256:...` (a registry's manifest digest) for an image."""
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO image_repo_digests(ref, image_id) VALUES (?, ?)",
                (ref, image_id),
            )

    def remove(self, image_id: str) -> None:
        """Forget an image, its manifests, names and repo digests (blobs are left to GC)."""
        with self.db.transaction() as conn:
            conn.execute(
                "DELETE FROM image_names WHERE manifest_digest IN"
                " (SELECT digest FROM image_manifests WHERE image_id = ?)",
                (image_id,),
            )
            conn.execute("DELETE FROM image_repo_digests WHERE image_id = ?", (image_id,))
            conn.execute("DELETE FROM image_manifests WHERE image_id = ?", (image_id,))
            cur = conn.execute("DELETE FROM images WHERE id = ?", (image_id,))
            conn.execute("UPDATE images SET parent = NULL WHERE parent = ?", (image_id,))
            if cur.rowcount == 0:
                raise NotFound(f"No such image: {image_id}")

    # -- queries ---------------------------------------------------------------------------
    def get(self, image_id: str, manifest_digest: str | None = None) -> ImageRecord:
        """The record of a full image ID (optionally viewed through one of its manifests)."""
        rows = self.db.query("SELECT * FROM images WHERE id = ?", (image_id,))
        if not rows:
            raise NotFound(f"No such image: {image_id}")
        return self._record(rows[0], manifest_digest)

    def _record(self, row: sqlite3.Row, manifest_digest: str | None = None) -> ImageRecord:
        image_id = row["id"]
        names = [
            r["name"]
            for r in self.db.query(
                "SELECT n.name FROM image_names n JOIN image_manifests m"
                " ON n.manifest_digest = m.digest WHERE m.image_id = ?"
                " ORDER BY n.created, n.name",
                (image_id,),
            )
        ]
        repo_digests = [
            r["ref"]
            for r in self.db.query(
                "SELECT ref FROM image_repo_digests WHERE image_id = ? ORDER BY ref", (image_id,)
            )
        ]
        return ImageRecord(
            id=image_id,
            manifest_digest=manifest_digest or row["manifest_digest"],
            names=names,
            created=float(row["created"]),
            repo_digests=repo_digests,
            parent=row["parent"],
        )

    def list(self) -> list[ImageRecord]:
        """Every image, newest first."""
        return [
            self._record(r) for r in self.db.query("SELECT * FROM images ORDER BY created DESC")
        ]

    def children(self, image_id: str) -> builtins.list[str]:
        return [r["id"] for r in self.db.query("SELECT id FROM images WHERE parent = ?", (image_id,))]

    def resolve(self, ref: str) -> ImageRecord:
        """Find an image by full or short ID, `name[:tag]` or `name@sha256:...` (docker's order)."""
        ref = ref.strip()
        if not ref:
            raise InvalidArgument("empty image reference", hint="give an image name or ID")
        if ref.startswith("sha256:"):
            return self._by_id(check_digest(ref), ref)
        if len(ref) == 64 and _hex_prefix(ref):
            return self._by_id("sha256:" + ref, ref)
        try:
            parsed: ParsedRef | None = parse_ref(ref)
        except InvalidArgument:
            if not _hex_prefix(ref):
                raise
            parsed = None
        if parsed is not None:
            found = self._by_name(parsed)
            if found is not None:
                return found
        if _hex_prefix(ref):
            return self._by_prefix(ref)
        raise NotFound(f"No such image: {_shown(parsed) if parsed else ref}")

    def _by_id(self, image_id: str, ref: str) -> ImageRecord:
        try:
            return self.get(image_id)
        except NotFound:
            raise NotFound(f"No such image: {ref}") from None

    def _by_name(self, parsed: ParsedRef) -> ImageRecord | None:
        if parsed.digest is not None:
            ref = f"{parsed.repository}@{parsed.digest}"
            rows = self.db.query("SELECT image_id FROM image_repo_digests WHERE ref = ?", (ref,))
            if rows:
                return self.get(rows[0]["image_id"], None)
            rows = self.db.query(
                "SELECT m.image_id FROM image_manifests m WHERE m.digest = ? AND EXISTS"
                " (SELECT 1 FROM image_names n JOIN image_manifests m2"
                "  ON n.manifest_digest = m2.digest"
                "  WHERE m2.image_id = m.image_id AND n.name LIKE ? ESCAPE '\\')",
                (parsed.digest, _like_escape(parsed.repository) + ":%"),
            )
            if rows:
                return self.get(rows[0]["image_id"], parsed.digest)
            return None
        rows = self.db.query(
            "SELECT n.manifest_digest, m.image_id FROM image_names n JOIN image_manifests m"
            " ON n.manifest_digest = m.digest WHERE n.name = ?",
            (parsed.tagged,),
        )
        if rows:
            return self.get(rows[0]["image_id"], rows[0]["manifest_digest"])
        return None

    def _by_prefix(self, prefix: str) -> ImageRecord:
        rows = self.db.query(
            "SELECT id FROM images WHERE id LIKE ? LIMIT 2", ("sha256:" + prefix + "%",)
        )
        if not rows:
            raise NotFound(f"No such image: {prefix}")
        if len(rows) > 1:
            raise InvalidArgument(
                f"image ID prefix {prefix!r} is ambiguous: it matches more than one image",
                hint="give more characters of the image ID",
            )
        return self.get(rows[0]["id"])


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _shown(parsed: ParsedRef) -> str:
    """Docker's spelling of a reference in messages: `alpine:latest`, `user/app@sha256:..`."""
    from dockyard import reference

    text = parsed.tagged or f"{parsed.repository}@{parsed.digest}"
    try:
        return reference.familiar(text)
    except InvalidArgument:
        return text
