"""A layer tar from two whole trees (the copying snapshotter): what `upper` changed from `lower`.

An entry is emitted when it is new, when its type or metadata differ, or when its ctime is
later than `since_ns` (the moment `upper` was copied from `lower`: any write, chmod, xattr
change or re-creation after that moves ctime); an entry of `lower` missing from `upper`
becomes a `.wh.NAME` whiteout. The parent directories of every emitted entry are emitted
too, so a layer never implies a directory's metadata.
"""

from __future__ import annotations

import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from dockyard.image import tarheader as th
from dockyard.image.layer import WHITEOUT_PREFIX, DiffResult, Sink, _DiffWriter, _HashingOut


class _TreeDiffWriter(_DiffWriter):
    def __init__(self, upper: bytes, out: _HashingOut, since_ns: int) -> None:
        super().__init__(upper, out)
        self.since_ns = since_ns
        self.pending: list[tuple[bytes, bytes, os.stat_result]] = []

    def flush(self) -> None:
        for name, path, st in self.pending:
            self.directory(name, path, st)
        self.pending.clear()

    def changed(self, new: os.stat_result, old: os.stat_result) -> bool:
        if new.st_ctime_ns > self.since_ns:
            return True
        return (new.st_mode, new.st_uid, new.st_gid, new.st_mtime_ns, new.st_rdev) != (
            old.st_mode, old.st_uid, old.st_gid, old.st_mtime_ns, old.st_rdev
        ) or (stat.S_ISREG(new.st_mode) and new.st_size != old.st_size)

    def compare(self, rel: bytes, lower_dir: bytes | None) -> None:
        directory = os.path.join(self.upper, rel) if rel else self.upper
        with os.scandir(directory) as it:
            upper = {e.name: e for e in it}
        lower: dict[bytes, os.DirEntry[bytes]] = {}
        if lower_dir is not None:
            with os.scandir(lower_dir) as it:
                lower = {e.name: e for e in it}
        for name in sorted(upper.keys() | lower.keys()):
            relname = rel + b"/" + name if rel else name
            new = upper.get(name)
            old = lower.get(name)
            old_st = old.stat(follow_symlinks=False) if old is not None else None
            if new is None:
                self.flush()
                parent_st = os.lstat(directory)
                wh = (rel + b"/" if rel else b"") + WHITEOUT_PREFIX + name
                self.batch += th.header(wh, th.REGTYPE, 0o600, 0, 0, 0, int(parent_st.st_mtime))
                continue
            new_st = new.stat(follow_symlinks=False)
            old_is_dir = old_st is not None and stat.S_ISDIR(old_st.st_mode)
            if stat.S_ISDIR(new_st.st_mode):
                assert old is None or old_st is not None
                if old_st is not None and old_is_dir and not self.changed(new_st, old_st):
                    self.pending.append((relname, new.path, new_st))
                    self.compare(relname, old.path if old is not None else None)
                    if self.pending and self.pending[-1][0] == relname:
                        self.pending.pop()
                else:
                    self.flush()
                    self.directory(relname, new.path, new_st)
                    self.compare(relname, old.path if old is not None and old_is_dir else None)
            elif old_st is None or self.changed(new_st, old_st):
                self.flush()
                self.other(relname, new.path, new_st)


def write_tree_diff(lower: Path | None, upper: Path, out: Sink, since_ns: int = 0) -> DiffResult:
    """Write the layer tar of what `upper` changed from `lower` (None: everything) to `out`."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="diff-hash") as pool:
        hashing = _HashingOut(out, pool)
        writer = _TreeDiffWriter(os.fsencode(upper), hashing, since_ns)
        writer.compare(b"", os.fsencode(lower) if lower is not None else None)
        writer.finish()
        return hashing.result()
