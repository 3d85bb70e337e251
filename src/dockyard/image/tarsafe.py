"""Confined extraction of (untrusted) layer tars: nothing is ever written outside the target.

Rules, as Docker applies them:
- absolute names and link targets are taken relative to the target (`/etc/passwd` lands in
  `TARGET/etc/passwd`); a name whose `..` climbs above the target is refused;
- symlinks met while walking to an entry's parent resolve as in a chroot at the target (a
  link to `/` leads back to the target), so a write "through" a symlink stays inside;
- hard links must point at an existing non-directory inside the target;
- overlay's own xattrs (`trusted.overlay.*`, `user.overlay.*`) in a tar are ignored.
A malformed or truncated tar raises InvalidArgument naming the entry.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from dockyard.errors import InvalidArgument, Unavailable
from dockyard.image.compression import open_uncompressed
from dockyard.image.tarreader import BLOCKDEV, CHAR, FIFO, Member, TarFormatError, TarReader

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
_IGNORED_XATTRS = ("trusted.overlay.", "user.overlay.")
CHUNK = 4 << 20
_MAX_LINK_HOPS = 255


@dataclass(frozen=True)
class ApplyResult:
    """The uncompressed tar's sha256 (= the layer's diff ID), its size, and the compression seen."""

    diff_id: str
    size: int
    compression: str


class _HashingReader:
    """A read-only stream that hashes every byte read through it.

    Big chunks are hashed on a helper thread while the caller unpacks them (hashlib
    releases the GIL); `digest()` waits for the last one.
    """

    def __init__(self, inner: BinaryIO, pool: ThreadPoolExecutor) -> None:
        self._inner = inner
        self._hash = hashlib.sha256()
        self._pool = pool
        self._pending: Future[None] | None = None
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self._inner.read(size)
        if self._pending is not None:
            self._pending.result()
            self._pending = None
        if len(data) >= 256 << 10:
            self._pending = self._pool.submit(self._hash.update, data)
        else:
            self._hash.update(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        while self.read(CHUNK):
            pass

    def digest(self) -> str:
        if self._pending is not None:
            self._pending.result()
            self._pending = None
        return "sha256:" + self._hash.hexdigest()


def _bad(message: str, hint: str | None = None) -> InvalidArgument:
    return InvalidArgument(message, hint=hint or "the layer is corrupt or hostile; nothing is used")


def clean_parts(name: str, what: str = "entry") -> list[str]:
    """The components of tar path `name` relative to the root; refuse a climb above it."""
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise _bad(f"tar {what} {name!r} points outside the layer root")
            parts.pop()
            continue
        parts.append(part)
    return parts


class _Extractor:
    def __init__(self, root: Path, overlay: bool) -> None:
        self.root = os.fspath(root)
        self.overlay = overlay
        self.is_root = os.geteuid() == 0
        self.dir_meta: list[tuple[str, int, int]] = []
        self.written: set[str] = set()
        self.opaque_dirs: list[str] = []
        self.parent_cache: dict[tuple[str, ...], str] = {}

    # -- path resolution ----------------------------------------------------------------
    def resolve_dir(self, parts: list[str], create: bool = True) -> str:
        """The real directory for `parts` inside root, following symlinks chroot-style."""
        key = tuple(parts)
        cached = self.parent_cache.get(key)
        if cached is not None:
            return cached
        resolved: list[str] = []
        pending = deque(parts)
        hops = 0
        while pending:
            part = pending.popleft()
            if part in ("", "."):
                continue
            if part == "..":
                if resolved:
                    resolved.pop()
                continue
            path = os.path.join(self.root, *resolved, part)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                if not create:
                    raise
                os.mkdir(path, 0o755)
                os.chmod(path, 0o755)
                if not self.overlay:
                    self.written.add(path)
                resolved.append(part)
                continue
            if stat.S_ISLNK(st.st_mode):
                hops += 1
                if hops > _MAX_LINK_HOPS:
                    raise _bad(f"too many symlinks under {'/'.join(parts)!r}")
                target = os.readlink(path)
                if target.startswith("/"):
                    resolved = []
                pending.extendleft(reversed(target.split("/")))
                continue
            if not stat.S_ISDIR(st.st_mode):
                if not create:
                    raise NotADirectoryError(path)
                os.unlink(path)
                os.mkdir(path, 0o755)
                os.chmod(path, 0o755)
            resolved.append(part)
        real = os.path.join(self.root, *resolved)
        self.parent_cache[key] = real
        return real

    def forget_dirs(self) -> None:
        self.parent_cache.clear()

    # -- entries ------------------------------------------------------------------------
    def apply(self, tar: TarReader, member: Member) -> None:
        parts = clean_parts(member.name)
        if not parts:  # the root directory itself
            if member.isdir():
                self.set_meta(self.root, member, is_dir=True)
            return
        base = parts[-1]
        parent = self.resolve_dir(parts[:-1])
        if base.startswith(WHITEOUT):
            self.whiteout(parent, base)
            return
        path = os.path.join(parent, base)
        if not self.overlay:
            self.written.add(path)
        if member.isdir():
            try:
                st = os.lstat(path)
                if not stat.S_ISDIR(st.st_mode):
                    self.remove(path)
                    os.mkdir(path, 0o700)
            except FileNotFoundError:
                os.mkdir(path, 0o700)
            self.set_meta(path, member, is_dir=True)
            return
        self.remove(path)
        if member.islnk():
            self.hardlink(member, path)
            return
        if member.issym():
            os.symlink(member.linkname, path)
            self.forget_dirs()
        elif member.isreg():
            self.regular(tar, path)
        elif member.type in (CHAR, BLOCKDEV, FIFO):
            kind = {CHAR: stat.S_IFCHR, BLOCKDEV: stat.S_IFBLK, FIFO: stat.S_IFIFO}[member.type]
            try:
                os.mknod(path, kind | 0o600, os.makedev(member.devmajor, member.devminor))
            except PermissionError:
                if self.is_root:
                    raise
                return  # devices need root; an unprivileged unpack skips them (as rootless does)
        else:
            return  # other types (e.g. GNU volume headers) carry nothing to unpack
        self.set_meta(path, member, is_dir=False)

    def regular(self, tar: TarReader, path: str) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            while chunk := tar.read(CHUNK):
                _write_all(fd, chunk)
        finally:
            os.close(fd)

    def hardlink(self, member: Member, path: str) -> None:
        parts = clean_parts(member.linkname, "hard link target")
        if not parts:
            raise _bad(f"tar entry {member.name!r} is a hard link to the layer root")
        try:
            source = os.path.join(self.resolve_dir(parts[:-1], create=False), parts[-1])
            st = os.lstat(source)
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise _bad(
                f"tar entry {member.name!r} is a hard link to {member.linkname!r},"
                " which is not in the layer"
            ) from exc
        if stat.S_ISDIR(st.st_mode):
            raise _bad(f"tar entry {member.name!r} is a hard link to a directory")
        os.link(source, path, follow_symlinks=False)

    def whiteout(self, parent: str, base: str) -> None:
        if base == OPAQUE:
            if self.overlay:
                self.setxattr(parent, "trusted.overlay.opaque", b"y", force=True)
            else:
                self.opaque_dirs.append(parent)
            return
        if base.startswith(WHITEOUT + WHITEOUT):
            return  # aufs metadata (.wh..wh.plnk etc.): nothing to unpack
        name = base[len(WHITEOUT) :]
        if name in ("", ".", ".."):
            raise _bad(f"invalid whiteout {base!r}")
        path = os.path.join(parent, name)
        self.remove(path)
        if self.overlay:
            os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(0, 0))

    def remove(self, path: str) -> None:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(path)
            self.forget_dirs()
        else:
            os.unlink(path)
            if stat.S_ISLNK(st.st_mode):
                self.forget_dirs()

    # -- metadata -----------------------------------------------------------------------
    def set_meta(self, path: str, member: Member, is_dir: bool) -> None:
        symlink = member.issym()
        if self.is_root:
            os.lchown(path, member.uid, member.gid)
        if not symlink and not is_dir:
            os.chmod(path, member.mode & 0o7777)
        for name, value in member.xattrs.items():
            if not name.startswith(_IGNORED_XATTRS):
                self.setxattr(path, name, value)
        mtime = int(member.mtime)
        if is_dir:  # mode and mtime last: children change the mtime, a 0555 mode blocks them
            self.dir_meta.append((path, member.mode & 0o7777, mtime))
        else:
            os.utime(path, (mtime, mtime), follow_symlinks=not symlink)

    def setxattr(self, path: str, name: str, value: bytes, force: bool = False) -> None:
        try:
            os.setxattr(path, name, value, follow_symlinks=False)
        except OSError as exc:
            if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP) and not force:
                return
            if exc.errno == errno.EPERM and not self.is_root and not force:
                return
            raise

    def finish(self) -> None:
        if self.opaque_dirs:
            for directory in self.opaque_dirs:
                with os.scandir(directory) as it:
                    stale = [e.path for e in it if e.path not in self.written]
                for path in stale:
                    self.remove(path)
        for path, mode, mtime in reversed(self.dir_meta):
            os.chmod(path, mode)
            os.utime(path, (mtime, mtime), follow_symlinks=False)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def apply_tar(stream: BinaryIO, target: Path, *, overlay: bool = False) -> ApplyResult:
    """Unpack tar `stream` (compression detected) into directory `target`; see module doc."""
    target.mkdir(parents=True, exist_ok=True)
    compression, plain = open_uncompressed(stream)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="layer-hash") as pool:
        reader = _HashingReader(plain, pool)
        size, diff_id = _extract(reader, _Extractor(target, overlay))
    return ApplyResult(diff_id, size, compression)


def _extract(reader: _HashingReader, extractor: _Extractor) -> tuple[int, str]:
    from zstandard import ZstdError

    current = "the first entry"
    try:
        tar = TarReader(reader)
        for member in tar:
            current = repr(member.name)
            extractor.apply(tar, member)
            current = f"the entry after {member.name!r}"
        reader.drain()
        current = "the end"
        extractor.finish()
    except InvalidArgument:
        raise
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise Unavailable(f"no space left to unpack the layer ({exc})",
                              hint="free disk space under the store root") from exc
        if exc.errno is None:  # gzip/zstd readers report corrupt data as a plain OSError
            raise _bad(f"layer tar is truncated or malformed at {current}: {exc}") from exc
        raise _bad(f"cannot unpack layer tar entry {current}: {exc}") from exc
    except (TarFormatError, EOFError, ValueError, ZstdError) as exc:
        raise _bad(f"layer tar is truncated or malformed at {current}: {exc}") from exc
    return reader.size, reader.digest()
