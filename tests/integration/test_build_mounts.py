"""`RUN --mount` (cache, bind, tmpfs, secret) on the real runc and overlayfs, busybox base."""

from __future__ import annotations

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


def _layers(dy: Dockyard, ref: str) -> int:
    return len(dy.config(ref)["rootfs"]["diff_ids"])


def test_cache_mount_persists_across_no_cache_builds_and_stays_out_of_the_image(
    dy: Dockyard, tmp_path: Path
) -> None:
    dockerfile = """\
FROM busybox
RUN --mount=type=cache,target=/root/.cache/demo echo run >> /root/.cache/demo/log
RUN --mount=type=cache,target=/root/.cache/demo,sharing=locked wc -l < /root/.cache/demo/log > /count
"""
    ctx = _context(tmp_path, dockerfile)
    dy.build(ctx, "--no-cache", "-t", "cm:1")
    assert dy.read_file("cm:1", "/count").strip() == b"1"
    dy.build(ctx, "--no-cache", "-t", "cm:2")
    assert dy.read_file("cm:2", "/count").strip() == b"2"  # the first build's line is still there
    # never part of a layer: the step that wrote only into the cache committed no layer at all
    # (its mount point and the copied-up /root are gone), the next one only /count
    assert _missing(dy, "cm:2", "/root/.cache")
    base = _layers(dy, "busybox")
    assert _layers(dy, "cm:2") == base + 1
    history = [h for h in dy.config("cm:2")["history"] if "RUN" in h.get("created_by", "")]
    assert [h.get("empty_layer", False) for h in history] == [True, False]
    # builder prune removes the cache directories
    cache_root = dy.root / "build-mounts" / "cache"
    assert any(p.is_dir() for p in cache_root.iterdir())
    dy("builder", "prune", "-f")
    assert not any(p.is_dir() for p in cache_root.iterdir())
    dy.build(ctx, "--no-cache", "-t", "cm:3")
    assert dy.read_file("cm:3", "/count").strip() == b"1"


def test_bind_mount_reads_the_context_without_copying_it(dy: Dockyard, tmp_path: Path) -> None:
    dockerfile = """\
FROM busybox
RUN --mount=type=bind,source=data.txt,target=/mnt/data.txt cp /mnt/data.txt /out.txt
RUN --mount=target=/ctx sh -c 'cat /ctx/sub/inner.txt > /inner.txt; touch /ctx/new 2>/dev/null && echo rw > /ro-check || echo ro > /ro-check'
RUN --mount=type=bind,target=/ctx,rw sh -c 'echo scratch > /ctx/written && cat /ctx/written > /rw.txt'
"""
    ctx = _context(tmp_path, dockerfile, {"data.txt": "payload\n", "sub/inner.txt": "inner\n",
                                          "secret.key": "hidden\n",
                                          ".dockerignore": "secret.key\n"})  # fmt: skip
    dy.build(ctx, "-t", "bm:1")
    assert dy.read_file("bm:1", "/out.txt") == b"payload\n"
    assert dy.read_file("bm:1", "/inner.txt") == b"inner\n"
    assert dy.read_file("bm:1", "/ro-check") == b"ro\n"  # read-only unless rw
    assert dy.read_file("bm:1", "/rw.txt") == b"scratch\n"
    assert not (ctx / "written").exists() and not (ctx / "new").exists()  # rw changes dropped
    assert _missing(dy, "bm:1", "/mnt") and _missing(dy, "bm:1", "/ctx")
    # the bound files are part of the step's cache key
    again = dy.build(ctx, "-t", "bm:1")
    assert again.stderr.count("CACHED") == 3
    (ctx / "data.txt").write_text("changed\n")
    third = dy.build(ctx, "-t", "bm:2")
    assert dy.read_file("bm:2", "/out.txt") == b"changed\n"
    assert "CACHED" not in third.stderr.split("RUN --mount=type=bind,source=data.txt")[1].split("\n\n")[0]


