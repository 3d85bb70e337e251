"""Deterministic PAX tar headers (what Go's archive/tar writes for Docker layers), built by hand.

Only the fields a layer needs: no uname/gname, integer-second mtimes, no atime/ctime;
anything that does not fit a ustar field (long or non-ASCII names, big ids or sizes,
xattrs) goes into a PAX extended header in front of the entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field

BLOCK = 512
REGTYPE = b"0"
LNKTYPE = b"1"
SYMTYPE = b"2"
CHRTYPE = b"3"
BLKTYPE = b"4"
DIRTYPE = b"5"
FIFOTYPE = b"6"
XHDTYPE = b"x"

END_OF_ARCHIVE = b"\0" * (2 * BLOCK)
_ZERO_BLOCK = b"\0" * BLOCK
_PAX_NAME = b"././@PaxHeader"


@dataclass
class Entry:
    """One tar entry's header fields; `name` is relative, directories end with '/'."""

    name: bytes
    type: bytes
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    size: int = 0
    mtime: int = 0
    linkname: bytes = b""
    devmajor: int = 0
    devminor: int = 0
    xattrs: dict[bytes, bytes] = field(default_factory=dict)


def padding(size: int) -> bytes:
    """The zero bytes that pad `size` bytes of data to a whole block."""
    return _ZERO_BLOCK[: -size % BLOCK]


def _octal(value: int, width: int) -> bytes | None:
    """`value` as a NUL-terminated zero-padded octal field, or None if it does not fit."""
    if value < 0:
        return None
    text = b"%0*o" % (width - 1, value)
    return text + b"\0" if len(text) == width - 1 else None


def _pax_record(key: bytes, value: bytes) -> bytes:
    body = b" " + key + b"=" + value + b"\n"
    length = len(body) + len(str(len(body)))
    if len(str(length)) != len(str(len(body))):
        length += 1
    return str(length).encode() + body


def _ustar(
    name: bytes,
    typeflag: bytes,
    mode: int,
    uid: int,
    gid: int,
    size: int,
    mtime: int,
    linkname: bytes,
    devmajor: int,
    devminor: int,
) -> bytes:
    def num(value: int, width: int) -> bytes:
        return _octal(value, width) or b"0" * (width - 1) + b"\0"

    head = b"".join(
        (
            name[:100].ljust(100, b"\0"),
            num(mode, 8),
            num(uid, 8),
            num(gid, 8),
            num(size, 12),
            num(mtime, 12),
            b" " * 8,
            typeflag,
            linkname[:100].ljust(100, b"\0"),
            b"ustar\x0000",
            b"\0" * 32,  # uname
            b"\0" * 32,  # gname
            num(devmajor, 8),
            num(devminor, 8),
            b"\0" * 155,
        )
    ).ljust(BLOCK, b"\0")
    checksum = b"%06o\0 " % sum(head)
    return head[:148] + checksum + head[156:]


def _fits_name(value: bytes) -> bool:
    return len(value) <= 100 and value.isascii()


def encode(entry: Entry) -> bytes:
    """The header block(s) of `entry`: an optional PAX extended header, then the ustar block."""
    records: list[bytes] = []
    if not _fits_name(entry.name):
        records.append(_pax_record(b"path", entry.name))
    if entry.linkname and not _fits_name(entry.linkname):
        records.append(_pax_record(b"linkpath", entry.linkname))
    for key, value, width in (
        (b"uid", entry.uid, 8),
        (b"gid", entry.gid, 8),
        (b"size", entry.size, 12),
        (b"mtime", entry.mtime, 12),
    ):
        if _octal(value, width) is None:
            records.append(_pax_record(key, str(value).encode()))
    for key in sorted(entry.xattrs):
        records.append(_pax_record(b"SCHILY.xattr." + key, entry.xattrs[key]))
    ustar = _ustar(
        entry.name,
        entry.type,
        entry.mode & 0o7777,
        entry.uid,
        entry.gid,
        entry.size,
        entry.mtime,
        entry.linkname,
        entry.devmajor,
        entry.devminor,
    )
    if not records:
        return ustar
    data = b"".join(records)
    pax = _ustar(_PAX_NAME, XHDTYPE, 0o644, 0, 0, len(data), 0, b"", 0, 0)
    return pax + data + padding(len(data)) + ustar
