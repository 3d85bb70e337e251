"""Spool an image archive as it streams past: small files kept in memory, big ones in ingest/.

A tar on stdin cannot seek and its manifest may come after the blobs, so every file is
kept until the whole archive is read: big ones go straight into the content store's
ingest area (decompressed on the way, hashed once), nothing reaches `blobs/` until the
loader has checked the images and calls `commit_layer`. Leaving the `with` block without
committing discards every spooled file.
"""

from __future__ import annotations

import hashlib
import io
import os
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO, cast

from zstandard import ZstdError

from dockyard.errors import InvalidArgument
from dockyard.image.compression import _Prefixed, detect, open_uncompressed
from dockyard.transports.tarstream import COPY_CHUNK, Progress, TarReader, clean_name

if TYPE_CHECKING:
    from dockyard.store.content import ContentStore, ContentWriter

SMALL = 1 << 20  # files up to this size stay in memory ...
MEMORY_BUDGET = 48 << 20  # ... while they add up to less than this
_BLOB_RE = re.compile(r"^blobs/sha256/([a-f0-9]{64})$")
_METADATA = re.compile(r"^(manifest\.json|index\.json|oci-layout|repositories|[^/]+\.json|[^/]+/json)$")
_MAX_LINKS = 16


@dataclass
class SpooledFile:
    """One regular file of the archive: raw digest, and its uncompressed form."""

    name: str
    size: int
    digest: str  # sha256 of the bytes as stored in the archive
    compression: str  # "gzip", "zstd" or "none"
    data: bytes | None = None  # the raw bytes, for small files
    writer: ContentWriter | None = None  # the uncompressed bytes, for big files
    uncompressed_digest: str | None = None  # known for big files (or after `uncompressed()`)
    uncompressed_size: int = 0


class _BodyReader(io.RawIOBase):
    """The current tar member's body as a raw stream (reads go straight into the caller's buffer)."""

    def __init__(self, tar: TarReader) -> None:
        self._tar = tar

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        return self._tar.readinto_body(memoryview(buffer).cast("B"))


