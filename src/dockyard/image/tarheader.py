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
    if value < 0 or value >= _LIMITS[width]:
        return None
    return b"%0*o\0" % (width - 1, value)


_LIMITS = {8: 8**7, 12: 8**11}
_MAX7 = 8**7
_MAX11 = 8**11
_MAGIC = b"ustar\x0000"
_NAMES = bytes(64)  # uname, gname: always empty
_DEV0 = b"0000000\x000000000\x00"
_TAIL = bytes(167)  # prefix (155) and the block's last 12 bytes
# the checksum counts its own field as 8 spaces; the magic is in every header
_CHECKSUM_BASE = 8 * 32 + sum(_MAGIC)
_CHECKSUM_DEV0 = _CHECKSUM_BASE + sum(_DEV0)
_REST = _MAGIC + _NAMES + _DEV0 + _TAIL  # what follows the link name when there are no devices
_NOLINK_REST = bytes(100) + _REST


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
    """One ustar block; a number that does not fit its field is written as 0 (PAX carries it).

    Built from pieces rather than struct-packed, and the checksum summed over the pieces
    that are not constant: a layer of small files spends most of its time here.
    """
    if 0 <= uid < _MAX7 and 0 <= gid < _MAX7 and 0 <= size < _MAX11 and 0 <= mtime < _MAX11:
        numbers = b"%07o\0%07o\0%07o\0%011o\0%011o\0" % (mode, uid, gid, size, mtime)
    else:
        numbers = b"".join((
            b"%07o\0" % mode,
            _octal(uid, 8) or b"0000000\0",
            _octal(gid, 8) or b"0000000\0",
            _octal(size, 12) or b"00000000000\0",
            _octal(mtime, 12) or b"00000000000\0",
        ))
    if devmajor == 0 and devminor == 0:
        dev = _DEV0
    else:
        dev = (b"%07o\0" % devmajor if 0 <= devmajor < _MAX7 else b"0000000\0") + (
            b"%07o\0" % devminor if 0 <= devminor < _MAX7 else b"0000000\0"
        )
    name = name[:100]
    linkname = linkname[:100]
    checksum = _CHECKSUM_BASE + sum(name) + sum(numbers) + typeflag[0] + sum(linkname) + sum(dev)
    return b"".join((
        name.ljust(100, b"\0"),
        numbers,
        b"%06o\0 " % checksum,
        typeflag,
        linkname.ljust(100, b"\0"),
        _MAGIC,
        _NAMES,
        dev,
        _TAIL,
    ))


def header(
    name: bytes, typeflag: bytes, mode: int, uid: int, gid: int, size: int, mtime: int,
    linkname: bytes = b"",
) -> bytes:
    """The header block(s) of an entry without xattrs or device numbers: `encode` made cheap."""
    if (
        len(name) <= 100 and len(linkname) <= 100 and name.isascii() and linkname.isascii()
        and 0 <= uid < _MAX7 and 0 <= gid < _MAX7 and 0 <= size < _MAX11 and 0 <= mtime < _MAX11
    ):
        numbers = b"%07o\0%07o\0%07o\0%011o\0%011o\0" % (mode & 0o7777, uid, gid, size, mtime)
        checksum = _CHECKSUM_DEV0 + sum(name) + sum(numbers) + typeflag[0]
        if not linkname:
            return b"".join(
                (name.ljust(100, b"\0"), numbers, b"%06o\0 " % checksum, typeflag, _NOLINK_REST)
            )
        return b"".join((
            name.ljust(100, b"\0"), numbers, b"%06o\0 " % (checksum + sum(linkname)), typeflag,
            linkname.ljust(100, b"\0"), _REST,
        ))
    return encode(Entry(name, typeflag, mode, uid, gid, size, mtime, linkname))


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