def test_bind_mount_respects_dockerignore(dy: Dockyard, tmp_path: Path) -> None:
    dockerfile = "FROM busybox\nRUN --mount=target=/ctx ls /ctx > /listing\n"
    ctx = _context(tmp_path, dockerfile, {"keep.txt": "k\n", "secret.key": "s\n",
                                          ".dockerignore": "secret.key\n"})  # fmt: skip
    dy.build(ctx, "-t", "bi:1")
    listing = dy.read_file("bi:1", "/listing").split()
    assert b"keep.txt" in listing and b"secret.key" not in listing


def test_bind_mount_from_a_stage(dy: Dockyard, tmp_path: Path) -> None:
    dockerfile = """\
FROM busybox AS tools
RUN mkdir -p /opt/tool && echo from-stage > /opt/tool/msg
FROM busybox
RUN --mount=type=bind,from=tools,source=/opt/tool,target=/t cat /t/msg > /msg
"""
    dy.build(_context(tmp_path, dockerfile), "-t", "bs:1")
    assert dy.read_file("bs:1", "/msg") == b"from-stage\n"
    assert _missing(dy, "bs:1", "/opt/tool")


def test_tmpfs_mount(dy: Dockyard, tmp_path: Path) -> None:
    dockerfile = """\
FROM busybox
RUN --mount=type=tmpfs,target=/scratch,size=1m sh -c 'echo x > /scratch/f && grep " /scratch " /proc/mounts > /mounts'
"""
    dy.build(_context(tmp_path, dockerfile), "-t", "tm:1")
    line = dy.read_file("tm:1", "/mounts")
    assert b"tmpfs" in line and b"size=1024k" in line
    assert _missing(dy, "tm:1", "/scratch")


def test_secret_is_readable_in_run_and_absent_from_layers_config_and_history(
    dy: Dockyard, tmp_path: Path
) -> None:
    value = "s3cr3t-value-71c9"
    dockerfile = """\
FROM busybox
RUN --mount=type=secret,id=tok wc -c < /run/secrets/tok > /ok1
RUN --mount=type=secret,id=tok,env=TOKEN,target=/etc/tok.txt sh -c 'test "$TOKEN" = "$(cat /etc/tok.txt)" && echo env-ok > /ok2'
RUN --mount=type=secret,id=absent true
"""
    ctx = _context(tmp_path, dockerfile)
    secret_file = tmp_path / "outside" / "tok.txt"
    secret_file.parent.mkdir()
    secret_file.write_text(value)
    dy.build(ctx, "--secret", f"id=tok,src={secret_file}", "-t", "sec:1")
    assert dy.read_file("sec:1", "/ok1").strip() == str(len(value)).encode()  # it was readable
    assert dy.read_file("sec:1", "/ok2") == b"env-ok\n"
    assert _missing(dy, "sec:1", "/run") and _missing(dy, "sec:1", "/etc/tok.txt")
    # nowhere in the store: not in a layer blob, the config, the history or the metadata
    for path in dy.root.rglob("*"):
        if path.is_file():
            assert value.encode() not in path.read_bytes(), path
    # not part of the cache key by value: another value reuses the steps
    secret_file.write_text("other-value")
    again = dy.build(ctx, "--secret", f"id=tok,src={secret_file}", "-t", "sec:2")
    assert again.stderr.count("CACHED") == 3
    # an env var secret, and a required secret that is missing
    env_ctx = _context(tmp_path / "e", "FROM busybox\nRUN --mount=type=secret,id=API,env=API,required"
                       " sh -c 'test \"$API\" = from-env && echo ok > /ok'\n")  # fmt: skip
    import os
    import subprocess
    import sys

    from helpers.dybuild import DOCKYARD

    env = {**os.environ, "API": "from-env"}
    proc = subprocess.run([*DOCKYARD, "--root", str(dy.root), "build", "--progress", "plain",
                           "--secret", "id=API", "-t", "env:1", str(env_ctx)],
                          capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert dy.read_file("env:1", "/ok") == b"ok\n"
    missing = dy.build(env_ctx, "--no-cache", "-t", "env:2", check=False)
    assert missing.returncode != 0 and "secret API not found" in missing.stderr
    assert sys.executable  # the CLI ran under this interpreter
