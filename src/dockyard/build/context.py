"""The build context: a directory filtered by .dockerignore, walked in order and hashed by content."""

from __future__ import annotations

import hashlib
import os
import stat
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from dockyard.dockerfile.ignore import PatternMatcher, glob_segment_regex, go_clean, ignore_file_for
from dockyard.errors import InvalidArgument, NotFound
from dockyard.records import FrozenRecord

__all__ = ["BuildContext", "ContextEntry"]

_WILDCARDS = frozenset("*?[")
_MAX_SYMLINKS = 255
_CHUNK = 1 << 20
# A file changed less than this long ago may change again within the same timestamp tick:
# its hash is not cached (git's "racily clean" problem).
_RACY_NS = 2_000_000_000

_hash_cache: dict[tuple[int, int, int, int, int], str] = {}
_hash_lock = threading.Lock()


class ContextEntry(FrozenRecord):
    """One file system object of the context. `mode` is the full st_mode (type and permission
    bits); `size` is 0 for anything but a regular file."""

    _fields = ("relpath", "path", "mode", "uid", "gid", "size", "link_target", "kind")
    relpath: str  # posix, relative to the context root, no leading "./"; "" is the root itself
    path: Path  # where it is on disk (symlinks already followed for a COPY source)
    mode: int
    uid: int
    gid: int
    size: int
    link_target: str | None
    kind: str  # "file" | "dir" | "symlink" | "other"

    def __init__(self, relpath: str, path: Path, mode: int, uid: int, gid: int, size: int,
                 link_target: str | None, kind: str) -> None:  # fmt: skip
        self._set(relpath=relpath, path=path, mode=mode, uid=uid, gid=gid, size=size,
                  link_target=link_target, kind=kind)  # fmt: skip


def _kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "symlink"
    return "other"


def _entry(relpath: str, path: Path, st: os.stat_result) -> ContextEntry:
    kind = _kind(st.st_mode)
    return ContextEntry(
        relpath=relpath,
        path=path,
        mode=st.st_mode,
        uid=st.st_uid,
        gid=st.st_gid,
        size=st.st_size if kind == "file" else 0,
        link_target=os.readlink(path) if kind == "symlink" else None,
        kind=kind,
    )


def _join(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name


class _Pending:
    """An excluded directory that is still walked because an exception may re-include a child;
    it is listed just before its first included descendant."""

    def __init__(self, entry: ContextEntry) -> None:
        self.entry = entry
        self.emitted = False


def _unreadable(path: Path, exc: OSError) -> InvalidArgument:
    return InvalidArgument(
        f"error checking context: cannot read {path}: {exc.strerror}",
        hint="make it readable, or exclude it in .dockerignore",
    )


def file_sha256(path: Path) -> str:
    """The sha256 (hex) of a regular file's content, cached by (dev, ino, size, mtime, ctime)."""
    st = os.lstat(path)
    key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    with _hash_lock:
        cached = _hash_cache.get(key)
    if cached is not None:
        return cached
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    value = digest.hexdigest()
    if time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) > _RACY_NS:
        with _hash_lock:
            _hash_cache[key] = value
    return value