class Spool:
    """Every file and link of one archive, by normalized path."""

    def __init__(self, content: ContentStore, progress: Progress | None = None) -> None:
        self.content = content
        self.files: dict[str, SpooledFile] = {}
        self.links: dict[str, str] = {}  # path -> target path (symlinks and hard links)
        self.dirs: set[str] = set()
        self._memory = 0
        self._progress = progress

    # -- filling -------------------------------------------------------------------------
    def add_tar(self, stream: BinaryIO) -> None:
        """Read a whole (uncompressed) tar stream into the spool."""
        tar = TarReader(stream)
        for member in tar:
            if not member.name:
                continue
            if member.kind == "dir":
                self.dirs.add(member.name)
            elif member.kind == "symlink":
                base = posixpath.dirname(member.name)
                target = member.linkname
                if target.startswith("/"):
                    raise InvalidArgument(
                        f"archive entry {member.name!r} is a symlink to the absolute path {target!r}",
                        hint="the archive is malformed or malicious; nothing was loaded",
                    )
                self.links[member.name] = _link_target(member.name, base, target)
            elif member.kind == "hardlink":
                self.links[member.name] = clean_name(member.linkname)
            elif member.kind == "file":
                self._add_file(member.name, member.size, cast(BinaryIO, _BodyReader(tar)))
                if self._progress is not None:
                    self._progress(member.size)

    def add_directory(self, root: Path) -> None:
        """Read an OCI layout (or an unpacked docker archive) directory into the spool."""
        for dirpath, dirnames, filenames in os.walk(root):
            for entry in sorted(dirnames + filenames):
                path = Path(dirpath) / entry
                name = path.relative_to(root).as_posix()
                if path.is_symlink():
                    target = os.readlink(path)
                    if target.startswith("/"):
                        raise InvalidArgument(f"{path} is a symlink to an absolute path")
                    self.links[name] = _link_target(name, posixpath.dirname(name), target)
                elif path.is_dir():
                    self.dirs.add(name)
                elif path.is_file():
                    size = path.stat().st_size
                    with open(path, "rb", buffering=COPY_CHUNK) as f:
                        self._add_file(name, size, cast(BinaryIO, f))
                    if self._progress is not None:
                        self._progress(size)

    def _keep_in_memory(self, name: str, size: int) -> bool:
        if _METADATA.match(name) and size <= 64 * SMALL:
            return True
        return size <= SMALL and self._memory + size <= MEMORY_BUDGET

    def _add_file(self, name: str, size: int, body: BinaryIO) -> None:
        if name in self.files or name in self.links:
            raise InvalidArgument(f"the archive holds {name!r} twice", hint="nothing was loaded")
        if self._keep_in_memory(name, size):
            data = _read_all(body, size)
            self._memory += len(data)
            self.files[name] = SpooledFile(
                name, len(data), "sha256:" + hashlib.sha256(data).hexdigest(), detect(data[:4]),
                data=data,
            )
            return
        self.files[name] = self._spool_big(name, body)

    def _spool_big(self, name: str, body: BinaryIO) -> SpooledFile:
        buffer = memoryview(bytearray(COPY_CHUNK))
        n = _readinto(body, buffer)
        kind = detect(bytes(buffer[:4]))
        raw_hash = hashlib.sha256() if kind != "none" else None
        writer = self.content.writer()
        try:
            if raw_hash is None:  # plain: the writer's own hash is the raw digest too
                while n:
                    writer.write(buffer[:n])
                    n = _readinto(body, buffer)
            else:
                rest = cast(BinaryIO, _Prefixed(bytes(buffer[:n]), body))
                hashing = io.BufferedReader(_HashingRaw(rest, raw_hash), COPY_CHUNK)
                _, plain = open_uncompressed(cast(BinaryIO, hashing))
                while chunk := plain.read(COPY_CHUNK):
                    writer.write(chunk)
                while hashing.read(COPY_CHUNK):  # bytes after the compressed stream
                    pass
        except InvalidArgument:
            writer.discard()
            raise
        except (OSError, EOFError, ValueError, ZstdError) as exc:
            writer.discard()
            raise InvalidArgument(
                f"archive entry {name!r}: cannot decompress it ({exc})",
                hint="the layer is corrupt or truncated; nothing was loaded",
            ) from exc
        except BaseException:
            writer.discard()
            raise
        plain_digest = writer.current_digest()
        raw_digest = plain_digest if raw_hash is None else "sha256:" + raw_hash.hexdigest()
        return SpooledFile(name, 0, raw_digest, kind, writer=writer,
                           uncompressed_digest=plain_digest, uncompressed_size=writer.size)

    # -- reading ---------------------------------------------------------------------------
    def resolve(self, name: str, what: str = "file") -> SpooledFile:
        """The file at `name` (links followed inside the archive); InvalidArgument if missing."""
        path = clean_name(name)
        for _ in range(_MAX_LINKS):
            if path in self.files:
                found = self.files[path]
                self._check_blob_digest(found)
                return found
            if path not in self.links:
                break
            path = self.links[path]
        raise InvalidArgument(
            f"the archive has no {what} {name!r}",
            hint="the archive is incomplete or its manifest names a missing blob; nothing was loaded",
        )

    def has(self, name: str) -> bool:
        try:
            self.resolve(name)
        except InvalidArgument:
            return False
        return True

    def blob(self, digest: str, what: str = "blob") -> SpooledFile:
        """The file `blobs/<alg>/<hex>` of an OCI layout."""
        alg, _, hex_ = digest.partition(":")
        if alg != "sha256" or not re.fullmatch(r"[a-f0-9]{64}", hex_):
            raise InvalidArgument(f"unsupported or invalid digest {digest!r} in the archive")
        return self.resolve(f"blobs/sha256/{hex_}", f"{what} {digest}")

    def read_bytes(self, name: str, what: str = "file") -> bytes:
        """The raw bytes of a (small, JSON) file."""
        found = self.resolve(name, what)
        if found.data is not None:
            return found.data
        if found.compression != "none" or found.writer is None:
            raise InvalidArgument(f"archive entry {name!r} is compressed; expected a JSON document")
        digest = found.writer.commit()  # a big JSON document: keep it (it is content-addressed)
        return self.content.read_bytes(digest)

    @staticmethod
    def _check_blob_digest(found: SpooledFile) -> None:
        match = _BLOB_RE.match(found.name)
        if match and found.digest != "sha256:" + match.group(1):
            raise InvalidArgument(
                f"blob content does not match its digest: {found.name} holds {found.digest}",
                hint="the archive is corrupt; nothing was loaded",
            )

    def uncompressed(self, found: SpooledFile) -> tuple[str, int]:
        """(digest, size) of the uncompressed content of a file (small ones decompressed now)."""
        if found.uncompressed_digest is None:
            assert found.data is not None
            plain = _decompress_small(found)
            found.uncompressed_digest = "sha256:" + hashlib.sha256(plain).hexdigest()
            found.uncompressed_size = len(plain)
        return found.uncompressed_digest, found.uncompressed_size

    # -- finishing ---------------------------------------------------------------------------
    def commit_layer(self, found: SpooledFile, diff_id: str) -> tuple[str, int]:
        """Publish a layer's uncompressed bytes into blobs/ (its digest must equal `diff_id`)."""
        digest, size = self.uncompressed(found)
        if digest != diff_id:
            raise InvalidArgument(f"layer {found.name}: diff ID {digest} is not {diff_id}")
        if found.writer is not None:
            found.writer.commit()
        elif not self.content.has(digest):
            self.content.write_bytes(_decompress_small(found), expected=digest)
        return digest, size

    def discard(self) -> None:
        for found in self.files.values():
            if found.writer is not None:
                found.writer.discard()

    def __enter__(self) -> Spool:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.discard()


