"""Image index: add, tag, untag, resolve by name / digest / full and short ID, concurrency."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.errors import InvalidArgument, NotFound
from dockyard.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "root")
    yield s
    s.close()


def fake_image(store: Store, n: int) -> tuple[str, str]:
    """Write a config + manifest pair; returns (manifest digest, config digest)."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "n": n,
                         "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    config_digest = store.content.write_bytes(config)
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": len(config)},
        "layers": [],
    }).encode()
    return store.content.write_bytes(manifest), config_digest


def test_add_normalizes_names_and_resolves(store: Store) -> None:
    m, c = fake_image(store, 1)
    rec = store.images.add(m, c, ["alpine", "localhost:5000/team/app:v1"])
    assert rec.id == c
    assert rec.manifest_digest == m
    assert sorted(rec.names) == ["docker.io/library/alpine:latest", "localhost:5000/team/app:v1"]
    for ref in ("alpine", "alpine:latest", "docker.io/library/alpine", "localhost:5000/team/app:v1",
                c, c[7:], c[7:19], f"alpine@{m}"):
        assert store.images.resolve(ref).id == c, ref


def test_missing_and_invalid(store: Store) -> None:
    with pytest.raises(NotFound, match="No such image: nothere:latest"):
        store.images.resolve("nothere")
    with pytest.raises(InvalidArgument, match="must be lowercase"):
        store.images.resolve("Alpine")
    with pytest.raises(NotFound):
        store.images.resolve("sha256:" + "0" * 64)
    with pytest.raises(InvalidArgument, match="invalid digest"):
        store.images.add("sha256:xyz", "sha256:" + "0" * 64, [])


def test_short_id_ambiguous(store: Store) -> None:
    ids = []
    for n in range(40):  # enough images that two share a first hex digit
        m, c = fake_image(store, n)
        store.images.add(m, c, [])
        ids.append(c)
    first = [i[7] for i in ids]
    shared = next(ch for ch in first if first.count(ch) > 1)
    with pytest.raises(InvalidArgument, match="ambiguous"):
        store.images.resolve(shared)
    # a longer unique prefix resolves
    assert store.images.resolve(ids[0][7:20]).id == ids[0]


def test_tag_moves_name_and_untag_leaves_dangling(store: Store) -> None:
    m1, c1 = fake_image(store, 1)
    m2, c2 = fake_image(store, 2)
    store.images.add(m1, c1, ["app:1"])
    store.images.add(m2, c2, [])
    store.images.tag("app:1", m2)
    assert store.images.resolve("app:1").id == c2
    assert store.images.get(c1).names == []  # left dangling, still present
    store.images.untag("app:1")
    with pytest.raises(NotFound):
        store.images.resolve("app:1")
    with pytest.raises(NotFound):
        store.images.untag("app:1")
    with pytest.raises(InvalidArgument):
        store.images.tag("app@sha256:" + "a" * 64, m2)


def test_remove_forgets_everything(store: Store) -> None:
    m, c = fake_image(store, 1)
    store.images.add(m, c, ["a", "b:2"], repo_digests=["docker.io/library/a@" + m])
    store.images.remove(c)
    assert store.images.list() == []
    for ref in ("a", "b:2", c):
        with pytest.raises(NotFound):
            store.images.resolve(ref)
    # blobs stay until garbage collection
    assert store.content.has(m) and store.content.has(c)


def test_repo_digest_resolves(store: Store) -> None:
    m, c = fake_image(store, 1)
    remote = "sha256:" + hashlib.sha256(b"registry manifest").hexdigest()
    store.images.add(m, c, ["busybox"], repo_digests=[f"docker.io/library/busybox@{remote}"])
    assert store.images.resolve(f"busybox@{remote}").id == c
    assert store.images.get(c).repo_digests == [f"docker.io/library/busybox@{remote}"]


_WORKER = textwrap.dedent(
    """
    import json, sys
    from dockyard.store import Store
    s = Store(sys.argv[1])
    w = int(sys.argv[2])
    for i in range(40):
        cfg = json.dumps({"w": w, "i": i}).encode()
        c = s.content.write_bytes(cfg)
        m = s.content.write_bytes(json.dumps({"config": c}).encode())
        s.images.add(m, c, [f"w{w}:{i}", "shared:latest"])
        if i % 3 == 0:
            s.images.untag(f"w{w}:{i}")
    """
)


def test_two_processes_write_at_once(tmp_path: Path) -> None:
    root = tmp_path / "root"
    Store(root).close()
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, str(root), str(w)],
                              stderr=subprocess.PIPE) for w in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    s = Store(root)
    images = s.images.list()
    assert len(images) == 80
    names = [n for r in images for n in r.names]
    assert len(names) == len(set(names))  # every name on exactly one image
    assert names.count("docker.io/library/shared:latest") == 1
    assert len([n for n in names if n.startswith("docker.io/library/w")]) == 2 * (40 - 14)
    assert s.db.query("PRAGMA integrity_check")[0][0] == "ok"
    s.close()


def test_adding_a_stored_image_again_keeps_its_other_names(store: Store) -> None:
    # `build -t keep1` then the same build with `-t keep2`: both names stay (docker keeps both).
    manifest, config = fake_image(store, 7)
    store.images.add(manifest, config, ["keep1"])
    store.images.add(manifest, config, ["keep2"])
    store.images.add(manifest, config, [])
    assert store.images.resolve("keep1").id == config
    assert store.images.resolve("keep2").id == config
    assert sorted(store.images.get(config).names) == [
        "docker.io/library/keep1:latest",
        "docker.io/library/keep2:latest",
    ]
