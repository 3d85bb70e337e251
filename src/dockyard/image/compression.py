"""Detect how a layer or archive stream is compressed and read it uncompressed."""

from __future__ import annotations

import io
from typing import BinaryIO, cast

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
XZ_MAGIC = b"\xfd7zXZ\x00"
BZIP2_MAGIC = b"BZh"
CHUNK = 1 << 20


def detect(head: bytes) -> str:
    """"gzip", "zstd" or "none", from the first bytes of a stream."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "none"


class _Prefixed(io.RawIOBase):
    """A stream whose first bytes were already read: yields them, then the rest of `inner`."""

    def __init__(self, head: bytes, inner: BinaryIO) -> None:
        self._head = memoryview(head)
        self._inner = inner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        if self._head:
            n = min(len(view), len(self._head))
            view[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        readinto = getattr(self._inner, "readinto", None)
        if readinto is not None:
            return int(readinto(view) or 0)
        data = self._inner.read(len(view))
        view[: len(data)] = data
        return len(data)


def _peekable(stream: BinaryIO, size: int = 4) -> tuple[bytes, BinaryIO]:
    """The first `size` bytes of `stream`, and a stream that still yields them."""
    peek = getattr(stream, "peek", None)
    if peek is not None:
        head = bytes(peek(size)[:size])
        if len(head) >= size:
            return head, stream
    head = b""
    while len(head) < size:
        more = stream.read(size - len(head))
        if not more:
            break
        head += more
    return head, cast(BinaryIO, io.BufferedReader(_Prefixed(head, stream), CHUNK))


def open_uncompressed(stream: BinaryIO) -> tuple[str, BinaryIO]:
    """(compression, reader): a reader of the uncompressed bytes of `stream`.

    gzip is read with ISA-L (isal.igzip, same format as zlib, several times faster);
    zstd with zstandard (every frame, as multi-frame layers exist); anything else as is.
    Closing the reader does not close `stream`.
    """
    head, source = _peekable(stream)
    kind = detect(head)
    if kind == "gzip":
        from isal import igzip

        return kind, cast(BinaryIO, igzip.IGzipFile(fileobj=source, mode="rb"))
    if kind == "zstd":
        import zstandard

        reader = zstandard.ZstdDecompressor().stream_reader(
            source, read_size=CHUNK, read_across_frames=True, closefd=False
        )
        return kind, cast(BinaryIO, io.BufferedReader(cast(io.RawIOBase, reader), CHUNK))
    return kind, source


def open_archive(stream: BinaryIO) -> BinaryIO:
    """The uncompressed bytes of a plain, gzip, zstd, xz or bzip2 tarball (load, import).

    Layers are only ever gzip or zstd (`open_uncompressed`); whole archives may also be xz
    or bzip2, as `docker load` and `docker import` accept them.
    """
    head, source = _peekable(stream, 6)
    if head.startswith(XZ_MAGIC):
        import lzma

        return cast(BinaryIO, lzma.LZMAFile(source, "rb"))
    if head.startswith(BZIP2_MAGIC):
        import bz2

        return cast(BinaryIO, bz2.BZ2File(source, "rb"))
    return open_uncompressed(source)[1]
