"""Snapshots: unpacked layers keyed by chain ID, stacked with overlayfs (or copied where it can't).

On disk every snapshot is `<root>/snapshots/<id>/fs` (+ `work` for an active overlay one),
`<id>` a short integer so that a mount's lowerdir list stays short; SQLite holds the rows
(key = chain ID for committed snapshots, the caller's key for active ones).
A directory is built under a temporary name and renamed to `<id>` inside the transaction
that inserts its row, so a crash never leaves a half snapshot that a row calls committed.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from dockyard.errors import AlreadyExists, Conflict, InvalidArgument, NotFound
from dockyard.records import FrozenRecord
from dockyard.smallhash import sha256  # small keys: no OpenSSL load (~4 ms) on `run`
from dockyard.store import mounts, unpack
from dockyard.store.content import temp_dir
from dockyard.store.db import register_schema
from dockyard.store.locking import file_lock, try_lock_fd

if TYPE_CHECKING:
    from dockyard.image import StoredImage
    from dockyard.image.layer import DiffResult, Sink
    from dockyard.store import Store

OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
DRIVERS = ("overlay", "copy")

register_schema(
    "snapshots",
    """
    CREATE TABLE IF NOT EXISTS snapshots (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL CHECK (kind IN ('committed', 'active')),
        parent TEXT REFERENCES snapshots(key),
        diff_id TEXT,
        size INTEGER NOT NULL DEFAULT 0,
        created REAL NOT NULL
    );
    CREATE INDEX IF NOT EXISTS snapshots_parent ON snapshots(parent);
    CREATE TABLE IF NOT EXISTS snapshot_settings (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )
    """,
)


def chain_id(parent: str | None, diff_id: str) -> str:
    """ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))."""
    if parent is None:
        return diff_id
    return "sha256:" + sha256(f"{parent} {diff_id}".encode()).hexdigest()


class LayerBlob(FrozenRecord):
    """A committed layer in the content store: uncompressed tar, digest == diff ID."""

    _fields = ("digest", "size", "media_type")
    digest: str
    size: int
    media_type: str

    def __init__(self, digest: str, size: int, media_type: str = OCI_LAYER) -> None:
        self._set(digest=digest, size=size, media_type=media_type)

    @property
    def diff_id(self) -> str:
        return self.digest


class Active(FrozenRecord):
    """A writable snapshot: `upper` takes the writes; `lowers` (top-most first) are read-only.

    With the copy driver `upper` holds the whole tree, `work` is None and `lowers` is empty.
    """

    _fields = ("key", "parent", "upper", "work", "lowers")
    key: str
    parent: str | None
    upper: Path
    work: Path | None
    lowers: list[Path]

    def __init__(self, key: str, parent: str | None, upper: Path, work: Path | None,
                 lowers: list[Path]) -> None:  # fmt: skip
        self._set(key=key, parent=parent, upper=upper, work=work, lowers=lowers)


class SnapshotInfo(FrozenRecord):
    _fields = ("key", "kind", "parent", "size", "path")
    key: str
    kind: str
    parent: str | None
    size: int
    path: Path

    def __init__(self, key: str, kind: str, parent: str | None, size: int, path: Path) -> None:
        self._set(key=key, kind=kind, parent=parent, size=size, path=path)


class Snapshots:
    """prepare / mount / commit / remove, keyed by chain ID; see the module docstring."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db
        self.content = store.content
        self.dir = store.root / "snapshots"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.db.ensure()
        self.driver = self._choose_driver()
        self._clean_stale()

    # -- driver ---------------------------------------------------------------------------
    def _choose_driver(self) -> str:
        wanted = os.environ.get("DOCKYARD_SNAPSHOTTER", "").strip() or None
        if wanted is not None and wanted not in DRIVERS:
            raise InvalidArgument(
                f"unknown snapshotter {wanted!r} in DOCKYARD_SNAPSHOTTER",
                hint="use overlay or copy",
            )
        rows = self.db.query("SELECT value FROM snapshot_settings WHERE name = 'driver'")
        recorded = str(rows[0]["value"]) if rows else None
        if recorded is not None and (wanted is None or wanted == recorded):
            return recorded
        if recorded is not None and self.db.query("SELECT 1 FROM snapshots LIMIT 1"):
            raise InvalidArgument(
                f"this store's snapshots use the {recorded} driver, not {wanted}",
                hint="unset DOCKYARD_SNAPSHOTTER or use another --root",
            )
        if wanted is None:
            probe = temp_dir(self.dir, "probe-")
            wanted = "overlay" if mounts.overlay_works(probe) else "copy"
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO snapshot_settings(name, value) VALUES ('driver', ?)",
                (wanted,),
            )
        return wanted

    # -- queries --------------------------------------------------------------------------
    def _row(self, key: str) -> sqlite3.Row | None:
        rows = self.db.query("SELECT * FROM snapshots WHERE key = ?", (key,))
        return rows[0] if rows else None

    def need(self, key: str, kind: str | None = None) -> sqlite3.Row:
        row = self._row(key)
        if row is None or (kind is not None and row["kind"] != kind):
            what = {"committed": "layer snapshot", "active": "active snapshot"}.get(kind or "", "snapshot")
            raise NotFound(f"{what} {key} not found", hint="was it removed, or never unpacked?")
        return row

    def _fs(self, row: sqlite3.Row) -> Path:
        return self.dir / str(row["id"]) / "fs"

    def has(self, key: str) -> bool:
        row = self._row(key)
        return row is not None and row["kind"] == "committed"

    def path(self, key: str) -> Path:
        """The directory holding snapshot `key`'s files (its layer, or its upper if active)."""
        return self._fs(self.need(key))

    def entries(self) -> list[SnapshotInfo]:
        return [
            SnapshotInfo(r["key"], r["kind"], r["parent"], int(r["size"]), self._fs(r))
            for r in self.db.query("SELECT * FROM snapshots ORDER BY id")
        ]

    def list_committed(self) -> list[str]:
        """Chain IDs of every committed snapshot, children before their parents (for GC)."""
        rows = self.db.query("SELECT key FROM snapshots WHERE kind = 'committed' ORDER BY id DESC")
        return [str(r["key"]) for r in rows]

    def remove_committed(self, key: str) -> bool:
        """Remove committed snapshot `key` unless another snapshot builds on it (then False)."""
        if self.db.query("SELECT 1 FROM snapshots WHERE parent = ? LIMIT 1", (key,)):
            return False
        if not self.has(key):
            return False
        try:
            self.remove(key)
        except (Conflict, NotFound):
            return False
        return True

    def lowerdirs(self, chain: str | None) -> list[Path]:
        """The layer directories of committed snapshot `chain`, top-most first (overlay order).

        The copy driver keeps whole trees, so there it is just `chain`'s own directory.
        """
        if chain is None:
            return []
        self.need(chain, "committed")
        if self.driver == "copy":
            return [self.path(chain)]
        rows = self.db.query(
            """
            WITH RECURSIVE stack(id, parent, depth) AS (
                SELECT id, parent, 0 FROM snapshots WHERE key = ?
                UNION ALL
                SELECT s.id, s.parent, stack.depth + 1
                FROM snapshots s JOIN stack ON s.key = stack.parent
            )
            SELECT id FROM stack ORDER BY depth
            """,
            (chain,),
        )
        return [self.dir / str(r["id"]) / "fs" for r in rows]

    # -- unpacking (store/unpack.py) ----------------------------------------------------
    def ensure_unpacked(self, image: StoredImage) -> str | None:
        """Unpack each of `image`'s layers not unpacked yet; the top layer's chain ID."""
        return unpack.ensure_unpacked(self, image)

    def unpack(self, stream: BinaryIO, diff_id: str, parent: str | None) -> str:
        """Unpack one layer tar (any compression) on top of `parent`; its chain ID."""
        return unpack.unpack_layer(self, stream, diff_id, parent)

    def lock_path(self, key: str) -> Path:
        return self.dir / "locks" / (sha256(key.encode()).hexdigest()[:32] + ".lock")

    def tmp_dir(self, prefix: str, key: str) -> Path:
        tag = sha256(key.encode()).hexdigest()[:32]
        return temp_dir(self.dir, f"{prefix}{tag}-")

    def seed(self, fs: Path, parent: str | None) -> None:
        """An empty layer dir (overlay), or a copy of the parent's whole tree (copy driver)."""
        if self.driver == "copy" and parent is not None:
            _copy_tree(self.path(parent), fs)
        else:
            fs.mkdir(mode=0o755)
            os.chmod(fs, 0o755)

    def publish(
        self, tmp: Path, key: str, kind: str, parent: str | None, diff_id: str | None, size: int
    ) -> None:
        """Insert the row and rename `tmp` to `<id>` in one transaction."""
        try:
            with self.db.transaction() as conn:
                cur = conn.execute(
                    "INSERT INTO snapshots(key, kind, parent, diff_id, size, created)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (key, kind, parent, diff_id, size, time.time()),
                )
                final = self.dir / str(cur.lastrowid)
                if final.exists():  # left by a crash between rename and commit: no row owns it
                    rmtree(final)
                os.rename(tmp, final)
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" in str(exc):
                raise AlreadyExists(f"snapshot {key} already exists") from exc
            raise NotFound(f"parent snapshot {parent} not found") from exc

    # -- active snapshots -----------------------------------------------------------------
    def prepare(self, key: str, parent: str | None) -> Active:
        """A new writable snapshot `key` on top of committed snapshot `parent` (None: empty)."""
        if not key or key.startswith("sha256:"):
            raise InvalidArgument(f"invalid snapshot key {key!r}", hint="keys must not look like chain IDs")
        if parent is not None:
            self.need(parent, "committed")
        if self._row(key) is not None:
            raise AlreadyExists(f"snapshot {key} already exists", hint="remove it first")
        tmp = self.tmp_dir("prepare-", key)
        try:
            self.seed(tmp / "fs", parent)
            if self.driver == "copy":  # changes are what moved ctime past this marker's
                (tmp / "prepared").touch()
                time.sleep(0.02)
            else:
                (tmp / "work").mkdir()
                lowers = self.lowerdirs(parent)
                if lowers:
                    _copy_root_meta(lowers[0], tmp / "fs")
            self.publish(tmp, key, "active", parent, None, 0)
        except BaseException:
            rmtree(tmp)
            raise
        return self.active(key)

    def active(self, key: str) -> Active:
        row = self.need(key, "active")
        base = self.dir / str(row["id"])
        if self.driver == "copy":
            return Active(key, row["parent"], base / "fs", None, [])
        return Active(key, row["parent"], base / "fs", base / "work", self.lowerdirs(row["parent"]))

    def mount(self, key: str, target: Path, *, volatile: bool = False) -> None:
        """Mount snapshot `key` on `target`: writable if active, read-only if committed.

        `volatile` (build steps, issue 5): an active overlay snapshot is mounted with overlayfs'
        `volatile` option (no syncfs on unmount); mount it only once, then commit or remove it.
        """
        row = self.need(key)
        target.mkdir(parents=True, exist_ok=True)
        if self.driver == "copy":
            mounts.bind_mount(self._fs(row), target, readonly=row["kind"] == "committed")
            return
        if row["kind"] == "active":
            snap = self.active(key)
            lowers = snap.lowers or [self._empty()]
            mounts.mount_overlay(lowers, snap.upper, snap.work, target, self.dir, volatile)
        else:
            lowers = self.lowerdirs(key)
            if len(lowers) == 1:
                lowers.append(self._empty())
            mounts.mount_overlay(lowers, None, None, target, self.dir)

    def unmount(self, target: Path) -> None:
        mounts.unmount(target)

    def _empty(self) -> Path:
        empty = self.dir / "empty"
        empty.mkdir(mode=0o755, exist_ok=True)
        return empty

    def _check_unmounted(self, row: sqlite3.Row) -> None:
        upper = str(self._fs(row))
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
            if any(f"upperdir={upper}," in line or f"upperdir={upper}\n" in line for line in f):
                raise Conflict(
                    f"snapshot {row['key']} is still mounted", hint="unmount it first"
                )

    def commit(self, key: str, *, before_publish: Callable[[], None] | None = None) -> LayerBlob:
        """Write active snapshot `key`'s changes as a layer blob; the snapshot becomes that layer.

        `before_publish`, if given, runs after the blob is written and before the snapshot is
        recorded as committed (the build waits there for its upper dir to be on disk, synced
        while the blob was written).

        The upper directory itself becomes the committed snapshot of the new chain ID
        (no second unpack); if that chain is already unpacked the active one is dropped.
        Takes `store.lease()` while it works, so a concurrent GC never removes the new blob
        or snapshot mid-commit; the caller must hold its own lease until an image names the
        layer (build does: engine/build.py holds one around the whole build).
        """
        with self.store.lease():
            row = self.need(key, "active")
            if self.driver == "overlay":
                self._check_unmounted(row)
            parent = row["parent"]
            upper = self._fs(row)
            if self.driver == "overlay":
                from dockyard.image.layer import write_diff  # only commits need it (not `run`)

                result = self._write_blob(lambda out: write_diff(upper, out))
            else:
                from dockyard.image.treediff import write_tree_diff

                lower = self.path(parent) if parent is not None else None
                since = (self.dir / str(row["id"]) / "prepared").stat().st_ctime_ns
                result = self._write_blob(lambda out: write_tree_diff(lower, upper, out, since))
            if before_publish is not None:
                before_publish()
            digest = result.digest
            chain = chain_id(parent, digest)
            with file_lock(self.lock_path(chain)):
                if self.has(chain):
                    self.remove(key)
                else:
                    with self.db.transaction() as conn:
                        conn.execute(
                            "UPDATE snapshots SET key = ?, kind = 'committed', diff_id = ?,"
                            " size = ?, created = ? WHERE id = ?",
                            (chain, digest, result.size, time.time(), row["id"]),
                        )
                    _remove_work(self.dir / str(row["id"]) / "work")
        return LayerBlob(digest, result.size)

    def _write_blob(self, produce: Callable[[Sink], DiffResult]) -> DiffResult:
        """Write a layer tar straight into the content store, hashed once (by `produce`)."""
        with self.content.ingest(prefix="layer-") as ingest:
            result = produce(ingest)
            ingest.adopt(result.digest, result.size)
        return result

    def remove(self, key: str) -> None:
        """Remove snapshot `key` (active, or committed with no children)."""
        row = self.need(key)
        if row["kind"] == "active" and self.driver == "overlay":
            self._check_unmounted(row)
        trash = self.dir / f"deleted-{row['id']}-{os.getpid()}"
        try:
            with self.db.transaction() as conn:
                conn.execute("DELETE FROM snapshots WHERE id = ?", (row["id"],))
                os.rename(self.dir / str(row["id"]), trash)
        except sqlite3.IntegrityError as exc:
            raise Conflict(
                f"layer snapshot {key} is the parent of other snapshots",
                hint="remove the images or containers built on it first",
            ) from exc
        rmtree(trash)

    # -- housekeeping ---------------------------------------------------------------------
    def _clean_stale(self) -> None:
        """Remove what killed processes left: unpack/prepare temp dirs, deleted-* dirs."""
        for entry in os.scandir(self.dir):
            name = entry.name
            if name.startswith("deleted-"):
                rmtree(Path(entry.path))
            elif name.startswith("prepare-"):
                if time.time() - entry.stat(follow_symlinks=False).st_mtime > 3600:
                    rmtree(Path(entry.path))
            elif name.startswith("unpack-"):
                lock = self.dir / "locks" / (name.split("-")[1] + ".lock")
                if not lock.exists():
                    rmtree(Path(entry.path))
                    continue
                fd = os.open(lock, os.O_RDWR | os.O_CLOEXEC)
                try:
                    if try_lock_fd(fd):  # no live unpack holds it: the dir is abandoned
                        rmtree(Path(entry.path))
                finally:
                    os.close(fd)


