"""Streaming tar for image archives: a writer that copies blobs with sendfile, a forward-only reader.

Neither side ever seeks, so both work on pipes (`dockyard save | ssh ... load`); the
reader understands ustar, PAX and GNU long names, which is what docker, podman and
skopeo write.
"""

from __future__ import annotations

import os
import posixpath
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from dockyard.errors import InvalidArgument
from dockyard.image.tarheader import (
    BLOCK,
    DIRTYPE,
    END_OF_ARCHIVE,
    REGTYPE,
    SYMTYPE,
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

    def add_symlink(self, name: str, target: str, mtime: int = 0) -> None:
        self._write(encode(Entry(name.encode(), SYMTYPE, mode=0o777, linkname=target.encode(),
                                 mtime=mtime)))

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
    raw = name
    while name.startswith("./"):
        name = name[2:]
    if name.startswith("/") or ".." in name.split("/"):
        raise InvalidArgument(
            f"archive entry {raw!r} points outside the archive (absolute or '..' path)",
            hint="the archive is malformed or malicious; nothing was loaded",
        )
    cleaned = posixpath.normpath(name) if name else "."
    return "" if cleaned == "." else cleaned


def _truncated() -> InvalidArgument:
    return InvalidArgument(
        "the archive is truncated (it ends in the middle of an entry)",
        hint="the file is incomplete; save or download it again; nothing was loaded",
    )


def _parse_pax(data: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        if space < 0:
            break
        try:
            length = int(data[pos:space])
        except ValueError as exc:
            raise InvalidArgument("the archive has a malformed PAX header") from exc
        if length <= 0:
            break
        record = data[space + 1 : pos + length - 1]
        key, _, value = record.partition(b"=")
        out[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return out


_KINDS = {
    tarfile.REGTYPE: "file",
    tarfile.AREGTYPE: "file",
    tarfile.CONTTYPE: "file",
    tarfile.DIRTYPE: "dir",
    tarfile.SYMTYPE: "symlink",
    tarfile.LNKTYPE: "hardlink",
}


class TarReader:
    """Reads a tar from a non-seekable stream, one member at a time.

    Iterate to get members; for a "file" member read its body with `read_into` /
    `read_all` before asking for the next one (what is left is skipped).
    """

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._left = 0  # body bytes of the current member not read yet
        self._pad = 0
        self.members = 0

    def _read_exact(self, n: int) -> bytes:
        data = self._stream.read(n)
        if len(data) == n:
            return data
        parts = [data]
        got = len(data)
        while got < n:
            more = self._stream.read(n - got)
            if not more:
                raise _truncated()
            parts.append(more)
            got += len(more)
        return b"".join(parts)

    def _skip_rest(self) -> None:
        while self._left:
            chunk = self._stream.read(min(self._left, COPY_CHUNK))
            if not chunk:
                raise _truncated()
            self._left -= len(chunk)
        if self._pad:
            self._read_exact(self._pad)
            self._pad = 0

    def read_chunks(self, chunk_size: int = COPY_CHUNK) -> Iterator[bytes]:
        """The rest of the current member's body, in chunks."""
        while self._left:
            chunk = self._stream.read(min(self._left, chunk_size))
            if not chunk:
                raise _truncated()
            self._left -= len(chunk)
            yield chunk
        if self._pad:
            self._read_exact(self._pad)
            self._pad = 0

    def read_body(self, n: int) -> bytes:
        """Up to `n` bytes of the current member's body (b"" at its end)."""
        if not self._left:
            if self._pad:
                self._read_exact(self._pad)
                self._pad = 0
            return b""
        chunk = self._stream.read(min(self._left, n))
        if not chunk:
            raise _truncated()
        self._left -= len(chunk)
        return chunk

    def readinto_body(self, view: memoryview) -> int:
        """Fill `view` with the next bytes of the current member's body (0 at its end)."""
        if not self._left:
            if self._pad:
                self._read_exact(self._pad)
                self._pad = 0
            return 0
        want = min(self._left, len(view))
        readinto = getattr(self._stream, "readinto", None)
        if readinto is not None:
            n = int(readinto(view[:want]) or 0)
        else:
            data = self._stream.read(want)
            n = len(data)
            view[:n] = data
        if n == 0:
            raise _truncated()
        self._left -= n
        return n

    def read_all(self) -> bytes:
        return b"".join(self.read_chunks())

    def _header(self) -> tarfile.TarInfo | None:
        """The next raw header (None at the end of the archive)."""
        block = self._stream.read(BLOCK)
        if len(block) < BLOCK:
            more = block
            while 0 < len(more) < BLOCK:
                extra = self._stream.read(BLOCK - len(more))
                if not extra:
                    break
                more += extra
            if len(more) == 0:
                return None
            if len(more) < BLOCK:
                raise _truncated()
            block = more
        if block == b"\0" * BLOCK:
            return None
        try:
            return tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        except tarfile.HeaderError as exc:
            if self.members == 0:
                raise InvalidArgument(
                    "the input is not a tar archive (nor a gzip, zstd, xz or bzip2 compressed one)",
                    hint="give a file written by `docker save`, `podman save` or `skopeo copy`",
                ) from exc
            raise InvalidArgument(
                f"the archive is corrupt after {self.members} entries ({exc})",
                hint="the file is damaged; save or download it again; nothing was loaded",
            ) from exc

    def __iter__(self) -> Iterator[Member]:
        pax: dict[str, str] = {}
        long_name: str | None = None
        long_link: str | None = None
        while True:
            self._skip_rest()
            info = self._header()
            if info is None:
                return
            size = int(pax.get("size", info.size))
            if size < 0:
                raise InvalidArgument("the archive has an entry with a negative size")
            self._left = size if info.type not in (tarfile.SYMTYPE, tarfile.LNKTYPE,
                                                   tarfile.DIRTYPE) else 0
            self._pad = -self._left % BLOCK
            if info.type == tarfile.XHDTYPE:
                pax.update(_parse_pax(self.read_all()))
                continue
            if info.type == tarfile.XGLTYPE:
                self.read_all()
                continue
            if info.type in (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK):
                text = self.read_all().rstrip(b"\0").decode("utf-8", "surrogateescape")
                if info.type == tarfile.GNUTYPE_LONGNAME:
                    long_name = text
                else:
                    long_link = text
                continue
            if info.type == tarfile.GNUTYPE_SPARSE:
                raise InvalidArgument(f"archive entry {info.name!r} is a GNU sparse file",
                                      hint="write the archive without --sparse")
            name = pax.get("path", long_name if long_name is not None else info.name)
            link = pax.get("linkpath", long_link if long_link is not None else info.linkname)
            pax, long_name, long_link = {}, None, None
            self.members += 1
            kind = _KINDS.get(info.type, "other")
            yield Member(clean_name(name), kind, self._left if kind == "file" else 0, link)
