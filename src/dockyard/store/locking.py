"""File locks that keep concurrent dockyard processes apart (flock: released when a process dies)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dockyard.errors import Unavailable


@contextmanager
def file_lock(path: Path, *, shared: bool = False, blocking: bool = True) -> Iterator[None]:
    """Hold an flock on `path` (created if missing) for the duration of the block.

    Shared locks coexist; an exclusive lock waits for every other holder. With
    `blocking=False` a lock that is held elsewhere raises Unavailable at once.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        flags = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        if not blocking:
            flags |= fcntl.LOCK_NB
        try:
            fcntl.flock(fd, flags)
        except BlockingIOError as exc:
            raise Unavailable(
                f"{path} is locked by another dockyard process",
                hint="wait for the other command to finish and retry",
            ) from exc
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def try_lock_fd(fd: int) -> bool:
    """Take an exclusive non-blocking flock on an open descriptor; False if someone holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