def rmtree(path: Path) -> None:
    """`rm -rf --one-file-system` without a process: remove a tree bottom-up, never crossing
    into another mount (a directory on another device stays), errors ignored as rm -f does."""
    try:
        top = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(top.st_mode):
        with suppress(OSError):
            os.unlink(path)
        return
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return
    try:
        _clear_dir(fd, top.st_dev)
    finally:
        os.close(fd)
    with suppress(OSError):
        os.rmdir(path)


def _clear_dir(dirfd: int, dev: int) -> None:
    with os.scandir(dirfd) as it:
        entries = list(it)
    for entry in entries:
        try:
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                if st.st_dev != dev:
                    continue  # a mount point: left alone, as --one-file-system does
                fd = os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dirfd)
                try:
                    _clear_dir(fd, dev)
                finally:
                    os.close(fd)
                os.rmdir(entry.name, dir_fd=dirfd)
            else:
                os.unlink(entry.name, dir_fd=dirfd)
        except OSError:
            continue


def _remove_work(work: Path) -> None:
    """An overlay work dir: normally just an empty `work/work` (no `rm` process for that)."""
    try:
        with os.scandir(work) as it:
            for entry in it:
                os.rmdir(entry.path)
        os.rmdir(work)
    except FileNotFoundError:
        pass
    except OSError:  # leftovers of an interrupted copy-up
        rmtree(work)


def _copy_tree(source: Path, dest: Path) -> None:
    """Copy a whole tree keeping owners, modes, times, xattrs, hard links (cp -a)."""
    import subprocess

    proc = subprocess.run(
        ["cp", "-a", "--reflink=auto", "--", str(source), str(dest)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise InvalidArgument(f"cannot copy snapshot {source}: {proc.stderr.strip()}")


def _copy_root_meta(source: Path, dest: Path) -> None:
    st = source.lstat()
    os.chown(dest, st.st_uid, st.st_gid)
    os.chmod(dest, st.st_mode & 0o7777)
