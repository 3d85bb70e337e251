"""A streaming tar reader for layers: ustar, GNU long names and PAX headers, a few times faster
than `tarfile` in stream mode (no per-block buffer joins), xattrs kept as raw bytes.

Reads headers and data strictly in order from any object with `read(n)`; a member's data
must be read (or is skipped) before the next header. Malformed input raises TarFormatError.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import unquote_to_bytes

BLOCK = 512
_ZERO = b"\0" * BLOCK
_META_MAX = 16 << 20  # PAX / GNU long-name payloads larger than this are refused
_HEADER = struct.Struct("100s8s8s8s12s12s8sc100s6s2s32s32s8s8s155s12x")

REGULAR = b"0"
HARDLINK = b"1"
SYMLINK = b"2"
CHAR = b"3"
BLOCKDEV = b"4"
DIRECTORY = b"5"
FIFO = b"6"
_REGULAR_TYPES = (b"0", b"\0", b"7")


class TarFormatError(Exception):
    """The stream is not a well-formed tar (or ends early)."""


class TarTruncated(TarFormatError):
    """The stream ends in the middle of a header, a member's data or its padding."""


class TarSparse(TarFormatError):
    """A GNU sparse member (`tar --sparse`), which no image tar may hold."""

    def __init__(self, name: str) -> None:
        super().__init__(f"sparse file {name!r} in a layer is not supported")
        self.name = name


def relative_name(name: str) -> str | None:
    """A member path without its leading "./"s; None if absolute or with a `..` component."""
    while name.startswith("./"):
        name = name[2:]
    if name.startswith("/") or ".." in name.split("/"):
        return None
    return name


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@dataclass
class Member:
    name: str
    type: bytes
    mode: int = 0
    uid: int = 0
    gid: int = 0
    size: int = 0
    mtime: int = 0
    linkname: str = ""
    devmajor: int = 0
    devminor: int = 0
    xattrs: dict[str, bytes] = field(default_factory=dict)

    def isreg(self) -> bool:
        return self.type == REGULAR

    def isdir(self) -> bool:
        return self.type == DIRECTORY

    def issym(self) -> bool:
        return self.type == SYMLINK

    def islnk(self) -> bool:
        return self.type == HARDLINK


def _number(field_: bytes) -> int:
    if field_ and field_[0] & 0x80:  # base-256 (GNU): big-endian, 0xff marks a negative number
        value = int.from_bytes(field_[1:], "big")
        return value - (1 << (8 * (len(field_) - 1))) if field_[0] == 0xFF else value
    text = field_.split(b"\0", 1)[0].strip()
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError as exc:
        raise TarFormatError(f"invalid number field {field_!r}") from exc


def _pax_records(data: bytes) -> dict[bytes, bytes]:
    records: dict[bytes, bytes] = {}
    pos = 0
    while pos < len(data):
        if data[pos] == 0:  # some writers pad the payload with NULs
            break
        space = data.find(b" ", pos)
        if space < 0:
            raise TarFormatError("malformed PAX record")
        try:
            length = int(data[pos:space])
        except ValueError as exc:
            raise TarFormatError("malformed PAX record length") from exc
        end = pos + length
        if length <= 0 or end > len(data) or data[end - 1 : end] != b"\n":
            raise TarFormatError("malformed PAX record")
        key, sep, value = data[space + 1 : end - 1].partition(b"=")
        if not sep:
            raise TarFormatError("malformed PAX record")
        records[key] = value
        pos = end
    return records


