"""Content-addressed blobs: written under ingest/, verified, then renamed into blobs/sha256/."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO, cast

from dockyard.errors import InvalidArgument, NotFound
from dockyard.store.db import Database, register_schema
from dockyard.store.locking import try_lock_fd

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

CHUNK = 1 << 20
_HEX = frozenset("0123456789abcdef")
COMPRESSIONS = ("gzip", "zstd")
INGEST_BUFFER = 1 << 20
WRITEBACK_STEP = 8 << 20
_SYNC_FILE_RANGE_WRITE = 2

register_schema(
    "content",
    """
    CREATE TABLE IF NOT EXISTS blob_variants (
        uncompressed TEXT NOT NULL,
        compression TEXT NOT NULL,
        digest TEXT NOT NULL,
        size INTEGER NOT NULL,
        PRIMARY KEY (uncompressed, compression)
    );
    CREATE INDEX IF NOT EXISTS blob_variants_digest ON blob_variants(digest)
    """,
)


def check_digest(digest: str) -> str:
    """Return `digest` if it is a well-formed sha256 digest, else raise InvalidArgument."""
    if not (isinstance(digest, str) and len(digest) == 71 and digest.startswith("sha256:")
            and _HEX.issuperset(digest[7:])):  # (no regex: this runs for every blob path)
        raise InvalidArgument(
            f"invalid digest {digest!r}",
            hint='a digest is "sha256:" followed by 64 lowercase hex characters',
        )
    return digest


def temp_file(directory: Path, prefix: str, suffix: str = "") -> tuple[int, str]:
    """(fd, path) of a new file only this process can open, as tempfile.mkstemp (whose module
    and its imports cost ~8 ms: too much for a command that writes one small blob)."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    while True:
        name = os.path.join(directory, f"{prefix}{os.urandom(6).hex()}{suffix}")
        try:
            return os.open(name, flags, 0o600), name
        except FileExistsError:
            continue


def temp_dir(directory: Path, prefix: str) -> Path:
    """A new directory (mode 0700), as tempfile.mkdtemp."""
    while True:
        path = Path(directory, f"{prefix}{os.urandom(6).hex()}")
        try:
            os.mkdir(path, 0o700)
            return path
        except FileExistsError:
            continue


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_sync_file_range: Callable[[int, int, int, int], int] | None = None


def _start_writeback(fd: int, offset: int, length: int) -> None:
    """sync_file_range(SYNC_FILE_RANGE_WRITE): start writing these pages now, don't wait."""
    global _sync_file_range
    if _sync_file_range is None:
        try:
            import ctypes

            func = ctypes.CDLL(None, use_errno=True).sync_file_range
            func.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
            _sync_file_range = func
        except (OSError, AttributeError):  # not Linux/glibc: the final fsync does it all
            _sync_file_range = _no_writeback
    _sync_file_range(fd, offset, length, _SYNC_FILE_RANGE_WRITE)


def _no_writeback(fd: int, offset: int, length: int, flags: int) -> int:
    return 0


class _WritebackFile(io.RawIOBase):
    """Raw writes to `fd` that hand every WRITEBACK_STEP bytes to the disk at once.

    Without this, a big blob's pages stay dirty until the final fsync (the kernel starts
    background writeback only past a share of RAM), and that fsync then waits for all
    of it; started early, the disk writes while the producer is still hashing.

    With `drop_behind`, pages written out two steps ago also leave the page cache (a blob
    nobody reads soon, such as a pulled layer's compressed copy): the cache does not grow
    by the blob's size, and the next writes reuse those pages instead of new memory, which
    on a VM whose memory is backed on first touch costs a host page fault per page.
    """

    def __init__(self, fd: int, drop_behind: bool = False) -> None:
        self._fd = fd
        self.size = 0
        self._started = 0
        self.drop_behind = drop_behind
        self._dropped = 0

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def close(self) -> None:
        """Close the descriptor (this object owns it); closing twice does nothing."""
        if not self.closed:
            try:
                os.close(self._fd)
            finally:
                super().close()

    def write(self, data: ReadableBuffer, /) -> int:
        n = os.write(self._fd, data)
        self.size += n
        if self.size - self._started >= WRITEBACK_STEP:
            _start_writeback(self._fd, self._started, self.size - self._started)
            self._started = self.size
            if self.drop_behind:  # only clean pages go: written back since the step began
                written = self._started - 2 * WRITEBACK_STEP
                if written > self._dropped:
                    _drop_cache(self._fd, self._dropped, written - self._dropped)
                    self._dropped = written
        return n


def _drop_cache(fd: int, offset: int, length: int) -> None:
    """Ask the kernel to drop these (written) pages of `fd` from the page cache."""
    try:
        os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)
    except (OSError, AttributeError):  # a filesystem or platform without it: only a hint
        pass


