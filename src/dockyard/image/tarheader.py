"""Deterministic PAX tar headers (what Go's archive/tar writes for Docker layers), built by hand.

Only the fields a layer needs: no uname/gname, integer-second mtimes, no atime/ctime;
anything that does not fit a ustar field (long or non-ASCII names, big ids or sizes,
xattrs) goes into a PAX extended header in front of the entry.
"""

from __future__ import annotations

import struct
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
    if value < 0 or value >= _LIMITS[width]:
        return None
    return b"%0*o\0" % (width - 1, value)


_LIMITS = {8: 8**7, 12: 8**11}
_USTAR = struct.Struct("100s8s8s8s12s12s8sc100s8s32s32s8s8s155s12x")


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
    head = _USTAR.pack(
        name[:100],
        b"%07o\0" % mode,
        _octal(uid, 8) or b"0000000\0",
        _octal(gid, 8) or b"0000000\0",
        _octal(size, 12) or b"00000000000\0",
        _octal(mtime, 12) or b"00000000000\0",
        b"        ",
        typeflag,
        linkname[:100],
        b"ustar\x0000",
        b"",
        b"",
        b"%07o\0" % devmajor if devmajor < 8**7 else b"0000000\0",
        b"%07o\0" % devminor if devminor < 8**7 else b"0000000\0",
        b"",
    )
    return head[:148] + b"%06o\0 " % sum(head) + head[156:]


def _fits_name(value: bytes) -> bool:
    return len(value) <= 100 and value.isascii()


def encode(entry: Entry) -> bytes:
    """The header block(s) of `entry`: an optional PAX extended header, then the ustar block."""
    if (
        not entry.xattrs
        and len(entry.name) <= 100
        and len(entry.linkname) <= 100
        and 0 <= entry.uid < 8**7
        and 0 <= entry.gid < 8**7
        and 0 <= entry.size < 8**11
        and 0 <= entry.mtime < 8**11
        and entry.name.isascii()
        and entry.linkname.isascii()
    ):  # the common case: one ustar block
        return _ustar(entry.name, entry.type, entry.mode & 0o7777, entry.uid, entry.gid,
                      entry.size, entry.mtime, entry.linkname, entry.devmajor, entry.devminor)
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
