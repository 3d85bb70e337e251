"""COPY/ADD into a mounted root filesystem with Docker's path rules.

- a directory source copies its contents; a file goes to `dest/name` when `dest` ends in `/`
  or is an existing directory, else it becomes `dest`; several sources need a directory dest;
- missing parents are created (0755, owned by the --chown user or root);
- context files are owned by root (or --chown); `COPY --from` keeps owners unless --chown;
- `--chmod` sets the mode of everything copied; mtimes are kept;
- ADD extracts a local tar archive (plain, gzip, bzip2, xz) into the destination directory;
- `--exclude=PATTERN` (.dockerignore syntax) leaves out what matches below each source (the
  matched source itself is always copied, as BuildKit's copier does);
- `--parents` keeps each source's path below the context root, or below the pivot `/./` in it,
  creating the parent directories with their source metadata.
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Iterator
from pathlib import Path

from dockyard.build.context import BuildContext, ContextEntry
from dockyard.dockerfile.ignore import PatternMatcher
from dockyard.errors import InvalidArgument
from dockyard.records import Record
from dockyard.runtime.users import resolve_in_root

_MAGICS = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")


class Owner(Record):
    """Who owns copied files: fixed uid/gid, or None to keep the source's."""

    _fields = ("uid", "gid")

    def __init__(self, uid: int | None = 0, gid: int | None = 0) -> None:
        self.uid = uid
        self.gid = gid


class CopySource(Record):
    """What one COPY/ADD source resolved to: context entries, or a prepared local file."""

    _fields = ("context", "entries", "file", "name", "mode", "mtime", "unpack", "below")

    def __init__(
        self, context: BuildContext | None = None, entries: list[ContextEntry] | None = None,
        file: Path | None = None, name: str = "", mode: int = 0o644, mtime: float | None = None,
        unpack: bool = False, below: list[str] | None = None,
    ) -> None:  # fmt: skip
        self.context = context
        self.entries: list[ContextEntry] = entries if entries is not None else []
        self.file = file  # a downloaded URL or a heredoc, already on disk
        self.name = name  # the file name to use for `file`
        self.mode = mode
        self.mtime = mtime
        self.unpack = unpack  # ADD of a local archive extracts it
        self.below = below  # --parents: each entry's path below the pivot


def dest_path(workdir: str, dest: str) -> str:
    """pathRelativeToWorkingDir: absolute, cleaned, keeping a trailing `/` (and `.` -> dir)."""
    if dest in (".", ""):
        dest = "./"
    keep = dest.endswith("/") or dest.endswith("/.") or dest == "."
    full = dest if dest.startswith("/") else posixpath.join(workdir or "/", dest)
    cleaned = posixpath.normpath(full)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned + "/" if keep and cleaned != "/" else cleaned


def parse_chmod(value: str) -> int | None:
    if not value:
        return None
    try:
        mode = int(value, 8)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o7777:
        raise InvalidArgument(
            f"invalid chmod parameter: '{value}'. it should be octal string and between 0 and 07777",
            hint="use an octal mode such as --chmod=755",
        )
    return mode


def resolve_chown(rootfs: Path, spec: str) -> Owner:
    """--chown=user[:group] through the image's passwd/group; a bare user gives gid = uid."""
    from dockyard.runtime.users import _lookup_group, _read_entries

    user, _, group = spec.partition(":")
    if user.isdigit():
        uid = int(user)
    else:
        row = next((r for r in _read_entries(rootfs, "passwd") if len(r) >= 3 and r[0] == user), None)
        if row is None:
            raise InvalidArgument(
                f"unable to convert uid/gid chown string to host mapping: can't find uid for"
                f" user {user}: no such user: {user}",
                hint="use a user that exists in the image, or numeric uid:gid",
            )
        uid = int(row[2])
    if not group:
        return Owner(uid, uid)
    try:
        gid = _lookup_group(_read_entries(rootfs, "group"), group)
    except InvalidArgument:
        raise InvalidArgument(
            f"unable to convert uid/gid chown string to host mapping: can't find gid for group"
            f" {group}: no such group: {group}",
            hint="use a group that exists in the image, or a numeric gid",
        ) from None
    return Owner(uid, gid)


