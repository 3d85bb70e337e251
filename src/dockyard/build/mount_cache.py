"""The persistent directories of `RUN --mount=type=cache`: one per cache id under
<root>/build-mounts/cache/, each with a lock file beside it.

A step holds a shared flock on the directory's lock while it runs (`sharing=shared`), an
exclusive one (`locked`: steps take turns), or, for `private`, an exclusive one taken without
waiting, moving on to the next instance (`ID-1`, `ID-2`, ...) while one is busy. `prune` removes
every directory no step holds.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dockyard.dockerfile.commands import Mount
    from dockyard.store import Store

SUBDIR = "build-mounts/cache"
MAX_PRIVATE = 64


def cache_dir(store: Store) -> Path:
    return store.root / SUBDIR


def _name(cache_id: str, seeded: str = "") -> str:
    return hashlib.sha256(f"{cache_id}\0{seeded}".encode()).hexdigest()[:32]


def _lock(path: Path, exclusive: bool, wait: bool) -> int | None:
    """An open, flocked descriptor on `path`, or None when it is busy and we may not wait."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    flags = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | (0 if wait else fcntl.LOCK_NB)
    try:
        fcntl.flock(fd, flags)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _create(path: Path, mount: Mount, seed: Path | None) -> None:
    tmp = path.with_name(path.name + ".new")
    shutil.rmtree(tmp, ignore_errors=True)
    if seed is not None and seed.is_dir():
        shutil.copytree(seed, tmp, symlinks=True)
    else:
        tmp.mkdir()
        os.chmod(tmp, mount.mode if mount.mode is not None else 0o755)
        os.chown(tmp, mount.uid or 0, mount.gid or 0)
    os.rename(tmp, path)


@contextmanager
def use_cache(store: Store, cache_id: str, mount: Mount, seed: Path | None,
              seeded: bool) -> Iterator[Path]:  # fmt: skip
    """The cache directory for `cache_id`, created on first use, held for the block."""
    base = cache_dir(store)
    base.mkdir(parents=True, exist_ok=True)
    name = _name(cache_id, mount.from_ + "\0" + mount.source if seeded else "")
    fd = None
    path = base / name
    if mount.sharing == "private":
        for n in range(MAX_PRIVATE):
            path = base / (name if n == 0 else f"{name}-{n}")
            fd = _lock(path.with_name(path.name + ".lock"), exclusive=True, wait=False)
            if fd is not None:
                break
        if fd is None:
            fd = _lock(path.with_name(path.name + ".lock"), exclusive=True, wait=True)
    else:
        fd = _lock(path.with_name(path.name + ".lock"), mount.sharing == "locked", wait=True)
    assert fd is not None
    try:
        if not path.is_dir():
            creating = _lock(base / (path.name + ".create"), exclusive=True, wait=True)
            try:
                if not path.is_dir():
                    _create(path, mount, seed)
            finally:
                if creating is not None:
                    os.close(creating)
        yield path
    finally:
        os.close(fd)


def prune(store: Store) -> int:
    """Remove every cache mount directory no running step holds; how many went."""
    base = cache_dir(store)
    if not base.is_dir():
        return 0
    removed = 0
    for entry in sorted(base.iterdir()):
        if not entry.is_dir() or entry.name.endswith(".new"):
            continue
        fd = _lock(entry.with_name(entry.name + ".lock"), exclusive=True, wait=False)
        if fd is None:
            continue
        try:
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
        finally:
            os.close(fd)
    return removed