class IngestFile:
    """A blob being written: a flock'ed file under ingest/ that `adopt()` puts in place.

    The one implementation of "put a blob in place": write, fsync, then rename to
    blobs/sha256/<hex> (and fsync the directory) once the digest is known. The lock keeps
    garbage collection's ingest cleanup off it; a killed process leaves only an unlocked
    file there, never a blob. The caller computes the digest (ContentWriter hashes as it
    writes; a layer writer hashes its tar on its own thread), so the data is hashed once.
    """

    def __init__(self, store: ContentStore, prefix: str = "blob-", cache: bool = True) -> None:
        self._store = store
        fd, name = temp_file(store.ingest_dir, prefix, ".partial")
        try_lock_fd(fd)
        self.path = Path(name)
        self._raw: _WritebackFile | None = _WritebackFile(fd, drop_behind=not cache)
        self._file: io.BufferedWriter | None = io.BufferedWriter(self._raw, INGEST_BUFFER)
        self.size = 0
        self.digest: str | None = None

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._file is None or self._raw is None:
            raise ValueError("write to a closed ingest file")
        view = memoryview(data).cast("B")
        if view.nbytes >= INGEST_BUFFER:  # a big piece goes straight down: no copy into the buffer
            self._file.flush()
            n = view.nbytes
            while view:
                view = view[self._raw.write(view) :]
        else:
            n = self._file.write(data)
        self.size += n
        return n

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def adopt(self, digest: str, size: int | None = None) -> str:
        """Publish what was written as blob `digest` (the caller's hash of exactly these bytes).

        `size`, if given, is checked against what was written. If the blob is already
        present the file is dropped. Returns the digest.
        """
        if self.digest is not None:
            return self.digest
        if self._file is None or self._raw is None:
            raise ValueError("adopt of a discarded ingest file")
        check_digest(digest)
        self._file.flush()
        if size is not None and self.size != size:
            self.discard()
            raise InvalidArgument(
                f"blob {digest} has {self.size} bytes, expected {size}",
                hint="the source is corrupt or truncated; nothing was stored",
            )
        if self._store.publish(self._raw.fileno(), self.path, digest):
            if self._raw.drop_behind:  # fsynced: every page is clean now
                _drop_cache(self._raw.fileno(), 0, 0)
            self._close()
        else:
            self.discard()
        self.digest = digest
        return digest

    def _close(self) -> None:
        file, self._raw, self._file = self._file, None, None
        if file is not None:
            try:
                file.close()  # flushes, then closes the descriptor (even if the flush fails)
            except OSError:
                pass  # only on the way to discarding the file

    def discard(self) -> None:
        """Drop the partial blob (idempotent)."""
        if self._raw is not None:
            self._close()
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> IngestFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.digest is None:
            self.discard()


class ContentWriter:
    """Streams one blob into ingest/, hashing as it goes; `commit()` verifies and publishes it."""

    def __init__(
        self,
        store: ContentStore,
        expected: str | None,
        expected_size: int | None,
        cache: bool = True,
    ) -> None:
        self._expected = check_digest(expected) if expected is not None else None
        import hashlib

        self._expected_size = expected_size
        self._hash = hashlib.sha256()
        self.size = 0
        self._ingest = IngestFile(store, cache=cache)
        self.digest: str | None = None

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._ingest.write(data)
        self._hash.update(data)
        self.size += len(data)
        return len(data)

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        self._ingest.flush()

    def current_digest(self) -> str:
        """The digest of what has been written so far (hashed as it was written)."""
        return "sha256:" + self._hash.hexdigest()

    def copy_from(self, src: BinaryIO) -> None:
        """Write everything `src` yields, in chunks (memory stays flat)."""
        while chunk := src.read(CHUNK):
            self.write(chunk)

    def commit(self) -> str:
        """Verify the digest (and size), fsync and rename into blobs/; return the digest."""
        if self.digest is not None:
            return self.digest
        digest = self.current_digest()
        if self._expected is not None and digest != self._expected:
            self.discard()
            raise InvalidArgument(
                f"blob content does not match its digest: expected {self._expected}, got {digest}",
                hint="the source is corrupt or was changed in transit; nothing was stored",
            )
        self.digest = self._ingest.adopt(digest, self._expected_size)  # adopt checks the size
        return self.digest

    def discard(self) -> None:
        """Drop the partial blob (idempotent)."""
        self._ingest.discard()

    def __enter__(self) -> ContentWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.digest is None:
            self.discard()