class TarReader:
    """Iterate over `Member`s of the tar in `stream`; read each one's data with `read()`."""

    def __init__(self, stream: Readable) -> None:
        self._stream = stream
        self._left = 0  # data bytes of the current member not read yet
        self._pad = 0  # padding after them
        self._global: dict[bytes, bytes] = {}

    def _exact(self, size: int) -> bytes:
        data = self._stream.read(size)
        while len(data) < size:
            more = self._stream.read(size - len(data))
            if not more:
                raise TarTruncated("unexpected end of data")
            data += more
        return data

    def read(self, size: int) -> bytes:
        """Up to `size` bytes of the current member's data (b"" once it is all read)."""
        size = min(size, self._left)
        if size <= 0:
            return b""
        data = self._stream.read(size)
        if not data:
            raise TarTruncated("unexpected end of data")
        self._left -= len(data)
        return data

    def readinto(self, view: memoryview) -> int:
        """Fill the start of `view` with the current member's next data bytes (0 once all read)."""
        size = min(len(view), self._left)
        if size <= 0:
            return 0
        readinto = getattr(self._stream, "readinto", None)
        if readinto is not None:
            n = int(readinto(view[:size]) or 0)
        else:
            data = self._stream.read(size)
            n = len(data)
            view[:n] = data
        if not n:
            raise TarTruncated("unexpected end of data")
        self._left -= n
        return n

    def _skip(self) -> None:
        while self._left:
            self.read(min(self._left, 1 << 20))
        if self._pad:
            self._exact(self._pad)
            self._pad = 0

    def _payload(self, size: int) -> bytes:
        if size > _META_MAX:
            raise TarFormatError(f"extended header of {size} bytes is too large")
        data = self._exact(size)
        if size % BLOCK:
            self._exact(BLOCK - size % BLOCK)
        return data

    def __iter__(self) -> Iterator[Member]:
        pax: dict[bytes, bytes] = {}
        long_name: bytes | None = None
        long_link: bytes | None = None
        while True:
            self._skip()
            block = self._stream.read(BLOCK)
            if not block or block == _ZERO:
                return  # end of archive (a missing end marker is tolerated, as Go does)
            if len(block) < BLOCK:
                block += self._exact(BLOCK - len(block))
            fields = _HEADER.unpack(block)
            (name, mode, uid, gid, size, mtime, chksum, typeflag, linkname, magic, _version,
             _uname, _gname, devmajor, devminor, prefix) = fields
            try:
                expected = _number(chksum)
            except TarFormatError:
                expected = -1
            if expected != sum(block[:148]) + 256 + sum(block[156:]) and expected != _signed_sum(
                block
            ):
                raise TarFormatError("invalid header checksum (not a tar, or corrupt)")
            length = _number(size)
            if typeflag in (b"x", b"g"):
                records = _pax_records(self._payload(length))
                (pax if typeflag == b"x" else self._global).update(records)
                continue
            if typeflag == b"L":
                long_name = self._payload(length).rstrip(b"\0")
                continue
            if typeflag == b"K":
                long_link = self._payload(length).rstrip(b"\0")
                continue
            merged = {**self._global, **pax} if self._global else pax
            raw_name = name.split(b"\0", 1)[0]
            if magic == b"ustar\0" and prefix[0:1] != b"\0":
                raw_name = prefix.split(b"\0", 1)[0] + b"/" + raw_name
            raw_name = merged.get(b"path", long_name or raw_name)
            raw_link = merged.get(b"linkpath", long_link or linkname.split(b"\0", 1)[0])
            kind = REGULAR if typeflag in _REGULAR_TYPES else typeflag
            if kind == REGULAR and raw_name.endswith(b"/"):
                kind = DIRECTORY
            if b"GNU.sparse.map" in merged or b"GNU.sparse.major" in merged or kind == b"S":
                raise TarSparse(raw_name.decode("utf-8", "surrogateescape"))
            member = Member(
                name=raw_name.decode("utf-8", "surrogateescape"),
                type=kind,
                mode=_number(mode),
                uid=int(merged[b"uid"]) if b"uid" in merged else _number(uid),
                gid=int(merged[b"gid"]) if b"gid" in merged else _number(gid),
                size=int(merged[b"size"]) if b"size" in merged else length,
                mtime=int(float(merged[b"mtime"])) if b"mtime" in merged else _number(mtime),
                linkname=raw_link.decode("utf-8", "surrogateescape"),
                devmajor=_number(devmajor),
                devminor=_number(devminor),
                xattrs=_xattrs(merged),
            )
            if member.size < 0:
                raise TarFormatError(f"negative size for {member.name!r}")
            pax, long_name, long_link = {}, None, None
            has_data = kind not in (HARDLINK, SYMLINK, CHAR, BLOCKDEV, DIRECTORY, FIFO)
            self._left = member.size if has_data else 0
            self._pad = -self._left % BLOCK
            yield member


def _signed_sum(block: bytes) -> int:
    return sum(b - 256 if b > 127 else b for b in block[:148]) + 256 + sum(
        b - 256 if b > 127 else b for b in block[156:]
    )


def _xattrs(records: dict[bytes, bytes]) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for key, value in records.items():
        if key.startswith(b"SCHILY.xattr."):
            found[key[13:].decode("utf-8", "surrogateescape")] = value
        elif key.startswith(b"LIBARCHIVE.xattr."):  # name URL-encoded, value base64
            try:
                name = unquote_to_bytes(key[17:]).decode("utf-8", "surrogateescape")
                found[name] = base64.b64decode(value + b"=" * (-len(value) % 4))
            except ValueError as exc:
                raise TarFormatError("malformed LIBARCHIVE.xattr record") from exc
    return found