class _HashingRaw(io.RawIOBase):
    def __init__(self, inner: BinaryIO, hasher: hashlib._Hash) -> None:
        self._inner = inner
        self._hasher = hasher

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        readinto = getattr(self._inner, "readinto", None)
        if readinto is not None:
            n = int(readinto(view) or 0)
        else:
            data = self._inner.read(len(view))
            n = len(data)
            view[:n] = data
        if n:
            self._hasher.update(view[:n])
        return n


def _readinto(body: BinaryIO, buffer: memoryview) -> int:
    """Fill as much of `buffer` as one read gives (0 at the end)."""
    readinto = getattr(body, "readinto", None)
    if readinto is not None:
        return int(readinto(buffer) or 0)
    data = body.read(len(buffer))
    buffer[: len(data)] = data
    return len(data)


def _link_target(name: str, base: str, target: str) -> str:
    """Where a relative symlink inside the archive points; InvalidArgument if it leaves it."""
    joined = posixpath.normpath(posixpath.join(base, target))
    if joined == ".." or joined.startswith("../"):
        raise InvalidArgument(
            f"archive entry {name!r} is a symlink to {target!r}, outside the archive",
            hint="the archive is malformed or malicious; nothing was loaded",
        )
    return clean_name(joined)


def _read_all(body: BinaryIO, size: int) -> bytes:
    parts = []
    got = 0
    while got < size:
        chunk = body.read(size - got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    rest = body.read(1)
    if rest:  # a body longer than announced is a bug in the reader, never expected
        raise InvalidArgument("archive entry is longer than its header says")
    return b"".join(parts)


def _decompress_small(found: SpooledFile) -> bytes:
    assert found.data is not None
    if found.compression == "none":
        return found.data
    try:
        _, plain = open_uncompressed(io.BytesIO(found.data))
        return plain.read()
    except (OSError, EOFError, ValueError, ZstdError) as exc:
        raise InvalidArgument(
            f"archive entry {found.name!r}: cannot decompress it ({exc})",
            hint="the layer is corrupt or truncated; nothing was loaded",
        ) from exc
