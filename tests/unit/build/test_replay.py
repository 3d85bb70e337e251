"""The no-change rebuild's context signature and request key (build/replay.py)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from dockyard.build import replay
from dockyard.build.options import BuildOptions


def _ctx(tmp_path: Path) -> Path:
    ctx = tmp_path / "ctx"
    (ctx / "src").mkdir(parents=True)
    (ctx / "Dockerfile").write_text("FROM scratch\nCOPY . /\n")
    (ctx / "src" / "a.txt").write_text("aaaa\n")
    (ctx / "logs").mkdir()
    return ctx


def _sig(ctx: Path, skipped: set[str] | None = None) -> replay.Signature:
    skip = skipped or set()
    sig = replay.signature(ctx, lambda rel, _is_dir: rel in skip)
    assert sig is not None
    return sig


def test_unchanged_context_keeps_its_signature(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    assert _sig(ctx).digest == _sig(ctx).digest


def test_same_size_and_mtime_but_new_content_changes_it(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    before = _sig(ctx).digest
    path = ctx / "src" / "a.txt"
    st = os.stat(path)
    path.write_text("bbbb\n")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(path).st_mtime_ns == st.st_mtime_ns
    assert _sig(ctx).digest != before  # ctime moved


@pytest.mark.parametrize("change", ["add", "remove", "chmod", "rename"])
def test_entries_added_removed_or_changed_change_it(tmp_path: Path, change: str) -> None:
    ctx = _ctx(tmp_path)
    before = _sig(ctx).digest
    path = ctx / "src" / "a.txt"
    if change == "add":
        (ctx / "src" / "b.txt").write_text("")
    elif change == "remove":
        path.unlink()
    elif change == "chmod":
        path.chmod(0o600)
    else:
        path.rename(ctx / "src" / "c.txt")
    assert _sig(ctx).digest != before


def test_skipped_entries_do_not_count(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    before = _sig(ctx, {"logs"}).digest
    (ctx / "logs" / "today.log").write_text("noise\n")  # also moves the directory's mtime
    assert _sig(ctx, {"logs"}).digest == before
    assert _sig(ctx).digest != before


def test_recent_changes_make_it_racy(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    assert _sig(ctx).racy
    old = time.time() - 60
    for path in [ctx / "Dockerfile", ctx / "src" / "a.txt"]:
        os.utime(path, (old, old))
    # ctime cannot be set back: still racy until a second has passed
    assert _sig(ctx).racy


def test_request_key_depends_on_dockerfile_ignore_file_and_options(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    opts = BuildOptions()

    def key(options: BuildOptions = opts, text: str | None = None) -> str:
        found = replay.request_key(ctx, None, text, options)
        assert found is not None and found[1] == ctx.resolve()
        return found[0]

    base = key()
    assert key() == base
    assert key(BuildOptions(build_args={"X": "1"})) != base
    assert key(BuildOptions(target="t")) != base
    assert key(BuildOptions(labels={"a": "b"})) != base
    assert key(BuildOptions(network="host")) != base
    assert key(BuildOptions(tags=["other:1"])) == base  # tags only name the result
    assert key(text="FROM scratch\n") != base
    (ctx / ".dockerignore").write_text("logs\n")
    assert key() != base
    (ctx / "Dockerfile").write_text("FROM scratch\n")
    (ctx / ".dockerignore").unlink()
    assert key() != base
    (ctx / "Dockerfile").unlink()
    assert replay.request_key(ctx, None, None, opts) is None  # the real build reports it


def test_record_round_trip(tmp_path: Path) -> None:
    record = replay.Record("sig", "sha256:" + "a" * 64, "sha256:" + "b" * 64,
                           {"busybox": ["docker.io/library/busybox:latest", "sha256:c"]},
                           ["[1/2] FROM x"], ["logs"])  # fmt: skip
    assert replay.Record.from_json(record.to_json()) == record
    assert replay.Record.from_json("{not json") is None
    assert replay.Record.from_json('{"unknown": 1}') is None
