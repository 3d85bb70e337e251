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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from dockyard.image import tarheader as th

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

    from dockyard.image.tarsafe import ApplyResult

def __getattr__(name: str) -> object:
    """`ApplyResult` stays importable from here; tarsafe is loaded only when asked for."""
    if name == "ApplyResult":
        from dockyard.image.tarsafe import ApplyResult

        return ApplyResult
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["DiffResult", "ApplyResult", "write_diff", "apply_layer", "WHITEOUT_PREFIX", "OPAQUE"]

WHITEOUT_PREFIX = b".wh."
OPAQUE = b".wh..wh..opq"
OPAQUE_XATTRS = (b"trusted.overlay.opaque", b"user.overlay.opaque")
_SKIP_XATTR_PREFIXES = (b"trusted.overlay.", b"user.overlay.")
COPY_CHUNK = 4 << 20
_PARALLEL_HASH_MIN = 256 << 10
_SMALL_FILE = 256 << 10
_BATCH = 1 << 20
_OPAQUE_NAMES = tuple(os.fsdecode(name) for name in OPAQUE_XATTRS)


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

    Big chunks are hashed on a helper thread (hashlib and file writes both release the
    GIL): `write` hands a chunk to it, writes it to `out` and returns without waiting,
    so hashing overlaps both the write and whatever the caller does next. The caller
    must leave a written buffer unchanged until its next `write` (or `result`) returns.
    """

    def __init__(self, out: Sink, pool: ThreadPoolExecutor | None = None) -> None:
        self._out = out
        self._hash = hashlib.sha256()
        self._pool = pool  # None: made on the first big chunk (a small layer needs no thread)
        self._own_pool = False
        self._pending: Future[None] | None = None
        self.size = 0

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.size += len(data)
        self._wait()  # one hash at a time, in order
        if len(data) < _PARALLEL_HASH_MIN:
            self._hash.update(data)
            self._out.write(data)
            return
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="diff-hash")
            self._own_pool = True
        self._pending = self._pool.submit(self._hash.update, data)
        try:
            self._out.write(data)
        except BaseException:
            self._wait()
            raise

    def close(self) -> None:
        """Wait for the last hash and stop the helper thread this object started, if any."""
        try:
            self._wait()
        finally:
            if self._own_pool and self._pool is not None:
                self._pool.shutdown()
                self._pool, self._own_pool = None, False

    def result(self) -> DiffResult:
        self._wait()
        return DiffResult("sha256:" + self._hash.hexdigest(), self.size)


def _xattrs(path: bytes | int, names: list[str]) -> dict[bytes, bytes]:
    """The xattrs in `names` (from listxattr) except overlay's own, read from `path` or an fd."""
    found: dict[bytes, bytes] = {}
    for name in names:
        key = os.fsencode(name)
        if key.startswith(_SKIP_XATTR_PREFIXES):
            continue
        try:
            found[key] = (
                os.getxattr(path, name) if isinstance(path, int)
                else os.getxattr(path, name, follow_symlinks=False)
            )
        except OSError as exc:
            if exc.errno not in (errno.ENODATA, errno.ENOTSUP, errno.EOPNOTSUPP):
                raise
    return found


def _list_xattrs(path: bytes | int) -> list[str]:
    try:
        if isinstance(path, int):
            return os.listxattr(path)
        return os.listxattr(path, follow_symlinks=False)
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            return []
        raise


def _is_opaque(path: bytes, names: list[str]) -> bool:
    for name in _OPAQUE_NAMES:
        if name in names:
            try:
                if os.getxattr(path, name, follow_symlinks=False) == b"y":
                    return True
            except OSError:
                continue
    return False


def _entry_name(entry: os.DirEntry[bytes]) -> bytes:
    return entry.name


