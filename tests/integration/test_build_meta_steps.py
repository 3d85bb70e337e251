"""Metadata-only steps (ENV, LABEL, EXPOSE, CMD, ...) write no image of their own: a stage's
image is written once; the cache still gives back the very same image on a rebuild."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.dybuild import Dockyard, _context

pytestmark = pytest.mark.integration


META_ONLY = """\
FROM busybox
ENV A=1 B=2
LABEL org.example.a=1
LABEL org.example.b=2
EXPOSE 80 443/udp
USER app
STOPSIGNAL SIGINT
ENTRYPOINT ["sh"]
CMD ["-c", "echo hi"]
"""
MIXED = """\
FROM busybox
ENV A=1
LABEL stage=one
RUN echo $A > /a
LABEL stage=two
ENV B=2
CMD ["cat", "/a"]
"""


def _blobs(dy: Dockyard) -> set[str]:
    return {p.name for p in (dy.root / "blobs" / "sha256").iterdir()}


def _records(dy: Dockyard) -> int:
    from dockyard.store import Store

    with Store(dy.root) as store:
        store.db.ensure()
        return int(store.db.query("SELECT COUNT(*) AS n FROM build_cache")[0]["n"])


def test_metadata_steps_write_one_image_and_rebuild_to_the_same_id(
    dy: Dockyard, tmp_path: Path
) -> None:
    ctx = _context(tmp_path, META_ONLY)
    before = _blobs(dy)
    first = dy.build(ctx, "-q", "-t", "m:1").stdout.strip()
    # the start image (busybox as BuildKit sees it) and the final one: 2 configs + 2 manifests,
    # not one pair per ENV/LABEL/EXPOSE/USER/STOPSIGNAL/ENTRYPOINT/CMD step
    assert len(_blobs(dy) - before) == 4
    assert _records(dy) == 1
    config = dy.config("m:1")
    cfg = config["config"]
    assert cfg["Env"][-2:] == ["A=1", "B=2"] and cfg["User"] == "app"
    assert cfg["Labels"] == {"org.example.a": "1", "org.example.b": "2"}
    assert cfg["ExposedPorts"] == {"443/udp": {}, "80/tcp": {}} and cfg["StopSignal"] == "SIGINT"
    created_by = [h.get("created_by", "") for h in config["history"]][-8:]
    assert created_by == ["ENV A=1 B=2", "LABEL org.example.a=1", "LABEL org.example.b=2",
                          "EXPOSE map[443/udp:{} 80/tcp:{}]", "USER app", "STOPSIGNAL SIGINT",
                          'ENTRYPOINT ["sh"]', 'CMD ["-c" "echo hi"]']  # fmt: skip
    assert all(h.get("empty_layer") for h in config["history"][-8:])
    # a rebuild through the executor (the context changed, so no replay) hits the cache and
    # gives back the same image, history times included
    (ctx / "unrelated.txt").write_text("x\n")
    again = dy.build(ctx, "-q", "-t", "m:2").stdout.strip()
    assert again == first


def test_metadata_around_a_layer_step_keeps_ids_stable(dy: Dockyard, tmp_path: Path) -> None:
    ctx = _context(tmp_path, MIXED)
    first = dy.build(ctx, "-q", "-t", "mx:1").stdout.strip()
    config = dy.config("mx:1")
    history = config["history"][-6:]
    assert [h.get("created_by", "") for h in history] == [
        "ENV A=1", "LABEL stage=one", "RUN /bin/sh -c echo $A > /a # buildkit",
        "LABEL stage=two", "ENV B=2", 'CMD ["cat" "/a"]']  # fmt: skip
    assert [h.get("empty_layer", False) for h in history] == [True, True, False, True, True, True]
    assert dy.read_file("mx:1", "/a") == b"1\n"
    assert config["config"]["Labels"] == {"stage": "two"}
    (ctx / "unrelated.txt").write_text("x\n")
    second = dy.build(ctx, "-t", "mx:2")
    assert "#3 CACHED" in second.stderr or second.stderr.count("CACHED") == 1
    assert dy("images", "-q", "--no-trunc", "mx:2").stdout.strip() == first
    # a changed metadata step after the RUN: the RUN still hits, only the final image is new
    (ctx / "Dockerfile").write_text(MIXED.replace("ENV B=2", "ENV B=3"))
    third = dy.build(ctx, "-q", "-t", "mx:3").stdout.strip()
    assert third != first
    assert dy.config("mx:3")["rootfs"] == config["rootfs"]
    # everything up to the RUN comes from its cache entry, times included; the metadata steps
    # after the last stored image are applied afresh (they have no cache entries of their own)
    assert dy.config("mx:3")["history"][:-3] == config["history"][:-3]
