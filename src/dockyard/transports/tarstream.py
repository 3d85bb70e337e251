"""Streaming tar for image archives: a writer that copies blobs with sendfile, a forward-only reader.

Neither side ever seeks, so both work on pipes (`dockyard save | ssh ... load`); the
reader understands ustar, PAX and GNU long names, which is what docker, podman and
skopeo write.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from dockyard.errors import InvalidArgument
from dockyard.image import tarreader
from dockyard.image.tarheader import (
    DIRTYPE,
    END_OF_ARCHIVE,
    REGTYPE,
    Entry,
    encode,
    padding,
)

COPY_CHUNK = 4 << 20
Progress = Callable[[int], None]


def _noop(_n: int) -> None:
    return None


class TarWriter:
    """Writes a tar to a binary stream; file bodies go through os.sendfile when both ends are fds."""

    def __init__(self, out: BinaryIO, progress: Progress | None = None) -> None:
        self._out = out
        self._progress = progress or _noop
        self._fd = _fileno(out)
        self.written = 0

    def _write(self, data: bytes) -> None:
        self._out.write(data)
        self.written += len(data)

    def add_dir(self, name: str, mtime: int = 0) -> None:
        self._write(encode(Entry(name.rstrip("/").encode() + b"/", DIRTYPE, mode=0o755, mtime=mtime)))

    def add_bytes(self, name: str, data: bytes, mtime: int = 0) -> None:
        self._write(encode(Entry(name.encode(), REGTYPE, size=len(data), mtime=mtime)))
        self._write(data + padding(len(data)))

    def add_file(self, name: str, src: BinaryIO, size: int, mtime: int = 0) -> None:
        """Add `size` bytes of `src` (read from its current position) as a regular file."""
        self._write(encode(Entry(name.encode(), REGTYPE, size=size, mtime=mtime)))
        copied = self._copy(src, size)
        if copied != size:
            raise InvalidArgument(
                f"{name}: expected {size} bytes, the source has {copied}",
                hint="the stored blob changed or is truncated; check the store",
            )
        self._write(padding(size))

    def _copy(self, src: BinaryIO, size: int) -> int:
        in_fd = _fileno(src)
        if self._fd is not None and in_fd is not None:
            self._out.flush()
            try:
                return self._sendfile(in_fd, size)
            except OSError as exc:
                if exc.errno not in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: copy by hand
                    raise
        left = size
        while left:
            chunk = src.read(min(COPY_CHUNK, left))
            if not chunk:
                break
            self._out.write(chunk)
            left -= len(chunk)
            self._progress(len(chunk))
        self.written += size - left
        return size - left

    def _sendfile(self, in_fd: int, size: int) -> int:
        assert self._fd is not None
        offset = os.lseek(in_fd, 0, os.SEEK_CUR)
        done = 0
        while done < size:
            n = os.sendfile(self._fd, in_fd, offset + done, min(size - done, 1 << 30))
            if n == 0:
                break
            done += n
            self._progress(n)
        self.written += done
        return done

    def close(self) -> None:
        """Write the end-of-archive blocks and flush (the stream stays open)."""
        self._write(END_OF_ARCHIVE)
        self._out.flush()


def _fileno(stream: object) -> int | None:
    try:
        fileno = getattr(stream, "fileno", None)
        return int(fileno()) if fileno is not None else None
    except (OSError, ValueError):
        return None


# -- reading --------------------------------------------------------------------------------


@dataclass
class Member:
    """One entry of an archive being read; `kind` is "file", "dir", "symlink", "hardlink" or "other"."""

    name: str
    kind: str
    size: int
    linkname: str = ""


def clean_name(name: str) -> str:
    """An archive path made relative and normal; InvalidArgument if it leaves the archive."""
    relative = tarreader.relative_name(name)
    if relative is None:
        raise InvalidArgument(
            f"archive entry {name!r} points outside the archive (absolute or '..' path)",
            hint="the archive is malformed or malicious; nothing was loaded",
        )
    cleaned = posixpath.normpath(relative) if relative else "."
    return "" if cleaned == "." else cleaned


_KINDS = {
    tarreader.REGULAR: "file",
    tarreader.DIRECTORY: "dir",
    tarreader.SYMLINK: "symlink",
    tarreader.HARDLINK: "hardlink",
}


class TarReader:
    """Reads an image archive from a non-seekable stream, one member at a time.

    The tar format itself is read by `dockyard.image.tarreader` (as layers are); this adds
    archive paths made relative and the errors a user of save/load should see. Iterate to get
    members; read a "file" member's body with `readinto_body` before asking for the next one
    (what is left is skipped).
    """

    def __init__(self, stream: BinaryIO) -> None:
        self._tar = tarreader.TarReader(stream)
        self.members = 0

    def __iter__(self) -> Iterator[Member]:
        entries = iter(self._tar)
        while True:
            try:
                entry = next(entries, None)
            except tarreader.TarFormatError as exc:
                raise self._error(exc) from exc
            if entry is None:
                return
            self.members += 1
            kind = _KINDS.get(entry.type, "other")
            yield Member(clean_name(entry.name), kind, entry.size if kind == "file" else 0,
                         entry.linkname)

    def readinto_body(self, view: memoryview) -> int:
        """Fill `view` with the next bytes of the current member's body (0 at its end)."""
        try:
            return self._tar.readinto(view)
        except tarreader.TarFormatError as exc:
            raise self._error(exc) from exc

    def _error(self, exc: tarreader.TarFormatError) -> InvalidArgument:
        if isinstance(exc, tarreader.TarTruncated):
            return InvalidArgument(
                "the archive is truncated (it ends in the middle of an entry)",
                hint="the file is incomplete; save or download it again; nothing was loaded",
            )
        if isinstance(exc, tarreader.TarSparse):
            return InvalidArgument(f"archive entry {exc.name!r} is a GNU sparse file",
                                   hint="write the archive without --sparse")
        if self.members == 0:
            return InvalidArgument(
                "the input is not a tar archive (nor a gzip, zstd, xz or bzip2 compressed one)",
                hint="give a file written by `docker save`, `podman save` or `skopeo copy`",
            )
        return InvalidArgument(
            f"the archive is corrupt after {self.members} entries ({exc})",
            hint="the file is damaged; save or download it again; nothing was loaded",
        )