class _DiffWriter:
    """Walks a tree in byte order and writes its entries; small ones are batched per ~1 MiB."""

    def __init__(self, upper: bytes, out: _HashingOut) -> None:
        self.upper = upper
        self.out = out
        self.links: dict[tuple[int, int], bytes] = {}
        self._buffers: tuple[bytearray, bytearray] | None = None
        self.batch = bytearray()

    def finish(self) -> None:
        """Write what is batched, then the end-of-archive blocks."""
        self.batch += th.END_OF_ARCHIVE
        self.flush_batch()

    def flush_batch(self) -> None:
        if self.batch:
            batch, self.batch = self.batch, bytearray()
            self.out.write(batch)  # hashed on the helper thread: never touched again

    def walk(self, rel: bytes) -> None:
        directory = os.path.join(self.upper, rel) if rel else self.upper
        with os.scandir(directory) as it:
            entries = sorted(it, key=_entry_name)
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for entry in entries:
                name = rel + b"/" + entry.name if rel else entry.name
                st = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(st.st_mode):
                    self.directory(name, entry.path, st)
                    self.walk(name)
                elif stat.S_ISREG(st.st_mode) and st.st_nlink == 1:
                    self.regular(name, entry.name, st, dir_fd)  # openat: no path walk
                else:
                    self.other(name, entry.path, st)
        finally:
            os.close(dir_fd)

    def header(self, entry: th.Entry) -> None:
        self.batch += th.encode(entry)
        if len(self.batch) >= _BATCH:
            self.flush_batch()

    def simple(self, name: bytes, path: bytes | int, st: os.stat_result, type_: bytes,
               linkname: bytes = b"", size: int = 0) -> None:
        """The header of an entry without device numbers (the common case, made cheap)."""
        names = _list_xattrs(path)
        xattrs = _xattrs(path, names) if names else None  # overlay's own are dropped
        if xattrs:
            self.header(th.Entry(name, type_, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid,
                                 size, int(st.st_mtime), linkname, xattrs=xattrs))
        else:
            self.batch += th.header(name, type_, st.st_mode, st.st_uid, st.st_gid, size,
                                    int(st.st_mtime), linkname)

    def directory(self, name: bytes, path: bytes, st: os.stat_result) -> None:
        names = _list_xattrs(path)
        xattrs = _xattrs(path, names) if names else {}
        mode, mtime = stat.S_IMODE(st.st_mode), int(st.st_mtime)
        self.header(th.Entry(name + b"/", th.DIRTYPE, mode, st.st_uid, st.st_gid, 0, mtime,
                             xattrs=xattrs))
        if names and _is_opaque(path, names):
            self.batch += th.header(name + b"/" + OPAQUE, th.REGTYPE, mode, st.st_uid,
                                    st.st_gid, 0, mtime)

    def base(self, name: bytes, path: bytes, st: os.stat_result, type_: bytes) -> th.Entry:
        names = _list_xattrs(path)
        return th.Entry(
            name=name,
            type=type_,
            mode=stat.S_IMODE(st.st_mode),
            uid=st.st_uid,
            gid=st.st_gid,
            mtime=int(st.st_mtime),
            xattrs=_xattrs(path, names) if names else {},
        )

    def other(self, name: bytes, path: bytes, st: os.stat_result) -> None:
        mode = st.st_mode
        if stat.S_ISCHR(mode) and st.st_rdev == 0:
            head, _, base = name.rpartition(b"/")
            wh = (head + b"/" if head else b"") + WHITEOUT_PREFIX + base
            self.batch += th.header(wh, th.REGTYPE, 0o600, st.st_uid, st.st_gid, 0,
                                    int(st.st_mtime))
            return
        if stat.S_ISSOCK(mode):
            return  # sockets are not carried in layers (as Docker does)
        if stat.S_ISREG(mode):
            if st.st_nlink > 1:
                key = (st.st_dev, st.st_ino)
                first = self.links.get(key)
                if first is not None:
                    self.simple(name, path, st, th.LNKTYPE, first)
                    return
                self.links[key] = name
            self.regular(name, path, st)
        elif stat.S_ISLNK(mode):
            self.simple(name, path, st, th.SYMTYPE, os.readlink(path))
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            entry = self.base(name, path, st, th.CHRTYPE if stat.S_ISCHR(mode) else th.BLKTYPE)
            entry.devmajor, entry.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
            self.header(entry)
        elif stat.S_ISFIFO(mode):
            self.simple(name, path, st, th.FIFOTYPE)

    def regular(self, name: bytes, path: bytes, st: os.stat_result, dir_fd: int | None = None) -> None:
        """A regular file; `path` is relative to `dir_fd` when that is given."""
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        try:
            size = st.st_size
            self.simple(name, fd, st, th.REGTYPE, size=size)
            if size <= _SMALL_FILE:
                data = os.read(fd, size) if size else b""
                while len(data) < size:
                    more = os.read(fd, size - len(data))
                    data += more or bytes(size - len(data))  # shrank while read: keep the size
                self.batch += data
                self.batch += th.padding(size)
                if len(self.batch) >= _BATCH:
                    self.flush_batch()
                return
            self.flush_batch()
            remaining = size
            turn = 0
            if self._buffers is None:  # allocated on the first big file only
                self._buffers = (bytearray(COPY_CHUNK), bytearray(COPY_CHUNK))
            buffers = self._buffers
            while remaining > 0:
                view = memoryview(buffers[turn])  # the other one may still be hashing
                turn ^= 1
                n = os.readv(fd, [view[: min(remaining, COPY_CHUNK)]])
                if n == 0:  # the file shrank while we read it: keep the tar well formed
                    n = min(remaining, COPY_CHUNK)
                    view[:n] = bytes(n)
                self.out.write(view[:n])
                remaining -= n
            self.batch += th.padding(size)
        finally:
            os.close(fd)


def write_diff(upper: Path, out: Sink) -> DiffResult:
    """Write the layer tar of overlay upper directory `upper` to `out`; return its digest and size.

    Deterministic: entries in per-directory byte order, PAX format, no user/group names,
    integer-second mtimes from the files, so the same tree always gives the same digest.
    Hard links inside the layer become tar hard links; sockets are skipped; xattrs are
    kept except overlay's own (`trusted.overlay.*`, `user.overlay.*`).
    """
    hashing = _HashingOut(out)  # its hashing thread is started for big files only
    try:
        writer = _DiffWriter(os.fsencode(upper), hashing)
        writer.walk(b"")
        writer.finish()
        return hashing.result()
    finally:
        hashing.close()


def apply_layer(tar: BinaryIO, target: Path, *, overlay: bool = False) -> ApplyResult:
    """Unpack layer `tar` (gzip, zstd or plain, detected) into `target`, confined to it.

    With `overlay=True` whiteouts are stored in overlayfs' own form (a 0/0 character device
    for `.wh.NAME`, `trusted.overlay.opaque=y` for `.wh..wh..opq`), for a snapshot that is
    one layer of an overlay stack; otherwise they delete from the tree in `target`.
    Returns the diff ID (sha256 of the uncompressed tar) and sizes; a malformed, truncated
    or hostile tar raises InvalidArgument and may leave `target` half written.
    """
    from dockyard.image.tarsafe import apply_tar  # (not needed to write a layer)

    return apply_tar(tar, target, overlay=overlay)
