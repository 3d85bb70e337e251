"""A blob written with cache=False (a pulled layer's compressed copy) does not stay in the page
cache once stored; an ordinary blob does (its next reader, an unpack, finds it there)."""

from __future__ import annotations

import ctypes
import mmap
import os
from pathlib import Path

import pytest

from dockyard.store import Store

SIZE = 40 << 20  # five writeback steps


def resident_share(path: Path) -> float:
    """The share of `path`'s pages in the page cache (mincore(2) on a shared read-only map)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int, ctypes.c_long]  # fmt: skip
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]
    size = path.stat().st_size
    pages = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE
    vec = ctypes.create_string_buffer(pages)
    fd = os.open(path, os.O_RDONLY)
    try:
        addr = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        if addr in (None, ctypes.c_void_p(-1).value):
            pytest.skip("mmap failed")
        try:
            if libc.mincore(addr, size, vec) != 0:
                pytest.skip(f"mincore failed: {os.strerror(ctypes.get_errno())}")
        finally:
            libc.munmap(addr, size)
    finally:
        os.close(fd)
    return sum(b & 1 for b in vec.raw) / pages


@pytest.mark.parametrize("cache", [True, False])
def test_page_cache_after_storing(tmp_path: Path, cache: bool) -> None:
    data = os.urandom(1 << 20) * (SIZE >> 20)
    with Store(tmp_path / "root") as store:
        with store.content.writer(cache=cache) as w:
            for i in range(0, SIZE, 1 << 20):
                w.write(data[i : i + (1 << 20)])
            digest = w.commit()
        path = store.content.path(digest)
        share = resident_share(path)
        assert path.read_bytes() == data  # stored whole either way
    if cache:
        assert share > 0.9
    else:
        assert share < 0.1
