"""Layer tars: an overlay upper directory -> a deterministic layer tar, and a layer tar -> a tree.

`write_diff` turns overlay's on-disk form of a change set into the OCI layer form:
a 0/0 character device becomes `.wh.NAME`, an opaque directory gets `DIR/.wh..wh..opq`.
`apply_layer` (see `tarsafe`) does the reverse, confined to its target directory.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from dockyard.image import tarheader as th
from dockyard.image.tarsafe import ApplyResult, apply_tar

__all__ = ["DiffResult", "ApplyResult", "write_diff", "apply_layer", "WHITEOUT_PREFIX", "OPAQUE"]

WHITEOUT_PREFIX = b".wh."
OPAQUE = b".wh..wh..opq"
OPAQUE_XATTRS = (b"trusted.overlay.opaque", b"user.overlay.opaque")
_SKIP_XATTR_PREFIXES = (b"trusted.overlay.", b"user.overlay.")
COPY_CHUNK = 4 << 20
_PARALLEL_HASH_MIN = 256 << 10
_SMALL_FILE = 256 << 10


@dataclass(frozen=True)
class DiffResult:
    """What `write_diff` wrote: the tar's sha256 (the layer's diff ID) and its size in bytes."""

    digest: str
    size: int


class Sink(Protocol):
    """Where a layer tar goes: a binary file, a content-store writer, anything with write()."""

    def write(self, data: bytes | bytearray | memoryview, /) -> object: ...


class _HashingOut:
    """Writes to `out` and hashes everything written.

    Big chunks are hashed on a helper thread while `out.write` runs (hashlib and file
    writes both release the GIL), so hashing costs no wall time on a multi-core machine
    even when `out` hashes too (a content-store writer does).
    """

    def __init__(self, out: Sink, pool: ThreadPoolExecutor) -> None:
        self._out = out
        self._hash = hashlib.sha256()
        self._pool = pool
        self.size = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.size += len(data)
        if len(data) < _PARALLEL_HASH_MIN:
            self._hash.update(data)
            self._out.write(data)
            return
        pending = self._pool.submit(self._hash.update, data)
        try:
            self._out.write(data)
        finally:
            pending.result()  # the caller may reuse `data`'s buffer once we return

    def result(self) -> DiffResult:
        return DiffResult("sha256:" + self._hash.hexdigest(), self.size)


def _xattrs(path: bytes) -> dict[bytes, bytes]:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            return {}
        raise
    found: dict[bytes, bytes] = {}
    for name in names:
        key = os.fsencode(name)
        if key.startswith(_SKIP_XATTR_PREFIXES):
            continue
        try:
            found[key] = os.getxattr(path, name, follow_symlinks=False)
        except OSError as exc:
            if exc.errno not in (errno.ENODATA, errno.ENOTSUP, errno.EOPNOTSUPP):
                raise
    return found


def _is_opaque(path: bytes) -> bool:
    for name in OPAQUE_XATTRS:
        try:
            if os.getxattr(path, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


class _DiffWriter:
    def __init__(self, upper: bytes, out: _HashingOut) -> None:
        self.upper = upper
        self.out = out
        self.links: dict[tuple[int, int], bytes] = {}
        self.buffer = bytearray(COPY_CHUNK)

    def walk(self, rel: bytes) -> None:
        directory = os.path.join(self.upper, rel) if rel else self.upper
        with os.scandir(directory) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            name = rel + entry.name if not rel else rel + b"/" + entry.name
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                self.directory(name, entry.path, st)
                self.walk(name)
            else:
                self.other(name, entry.path, st)

    def header(self, entry: th.Entry) -> None:
        self.out.write(th.encode(entry))

    def base(self, name: bytes, path: bytes, st: os.stat_result, type_: bytes) -> th.Entry:
        return th.Entry(
            name=name,
            type=type_,
            mode=stat.S_IMODE(st.st_mode),
            uid=st.st_uid,
            gid=st.st_gid,
            mtime=int(st.st_mtime),
            xattrs=_xattrs(path),
        )

    def directory(self, name: bytes, path: bytes, st: os.stat_result) -> None:
        self.header(self.base(name + b"/", path, st, th.DIRTYPE))
        if _is_opaque(path):
            self.header(
                th.Entry(
                    name=name + b"/" + OPAQUE,
                    type=th.REGTYPE,
                    mode=stat.S_IMODE(st.st_mode),
                    uid=st.st_uid,
                    gid=st.st_gid,
                    mtime=int(st.st_mtime),
                )
            )

    def other(self, name: bytes, path: bytes, st: os.stat_result) -> None:
        mode = st.st_mode
        if stat.S_ISCHR(mode) and st.st_rdev == 0:
            head, _, base = name.rpartition(b"/")
            wh = (head + b"/" if head else b"") + WHITEOUT_PREFIX + base
            self.header(
                th.Entry(name=wh, type=th.REGTYPE, mode=0o600, uid=st.st_uid, gid=st.st_gid,
                         mtime=int(st.st_mtime))
            )
            return
        if stat.S_ISSOCK(mode):
            return  # sockets are not carried in layers (as Docker does)
        if stat.S_ISREG(mode):
            if st.st_nlink > 1:
                key = (st.st_dev, st.st_ino)
                first = self.links.get(key)
                if first is not None:
                    entry = self.base(name, path, st, th.LNKTYPE)
                    entry.linkname = first
                    self.header(entry)
                    return
                self.links[key] = name
            self.regular(name, path, st)
        elif stat.S_ISLNK(mode):
            entry = self.base(name, path, st, th.SYMTYPE)
            entry.linkname = os.readlink(path)
            self.header(entry)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            entry = self.base(name, path, st, th.CHRTYPE if stat.S_ISCHR(mode) else th.BLKTYPE)
            entry.devmajor, entry.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
            self.header(entry)
        elif stat.S_ISFIFO(mode):
            self.header(self.base(name, path, st, th.FIFOTYPE))

    def regular(self, name: bytes, path: bytes, st: os.stat_result) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            entry = self.base(name, path, st, th.REGTYPE)
            entry.size = size = st.st_size
            if size <= _SMALL_FILE:  # one write (and one hash update) for header, data, padding
                data = os.read(fd, size) if size else b""
                while len(data) < size:
                    more = os.read(fd, size - len(data))
                    data += more or bytes(size - len(data))  # shrank while read: keep the size
                self.out.write(th.encode(entry) + data + th.padding(size))
                return
            self.header(entry)
            remaining = size
            view = memoryview(self.buffer)
            while remaining > 0:
                n = os.readv(fd, [view[: min(remaining, COPY_CHUNK)]])
                if n == 0:  # the file shrank while we read it: keep the tar well formed
                    n = min(remaining, COPY_CHUNK)
                    view[:n] = bytes(n)
                self.out.write(view[:n])
                remaining -= n
            self.out.write(th.padding(size))
        finally:
            os.close(fd)


def write_diff(upper: Path, out: Sink) -> DiffResult:
    """Write the layer tar of overlay upper directory `upper` to `out`; return its digest and size.

    Deterministic: entries in per-directory byte order, PAX format, no user/group names,
    integer-second mtimes from the files, so the same tree always gives the same digest.
    Hard links inside the layer become tar hard links; sockets are skipped; xattrs are
    kept except overlay's own (`trusted.overlay.*`, `user.overlay.*`).
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="diff-hash") as pool:
        hashing = _HashingOut(out, pool)
        _DiffWriter(os.fsencode(upper), hashing).walk(b"")
        hashing.write(th.END_OF_ARCHIVE)
        return hashing.result()


def apply_layer(tar: BinaryIO, target: Path, *, overlay: bool = False) -> ApplyResult:
    """Unpack layer `tar` (gzip, zstd or plain, detected) into `target`, confined to it.

    With `overlay=True` whiteouts are stored in overlayfs' own form (a 0/0 character device
    for `.wh.NAME`, `trusted.overlay.opaque=y` for `.wh..wh..opq`), for a snapshot that is
    one layer of an overlay stack; otherwise they delete from the tree in `target`.
    Returns the diff ID (sha256 of the uncompressed tar) and sizes; a malformed, truncated
    or hostile tar raises InvalidArgument and may leave `target` half written.
    """
    return apply_tar(tar, target, overlay=overlay)