class BuildContext:
    """A build context rooted at `root`, with its .dockerignore patterns applied."""

    def __init__(self, root: Path, patterns: list[str] | None = None) -> None:
        self.root = root
        self.matcher = PatternMatcher(patterns or [])

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def from_dir(cls, context_dir: Path, dockerfile: Path | None = None) -> BuildContext:
        """A context directory; `<dockerfile>.dockerignore` or `<context>/.dockerignore` applies."""
        if not context_dir.is_dir():
            raise NotFound(
                f'unable to prepare context: path "{context_dir}" not found',
                hint="pass an existing directory as the build context",
            )
        root = context_dir.resolve()
        return cls(root, ignore_file_for(root, dockerfile))

    @classmethod
    def from_tar(
        cls, stream: BinaryIO, workdir: Path, dockerfile_name: str = "Dockerfile"
    ) -> BuildContext:
        """A context sent as a tar (`docker build -`), extracted safely into workdir."""
        from dockyard.build.context_tar import extract_context_tar  # tarfile: only for `-`

        extract_context_tar(stream, workdir)
        root = workdir.resolve()
        return cls(root, ignore_file_for(root, root / go_clean(dockerfile_name)))

    # -- exclusion -------------------------------------------------------------------------
    def is_excluded(self, relpath: str) -> bool:
        """Does .dockerignore exclude this context-relative path?"""
        return bool(self.matcher) and self.matcher.matches(relpath)

    def _match(
        self, relpath: str, parent: tuple[bool, ...] | None
    ) -> tuple[bool, tuple[bool, ...] | None]:
        if not self.matcher:
            return False, None
        return self.matcher.matches_with_parent(relpath, parent)

    def _descend_excluded(self, relpath: str) -> bool:
        return self.matcher.exclusions and self.matcher.may_include_inside(relpath)

    def may_hold_included(self, relpath: str) -> bool:
        """Could an exception (`!pattern`) re-include something below this excluded directory?"""
        return bool(self._descend_excluded(relpath))

    # -- walking ---------------------------------------------------------------------------
    def walk(self, subpath: str = "") -> Iterator[ContextEntry]:
        """Entries in Go's walk order (depth first, names sorted), excluded ones left out.

        `walk("")` lists everything below the root; `walk("a/b")` lists a/b itself and, for a
        directory, everything below it (symlinks on the way are followed inside the root)."""
        shown = go_clean(subpath.lstrip("/"))
        if shown == ".":
            yield from self._walk_dir(self.root, "", "", None, [])
            return
        real = self._resolve(shown, follow_final=True)
        if real is None:
            raise self._not_found(shown)
        if real == ".":  # a symlink to the root
            yield _entry(shown, self.root, os.stat(self.root))
            yield from self._walk_dir(self.root, "", shown, None, [])
            return
        info: tuple[bool, ...] | None = None
        parts = real.split("/")
        for depth in range(1, len(parts)):
            _, info = self._match("/".join(parts[:depth]), info)
        excluded, info = self._match(real, info)
        path = self.root / real
        entry = _entry(shown, path, os.lstat(path))
        if entry.kind != "dir":
            if not excluded:
                yield entry
            return
        if excluded:
            if self._descend_excluded(real):
                yield from self._walk_dir(path, real, shown, info, [_Pending(entry)])
            return
        yield entry
        yield from self._walk_dir(path, real, shown, info, [])

    def _walk_dir(
        self,
        dirpath: Path,
        real: str,
        shown: str,
        info: tuple[bool, ...] | None,
        pending: list[_Pending],
    ) -> Iterator[ContextEntry]:
        try:
            with os.scandir(dirpath) as it:
                children = sorted(it, key=lambda d: d.name)
        except OSError as exc:
            raise _unreadable(dirpath, exc) from exc
        for child in children:
            child_real = _join(real, child.name)
            excluded, child_info = self._match(child_real, info)
            path = Path(child.path)
            try:
                st = child.stat(follow_symlinks=False)
            except OSError as exc:
                raise _unreadable(path, exc) from exc
            entry = _entry(_join(shown, child.name), path, st)
            if excluded:
                if entry.kind == "dir" and self._descend_excluded(child_real):
                    yield from self._walk_dir(
                        path, child_real, entry.relpath, child_info, [*pending, _Pending(entry)]
                    )
                continue
            for parent in pending:
                if not parent.emitted:
                    parent.emitted = True
                    yield parent.entry
            yield entry
            if entry.kind == "dir":
                yield from self._walk_dir(path, child_real, entry.relpath, child_info, pending)

    # -- COPY sources ----------------------------------------------------------------------
    def resolve_source(self, pattern: str) -> list[ContextEntry]:
        """The context entries a COPY/ADD source names: a path or a wildcard relative to the root.

        Returns the matched roots (a directory's contents come from `walk(entry.relpath)`), sorted.
        A wildcard matching nothing gives [] (BuildKit allows empty wildcards); a missing or
        .dockerignore'd path raises NotFound; a path escaping the context raises InvalidArgument."""
        if pattern.startswith("/"):
            rel = go_clean(pattern).lstrip("/") or "."
        else:
            rel = go_clean(pattern)
            if rel == ".." or rel.startswith("../"):
                raise InvalidArgument(
                    f"forbidden path outside the build context: {pattern}",
                    hint="COPY/ADD sources must be inside the build context; "
                    "move the file into it or use a wider context",
                )
        if rel == ".":
            return [_entry("", self.root, os.stat(self.root))]
        if any(ch in _WILDCARDS for ch in rel):
            return [self._source_entry(r) for r in self._glob(rel)]
        real = self._resolve(rel, follow_final=True)
        if real is None or self._hidden(real):
            raise self._not_found(rel)
        return [self._source_entry(real, shown=rel)]

    def _source_entry(self, real: str, shown: str | None = None) -> ContextEntry:
        path = self.root / real
        return _entry(real if shown is None else shown, path, os.lstat(path))

    def _hidden(self, real: str) -> bool:
        """Excluded and not a directory that may still hold re-included files."""
        if not self.is_excluded(real):
            return False
        return not ((self.root / real).is_dir() and self._descend_excluded(real))

    def _not_found(self, rel: str) -> NotFound:
        return NotFound(
            f'failed to compute cache key: failed to calculate checksum of ref context: "/{rel}": not found',
            hint="check the path exists in the build context and is not excluded by .dockerignore",
        )

    def _glob(self, rel: str) -> list[str]:
        """Real relative paths matching a wildcard path, one segment at a time, sorted."""
        candidates = [""]
        for segment in rel.split("/"):
            found: list[str] = []
            if not any(ch in _WILDCARDS for ch in segment):
                literal = segment.replace("\\", "")
                for base in candidates:
                    real = self._resolve(_join(base, literal), follow_final=True)
                    if real is not None:
                        found.append(real)
            else:
                regex = glob_segment_regex(segment)
                for base in candidates:
                    directory = self.root / base
                    if not directory.is_dir():
                        continue
                    for name in sorted(os.listdir(directory)):
                        if regex.fullmatch(name):
                            real = self._resolve(_join(base, name), follow_final=True)
                            if real is not None:
                                found.append(real)
            candidates = [c for c in found if not self._hidden(c)]
        return sorted(set(candidates))

    def _resolve(self, rel: str, follow_final: bool) -> str | None:
        """Resolve a clean relative path inside the root, following symlinks as if the root were
        `/` (absolute targets and `..` stay inside). None when something on the way is missing."""
        todo = [p for p in rel.split("/") if p not in ("", ".")]
        done: list[str] = []
        links = 0
        while todo:
            part = todo.pop(0)
            if part == "..":
                if done:
                    done.pop()
                continue
            path = self.root.joinpath(*done, part)
            try:
                st = os.lstat(path)
            except (FileNotFoundError, NotADirectoryError):
                return None
            if stat.S_ISLNK(st.st_mode) and (todo or follow_final):
                links += 1
                if links > _MAX_SYMLINKS:
                    return None
                target = os.readlink(path)
                if target.startswith("/"):
                    done = []
                todo = [p for p in target.split("/") if p not in ("", ".")] + todo
                continue
            if todo and not stat.S_ISDIR(st.st_mode):
                return None
            done.append(part)
        return "/".join(done) or "."

    # -- hashing ---------------------------------------------------------------------------
    def digest(self, entries: Iterable[ContextEntry]) -> str:
        """A sha256 over each entry's path, mode, owner, content and link target (never times)."""
        digest = hashlib.sha256()
        for entry in sorted(entries, key=lambda e: e.relpath):
            content = file_sha256(entry.path) if entry.kind == "file" else ""
            record = "\0".join(
                (
                    entry.relpath,
                    entry.kind,
                    f"{entry.mode:o}",
                    str(entry.uid),
                    str(entry.gid),
                    content,
                    entry.link_target or "",
                )
            )
            digest.update(record.encode("utf-8", "surrogateescape") + b"\n")
        return "sha256:" + digest.hexdigest()
