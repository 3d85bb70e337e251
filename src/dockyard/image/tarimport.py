"""Store a rootfs tarball as one uncompressed layer blob, checking every path as it streams."""

from __future__ import annotations

import lzma
import posixpath
from typing import BinaryIO

from zstandard import ZstdError

from dockyard.errors import InvalidArgument
from dockyard.image.compression import open_archive
from dockyard.image.tarreader import Member, TarFormatError, TarReader, relative_name
from dockyard.store.content import CHUNK, ContentStore, ContentWriter


class _Tee:
    """A read-only stream that copies every byte read from `inner` into a blob writer."""

    def __init__(self, inner: BinaryIO, sink: ContentWriter) -> None:
        self._inner = inner
        self._sink = sink

    def read(self, n: int = -1) -> bytes:
        data = self._inner.read(n)
        if data:
            self._sink.write(data)
        return data


def check_member_path(name: str, what: str = "entry") -> None:
    """Refuse an absolute path or one with a `..` component (it would escape the rootfs)."""
    if relative_name(name) is None:
        raise InvalidArgument(
            f"tar {what} {name!r} leaves the root filesystem (absolute or '..' path)",
            hint="make the tarball with paths relative to its root; nothing was stored",
        )


def _check_member(member: Member) -> None:
    check_member_path(member.name)
    if member.islnk():
        check_member_path(member.linkname, f"hard link target of {member.name!r}")
        target = posixpath.normpath(member.linkname.lstrip("./") or ".")
        if target == ".":
            raise InvalidArgument(f"tar hard link {member.name!r} points at the root")


def ingest_rootfs_tar(content: ContentStore, stream: BinaryIO) -> tuple[str, int]:
    """Normalize `stream` to an uncompressed tar blob in the content store: (digest, size).

    Every entry is checked while the bytes stream through; a bad or truncated tarball
    raises InvalidArgument and leaves nothing in the store.
    """
    plain = open_archive(stream)
    with content.writer() as writer:
        tee = _Tee(plain, writer)
        try:
            count = 0
            for member in TarReader(tee):
                _check_member(member)
                count += 1
            while tee.read(CHUNK):
                pass
        except (TarFormatError, EOFError, OSError, lzma.LZMAError, ValueError, ZstdError) as exc:
            raise InvalidArgument(
                f"not a valid tar archive: {exc}",
                hint="give a tarball (plain, gzip, zstd, xz or bzip2); nothing was stored",
            ) from exc
        if count == 0 and writer.size == 0:
            raise InvalidArgument("the tarball is empty", hint="nothing was stored")
        digest = writer.commit()
        return digest, writer.size
