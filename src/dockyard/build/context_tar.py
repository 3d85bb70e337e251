"""Safe extraction of a build-context tar (`docker build - < ctx.tar`) into a private directory."""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
from pathlib import Path
from typing import IO, BinaryIO

from dockyard.dockerfile.ignore import go_clean
from dockyard.errors import InvalidArgument

__all__ = ["extract_context_tar"]

_CHUNK = 1 << 20


def _refuse(name: str, why: str) -> InvalidArgument:
    return InvalidArgument(
        f"refusing to extract {name!r} from the build context tar: {why}",
        hint="build the context tar from inside the context directory (e.g. `tar -C ctx -c .`)",
    )


def _member_relpath(name: str) -> str:
    """The cleaned relative path of a member; absolute paths and `..` escapes are refused."""
    if name.startswith("/"):
        raise _refuse(name, "absolute path")
    clean = go_clean(name)
    if clean == ".." or clean.startswith("../"):
        raise _refuse(name, "path outside the context")
    return clean


def _ensure_parents(workdir: Path, relpath: str, name: str) -> None:
    """Create the parent directories of relpath, refusing to pass through a symlink or file."""
    current = workdir
    for part in relpath.split("/")[:-1]:
        current = current / part
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            os.mkdir(current, 0o755)
            continue
        if stat.S_ISLNK(st.st_mode):
            raise _refuse(name, f"its parent {part!r} is a symlink")
        if not stat.S_ISDIR(st.st_mode):
            raise _refuse(name, f"its parent {part!r} is not a directory")


def _clear(target: Path, keep_dir: bool) -> None:
    """Remove what is at target (never following a symlink) so a member can replace it."""
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        if keep_dir:
            return
        shutil.rmtree(target)
    else:
        os.unlink(target)


def _write_file(target: Path, source: IO[bytes]) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(target, flags, 0o600)
    with os.fdopen(fd, "wb") as out:
        while chunk := source.read(_CHUNK):
            out.write(chunk)


def extract_context_tar(stream: BinaryIO, workdir: Path) -> None:
    """Extract a (possibly compressed) tar stream into workdir; nothing lands outside it."""
    workdir.mkdir(parents=True, exist_ok=True)
    dir_modes: list[tuple[Path, int, float]] = []
    try:
        archive = tarfile.open(fileobj=stream, mode="r|*")
    except tarfile.TarError as exc:
        raise InvalidArgument(
            f"the build context is not a tar archive: {exc}",
            hint="pipe a tar (optionally gzip/bzip2/xz compressed) or a Dockerfile",
        ) from exc
    try:
        with archive:
            for member in archive:
                _extract_member(archive, member, workdir, dir_modes)
    except tarfile.TarError as exc:
        raise InvalidArgument(f"the build context tar is damaged: {exc}") from exc
    for path, mode, mtime in reversed(dir_modes):
        os.chmod(path, mode)
        os.utime(path, (mtime, mtime), follow_symlinks=False)


def _extract_member(
    archive: tarfile.TarFile,
    member: tarfile.TarInfo,
    workdir: Path,
    dir_modes: list[tuple[Path, int, float]],
) -> None:
    relpath = _member_relpath(member.name)
    if relpath == ".":
        if member.isdir():
            dir_modes.append((workdir, member.mode | 0o700, member.mtime))
        return
    _ensure_parents(workdir, relpath, member.name)
    target = workdir / relpath
    if member.isdir():
        _clear(target, keep_dir=True)
        target.mkdir(mode=0o700, exist_ok=True)
        dir_modes.append((target, member.mode | 0o700, member.mtime))
        return
    if member.isfile():
        _clear(target, keep_dir=False)
        source = archive.extractfile(member)
        assert source is not None
        _write_file(target, source)
        os.chmod(target, member.mode & 0o7777)
    elif member.issym():
        _clear(target, keep_dir=False)
        os.symlink(member.linkname, target)  # never followed when writing; resolved in-root later
    elif member.islnk():
        link_rel = _member_relpath(member.linkname)
        _ensure_parents(workdir, link_rel, member.linkname)
        source_path = workdir / link_rel
        try:
            st = os.lstat(source_path)
        except FileNotFoundError:
            raise _refuse(member.name, f"hard link to missing {member.linkname!r}") from None
        if not stat.S_ISREG(st.st_mode):
            raise _refuse(member.name, f"hard link to non-file {member.linkname!r}")
        _clear(target, keep_dir=False)
        os.link(source_path, target, follow_symlinks=False)
        return
    else:
        return  # devices, fifos: not part of a build context
    os.utime(target, (member.mtime, member.mtime), follow_symlinks=False)