def is_archive(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(512)
    if any(head.startswith(m) for m in _MAGICS):
        return True
    return len(head) >= 262 and head[257:262] == b"ustar"


class Copier:
    """Copies resolved sources into `rootfs` at `dest` (absolute, maybe ending in `/`)."""

    def __init__(self, rootfs: Path, dest: str, owner: Owner, mode: int | None,
                 exclude: PatternMatcher | None = None, prefix: str = "") -> None:  # fmt: skip
        self.rootfs = rootfs
        self.dest = dest
        self.owner = owner
        self.mode = mode
        self.exclude = exclude if exclude else None  # --exclude, relative to the copied root
        self.prefix = prefix  # where this copy's root sits below the --exclude base

    def _excluded(self, rel: str) -> bool:
        if self.exclude is None or not rel:
            return False
        return self.exclude.matches(posixpath.join(self.prefix, rel) if self.prefix else rel)

    # -- paths ---------------------------------------------------------------------------
    def _inside(self, path: str) -> Path:
        return resolve_in_root(self.rootfs, path)

    def _is_dir(self, path: str) -> bool:
        return self._inside(path).is_dir()

    def _mkdirs(self, path: str) -> Path:
        """Create `path` and its missing parents (0755, our owner); the real directory."""
        current = "/"
        for part in [p for p in path.split("/") if p]:
            current = posixpath.join(current, part)
            real = self._inside(current)
            if real.is_dir():
                continue
            if real.exists() or real.is_symlink():
                real.unlink()
            real.mkdir(mode=0o755)
            os.chmod(real, 0o755)
            self._chown(real, 0, 0)
        return self._inside(path)

    def _chown(self, path: Path, uid: int, gid: int) -> None:
        owner_uid = self.owner.uid if self.owner.uid is not None else uid
        owner_gid = self.owner.gid if self.owner.gid is not None else gid
        os.chown(path, owner_uid, owner_gid, follow_symlinks=False)

    # -- one source ----------------------------------------------------------------------
    def copy(self, sources: list[CopySource]) -> None:
        matched = sum(len(s.entries) if s.context else 1 for s in sources)
        parents = any(s.below is not None for s in sources)
        into_dir = parents or self.dest.endswith("/") or self._is_dir(self.dest)
        if matched > 1 and not into_dir:
            raise InvalidArgument(
                "When using COPY with more than one source file, the destination must be a"
                " directory and end with a /",
                hint=f"write the destination as {self.dest}/",
            )
        for source in sources:
            if source.context is not None:
                for i, entry in enumerate(source.entries):
                    if source.below is not None:
                        self._copy_with_parents(source.context, entry, source.below[i])
                    else:
                        self._copy_entry(source.context, entry, into_dir, source.unpack)
            elif source.file is not None:
                self._copy_file_to(source.file, source.name, into_dir, source.mode, source.mtime,
                                   0, 0, source.unpack)  # fmt: skip

    def _copy_with_parents(self, context: BuildContext, entry: ContextEntry, below: str) -> None:
        """COPY --parents: `entry` goes to dest/below; the directories on the way get their
        source's mode, owner and mtime."""
        if below in ("", "."):
            self._copy_entry(context, entry, True, False)
            return
        if self._excluded(below):
            return
        base = posixpath.join(self.dest, "")
        parts = below.split("/")
        made: list[tuple[Path, float]] = []
        self._mkdirs(base)
        for i in range(1, len(parts)):
            target = self._inside(base + "/".join(parts[:i]))
            if target.is_dir():
                continue
            st = os.stat(entry.path.parents[len(parts) - 1 - i])
            self._replace(target)
            target.mkdir(mode=0o700)
            self._chown(target, st.st_uid, st.st_gid)
            os.chmod(target, self.mode if self.mode is not None else stat.S_IMODE(st.st_mode))
            made.append((target, st.st_mtime))
        inner = Copier(self.rootfs, base + below, self.owner, self.mode, self.exclude,
                       posixpath.join(self.prefix, below) if self.prefix else below)  # fmt: skip
        inner._copy_entry(context, entry, False, False)
        if entry.kind == "dir":
            target = self._inside(base + below)
            st = os.stat(entry.path)
            self._chown(target, st.st_uid, st.st_gid)
            os.chmod(target, self.mode if self.mode is not None else stat.S_IMODE(st.st_mode))
            made.append((target, st.st_mtime))
        for target, mtime in reversed(made):
            os.utime(target, (mtime, mtime))

    def _copy_entry(
        self, context: BuildContext, entry: ContextEntry, into_dir: bool, unpack: bool
    ) -> None:
        if entry.kind == "dir":
            self._copy_tree(context, entry)
            return
        name = posixpath.basename(entry.relpath) or "file"
        if entry.kind == "symlink":  # only reachable for dangling links (others are followed)
            target = self._target_path(name, into_dir)
            self._replace(target)
            os.symlink(entry.link_target or "", target)
            self._chown(target, entry.uid, entry.gid)
            return
        if entry.kind != "file":
            return
        self._copy_file_to(entry.path, name, into_dir, entry.mode & 0o7777,
                           os.lstat(entry.path).st_mtime, entry.uid, entry.gid, unpack)  # fmt: skip

    def _target_path(self, name: str, into_dir: bool) -> Path:
        if into_dir:
            return self._mkdirs(self.dest) / name
        parent, base = posixpath.split(self.dest.rstrip("/") or "/")
        return self._mkdirs(parent) / base

    def _copy_file_to(
        self, src: Path, name: str, into_dir: bool, mode: int, mtime: float | None,
        uid: int, gid: int, unpack: bool,
    ) -> None:  # fmt: skip
        if unpack and is_archive(src):
            self._extract(src)
            return
        target = self._target_path(name, into_dir)
        self._write_file(src, target, mode, mtime, uid, gid)

    def _replace(self, target: Path) -> None:
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.is_dir():
            import shutil

            shutil.rmtree(target)

    def _write_file(
        self, src: Path, target: Path, mode: int, mtime: float | None, uid: int, gid: int
    ) -> None:
        if target.is_symlink() or target.is_dir():
            self._replace(target)
        with open(src, "rb") as fin:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as fout:
                while chunk := fin.read(1 << 20):  # (no shutil: its import costs ~5 ms)
                    fout.write(chunk)
        self._chown(target, uid, gid)
        os.chmod(target, self.mode if self.mode is not None else mode)
        if mtime is not None:
            os.utime(target, (mtime, mtime))

    def _copy_tree(self, context: BuildContext, top: ContextEntry) -> None:
        base = self._mkdirs(self.dest)
        dirs: list[tuple[Path, int, float]] = []
        prefix = top.relpath
        for entry in _walk(context, top):
            rel = entry.relpath[len(prefix):].lstrip("/") if prefix else entry.relpath
            if self._excluded(rel):
                continue
            target = base / rel if rel else base
            if self.exclude is not None and self.exclude.exclusions:
                target.parent.mkdir(parents=True, exist_ok=True)  # its parent may be excluded
            st = os.lstat(entry.path)
            if entry.kind == "dir":
                if rel:
                    if not target.is_dir():
                        self._replace(target)
                        target.mkdir(mode=0o700)
                    self._chown(target, entry.uid, entry.gid)
                    dirs.append((target, entry.mode & 0o7777, st.st_mtime))
            elif entry.kind == "file":
                self._write_file(entry.path, target, entry.mode & 0o7777, st.st_mtime,
                                 entry.uid, entry.gid)  # fmt: skip
            elif entry.kind == "symlink":
                self._replace(target)
                os.symlink(entry.link_target or "", target)
                self._chown(target, entry.uid, entry.gid)
                os.utime(target, (st.st_mtime, st.st_mtime), follow_symlinks=False)
        for path, mode, mtime in reversed(dirs):
            os.chmod(path, self.mode if self.mode is not None else mode)
            os.utime(path, (mtime, mtime))

    def _extract(self, archive: Path) -> None:
        import tarfile  # only ADD of a local archive needs it

        target = self._mkdirs(self.dest)
        try:
            with tarfile.open(archive, "r:*") as tar:
                tar.extractall(target, numeric_owner=True, filter="tar")
        except (tarfile.TarError, OSError) as exc:
            raise InvalidArgument(f"cannot extract {archive.name}: {exc}") from exc


def _walk(context: BuildContext, top: ContextEntry) -> Iterator[ContextEntry]:
    if not top.relpath:
        yield from context.walk("")
    else:
        yield from context.walk(top.relpath)


def source_entries(context: BuildContext, pattern: str) -> list[ContextEntry]:
    """The entries one source pattern names (wildcards may match nothing)."""
    return context.resolve_source(pattern)


def entries_digest(context: BuildContext, entries: list[ContextEntry],
                   exclude: PatternMatcher | None = None,
                   below: list[str] | None = None) -> str:  # fmt: skip
    """Content digest of the matched roots and, for directories, everything below them (what
    `exclude` leaves out does not count; `below`: each root's path below the --parents pivot)."""
    everything: list[ContextEntry] = []
    for i, entry in enumerate(entries):
        base = below[i] if below is not None else ""
        if exclude and base not in ("", ".") and exclude.matches(base):
            continue
        if entry.kind != "dir":
            everything.append(entry)
            continue
        for sub in _walk(context, entry):
            rel = sub.relpath[len(entry.relpath):].lstrip("/") if entry.relpath else sub.relpath
            full = posixpath.join(base, rel) if base not in ("", ".") else rel
            if exclude and rel and exclude.matches(full):
                continue
            everything.append(sub)
    return context.digest(everything)


def split_pivot(src: str) -> tuple[str, str]:
    """COPY --parents: (the directory the kept path starts below, the pattern): `a/./b/*`
    keeps `b/...`; without `/./` the whole path is kept."""
    parent, sep, pattern = src.partition("/./")
    if not sep:
        parent, pattern = "", src
    return parent, posixpath.normpath("/" + pattern).lstrip("/")


def parents_source(context: BuildContext, src: str, exclude: PatternMatcher | None) -> CopySource:
    """One `COPY --parents` source: its matches (none is no error, as in BuildKit, which reads
    it as an include pattern) and each one's path below the pivot."""
    from dockyard.errors import NotFound

    pivot, pattern = split_pivot(src)
    pivot_rel = posixpath.normpath("/" + pivot).lstrip("/")
    try:
        entries = context.resolve_source(posixpath.join(pivot_rel, pattern) or ".")
    except NotFound:
        entries = []
    below = []
    for entry in entries:
        rel = entry.relpath
        if pivot_rel and (rel == pivot_rel or rel.startswith(pivot_rel + "/")):
            rel = rel[len(pivot_rel):].lstrip("/")
        elif pivot_rel:
            rel = posixpath.basename(rel)
        below.append(rel or ".")
    return CopySource(context=context, entries=entries, below=below)


def file_mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)
