"""`COPY --parents` and `COPY --exclude` with BuildKit's semantics, on a busybox base."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers.dybuild import Dockyard, _context

pytestmark = pytest.mark.integration


def _missing(dy: Dockyard, ref: str, path: str) -> bool:
    try:
        dy.stat(ref, path)
    except FileNotFoundError:
        return True
    return False


FILES = {
    "x/a.txt": "xa\n", "y/a.txt": "ya\n", "x/sub/b.txt": "b\n", "x/sub/c.md": "c\n",
    "dir/keep.txt": "keep\n", "dir/img.png": "png\n", "dir/sub/inner.txt": "inner\n",
    "dir/deep/pic.png": "deep\n",
}  # fmt: skip


def test_copy_parents_keeps_paths_and_the_pivot_cuts_them(dy: Dockyard, tmp_path: Path) -> None:
    dockerfile = """\
FROM busybox AS base
COPY x/a.txt y/a.txt /flat/
COPY --parents x/a.txt y/a.txt /parents/
COPY --parents ./x/./sub/*.txt /pivot/
COPY --parents x/sub /dirs/
FROM busybox
COPY --from=base --parents /parents/./x/a.txt /fromstage/
"""
    ctx = _context(tmp_path, dockerfile, FILES)
    os.chmod(ctx / "x", 0o750)
    os.utime(ctx / "x", (1_500_000_000, 1_500_000_000))
    dy.build(ctx, "--target", "base", "-t", "par:base")
    # without --parents the second a.txt overwrites the first; with it both keep their path
    assert dy.read_file("par:base", "/flat/a.txt") == b"ya\n"
    assert dy.read_file("par:base", "/parents/x/a.txt") == b"xa\n"
    assert dy.read_file("par:base", "/parents/y/a.txt") == b"ya\n"
    # the parent directories keep their source's mode and mtime
    st = dy.stat("par:base", "/parents/x")
    assert (st.st_mode & 0o7777, int(st.st_mtime)) == (0o750, 1_500_000_000)
    # `/./` is the pivot: only what follows it is kept
    assert dy.read_file("par:base", "/pivot/sub/b.txt") == b"b\n"
    assert _missing(dy, "par:base", "/pivot/sub/c.md") and _missing(dy, "par:base", "/pivot/x")
    # a directory source keeps its own path and all it holds
    assert dy.read_file("par:base", "/dirs/x/sub/c.md") == b"c\n"
    history = [h.get("created_by", "") for h in dy.config("par:base")["history"]]
    assert "COPY --parents x/a.txt y/a.txt /parents/ # buildkit" in history
    # from another stage, with an absolute source and a pivot
    dy.build(ctx, "-t", "par:final")
    assert dy.read_file("par:final", "/fromstage/x/a.txt") == b"xa\n"
    assert _missing(dy, "par:final", "/fromstage/parents")


def test_copy_exclude_filters_below_each_source_and_is_not_in_the_cache_key(
    dy: Dockyard, tmp_path: Path
) -> None:
    dockerfile = """\
FROM busybox
COPY --exclude=*.png --exclude=sub dir /excl/
COPY --exclude=*/*.png --exclude=x dir* y /wild/
COPY --parents --exclude=x/sub/*.md x /px/
"""
    ctx = _context(tmp_path, dockerfile, FILES)
    dy.build(ctx, "-t", "ex:1")
    assert dy.read_file("ex:1", "/excl/keep.txt") == b"keep\n"
    assert _missing(dy, "ex:1", "/excl/img.png")
    assert _missing(dy, "ex:1", "/excl/sub")  # a directory that matches goes with its contents
    assert dy.read_file("ex:1", "/excl/deep/pic.png") == b"deep\n"  # `*` stops at `/`
    assert dy.read_file("ex:1", "/wild/img.png") == b"png\n"  # patterns are relative to dir
    assert _missing(dy, "ex:1", "/wild/deep/pic.png")
    assert dy.read_file("ex:1", "/wild/a.txt") == b"ya\n"
    assert dy.read_file("ex:1", "/px/x/sub/b.txt") == b"b\n"
    assert _missing(dy, "ex:1", "/px/x/sub/c.md")  # with --parents: relative to the pivot
    # changing a file a step excludes does not invalidate it; changing a copied one does
    (ctx / "dir" / "img.png").write_text("other png\n")
    second = dy.build(ctx, "-t", "ex:2").stderr
    assert "[2/4] COPY --exclude=*.png --exclude=sub dir /excl/\n#3 CACHED" in second
    assert second.count("CACHED") == 1  # the /wild step copies img.png: it runs again
    assert dy.read_file("ex:2", "/wild/img.png") == b"other png\n"
    (ctx / "dir" / "keep.txt").write_text("changed\n")
    third = dy.build(ctx, "-t", "ex:3")
    assert third.stderr.count("CACHED") == 0
    assert dy.read_file("ex:3", "/excl/keep.txt") == b"changed\n"