class ContentStore:
    """Blobs under `<root>/blobs/sha256/<hex>`; compressed variants remembered in SQLite."""

    def __init__(self, root: Path, db: Database) -> None:
        self.root = root
        self.db = db
        self.blobs_dir = root / "blobs" / "sha256"
        self.ingest_dir = root / "ingest"
        self.blobs_dir.mkdir(parents=True, exist_ok=True)
        self.ingest_dir.mkdir(parents=True, exist_ok=True)

    # -- reading -------------------------------------------------------------------------
    def path(self, digest: str) -> Path:
        return self.blobs_dir / check_digest(digest).split(":", 1)[1]

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def size(self, digest: str) -> int:
        try:
            return self.path(digest).stat().st_size
        except FileNotFoundError as exc:
            raise NotFound(f"blob {digest} not found in the content store") from exc

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError as exc:
            raise NotFound(f"blob {digest} not found in the content store") from exc

    def read_bytes(self, digest: str) -> bytes:
        with self.open(digest) as f:
            return f.read()

    def list(self) -> list[str]:
        """Every blob digest present (order unspecified)."""
        return [
            "sha256:" + p.name
            for p in self.blobs_dir.iterdir()
            if len(p.name) == 64 and not p.name.startswith(".")
        ]

    # -- writing -------------------------------------------------------------------------
    def publish(self, fd: int, path: Path, digest: str) -> bool:
        """Put the finished file `path` (open as `fd`, content checked) in place as `digest`.

        It is fsynced, then renamed into blobs/ and the directory fsynced; False when the
        blob is already present (the caller then drops its file).
        """
        os.fsync(fd)
        target = self.path(digest)
        if target.exists():
            return False
        os.fchmod(fd, 0o644)
        os.rename(path, target)
        _fsync_dir(target.parent)
        return True

    def ingest(self, prefix: str = "blob-") -> IngestFile:
        """A new locked file under ingest/ for a producer that hashes what it writes itself."""
        return IngestFile(self, prefix)

    def writer(
        self, expected: str | None = None, expected_size: int | None = None, cache: bool = True
    ) -> ContentWriter:
        """A writer of one blob, verified against `expected` (and its size) at commit.
        `cache=False` for a blob that is not read again soon: its pages leave the page cache
        once they are on disk."""
        return ContentWriter(self, expected, expected_size, cache)

    def write_bytes(self, data: bytes, expected: str | None = None) -> str:
        if expected is not None and self.has(expected):
            import hashlib

            actual = "sha256:" + hashlib.sha256(data).hexdigest()
            if actual == expected:
                return expected
        with self.writer(expected) as w:
            w.write(data)
            return w.commit()

    def delete(self, digest: str) -> None:
        self.path(digest).unlink(missing_ok=True)
        with self.db.transaction() as conn:
            conn.execute(
                "DELETE FROM blob_variants WHERE uncompressed = ? OR digest = ?", (digest, digest)
            )

    def clean_ingest(self, older_than: float = 0.0) -> int:
        """Remove abandoned ingest files (not locked by a live writer); returns how many."""
        removed = 0
        now = time.time()
        for entry in self.ingest_dir.iterdir():
            try:
                if now - entry.stat().st_mtime < older_than:
                    continue
                fd = os.open(entry, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            try:
                if try_lock_fd(fd):
                    entry.unlink(missing_ok=True)
                    removed += 1
            finally:
                os.close(fd)
        return removed

    # -- compressed variants -------------------------------------------------------------
    def record_variant(self, uncompressed: str, compression: str, digest: str, size: int) -> None:
        """Remember that `digest` is `uncompressed` compressed with `compression`."""
        check_digest(uncompressed)
        check_digest(digest)
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO blob_variants(uncompressed, compression, digest, size)"
                " VALUES (?, ?, ?, ?)",
                (uncompressed, compression, digest, size),
            )

    def variant(self, uncompressed: str, compression: str) -> tuple[str, int] | None:
        """The remembered compressed variant (digest, size), if its blob is still present."""
        rows = self.db.query(
            "SELECT digest, size FROM blob_variants WHERE uncompressed = ? AND compression = ?",
            (uncompressed, compression),
        )
        if rows and self.has(rows[0]["digest"]):
            return rows[0]["digest"], int(rows[0]["size"])
        return None

    def uncompressed_of(self, digest: str) -> str | None:
        """The uncompressed blob whose remembered variant is `digest`, if any."""
        rows = self.db.query(
            "SELECT uncompressed FROM blob_variants WHERE digest = ?", (digest,)
        )
        return str(rows[0]["uncompressed"]) if rows else None

    def compressed(self, digest: str, compression: str = "gzip") -> tuple[str, int]:
        """The `compression` variant of blob `digest`, made once (gzip via isal, every core)."""
        if compression not in COMPRESSIONS:
            raise InvalidArgument(
                f"unsupported compression {compression!r}", hint="use gzip or zstd"
            )
        known = self.variant(digest, compression)
        if known is not None:
            return known
        import shutil

        with self.open(digest) as src, self.writer() as w:
            if compression == "gzip":
                from isal import igzip_threaded

                threads = os.cpu_count() or 1
                with igzip_threaded.open(cast(BinaryIO, w), "wb", threads=threads) as gz:
                    shutil.copyfileobj(src, gz, CHUNK)
            else:
                import zstandard

                cctx = zstandard.ZstdCompressor(level=3, threads=-1)
                with cctx.stream_writer(cast(BinaryIO, w), closefd=False) as zw:
                    shutil.copyfileobj(src, zw, CHUNK)
            out = w.commit()
            size = w.size
        self.record_variant(digest, compression, out, size)
        return out, size
