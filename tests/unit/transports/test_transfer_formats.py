"""load reads the older Docker layout, OCI layout directories and oci-archives with compressed layers."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import BinaryIO, cast

import zstandard
from archive_helpers import archive, config_for, layer_tar, sha

from dockyard.engine import transfer
from dockyard.store import Store

LAYER_A = layer_tar({"a.txt": b"first layer\n" * 100})
LAYER_B = layer_tar({"b.txt": b"second layer\n" * 100})


def test_legacy_docker_layout_with_symlinked_layer(new_store: Store) -> None:
    # pre-Docker-25: <id>/layer.tar (+ VERSION, json), <config-hex>.json; a repeated layer is a
    # relative symlink to the first copy
    diff_ids = [sha(LAYER_A), sha(LAYER_B), sha(LAYER_A)]
    config = config_for(diff_ids)
    config_hex = sha(config)[7:]
    ids = ["1" * 64, "2" * 64, "3" * 64]
    manifest = [{"Config": f"{config_hex}.json", "RepoTags": ["legacy/app:v1"],
                 "Layers": [f"{i}/layer.tar" for i in ids]}]
    data = archive([
        (f"{ids[0]}/VERSION", b"1.0"), (f"{ids[0]}/json", b"{}"), (f"{ids[0]}/layer.tar", LAYER_A),
        (f"{ids[1]}/VERSION", b"1.0"), (f"{ids[1]}/json", b"{}"), (f"{ids[1]}/layer.tar", LAYER_B),
        (f"{ids[2]}/VERSION", b"1.0"), (f"{ids[2]}/json", b"{}"),
        (f"{ids[2]}/layer.tar", f"->../{ids[0]}/layer.tar"),
        (f"{config_hex}.json", config),
        ("manifest.json", json.dumps(manifest).encode()),
        ("repositories", json.dumps({"legacy/app": {"v1": ids[2]}}).encode()),
    ])
    loaded = transfer.load(new_store, cast(BinaryIO, io.BytesIO(data)))
    assert [(i.id, i.messages()) for i in loaded] == [(sha(config), ["Loaded image: legacy/app:v1"])]
    image = new_store.image("legacy/app:v1")
    assert image.diff_ids == diff_ids
    assert [str(d.digest) for d in image.layers] == diff_ids
    assert new_store.content.read_bytes(diff_ids[1]) == LAYER_B


def _oci_layout(root: Path, layers: list[tuple[bytes, str]], ref_name: str | None) -> bytes:
    """Write an OCI layout (compressed layers as given) under `root`; returns the config."""
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    config = config_for([sha(plain) for plain, _ in layers])
    descs = []
    for plain, kind in layers:
        if kind == "gzip":
            blob, media = gzip.compress(plain), "application/vnd.oci.image.layer.v1.tar+gzip"
        elif kind == "zstd":
            blob, media = zstandard.ZstdCompressor().compress(plain), \
                "application/vnd.oci.image.layer.v1.tar+zstd"
        else:
            blob, media = plain, "application/vnd.oci.image.layer.v1.tar"
        (blobs / sha(blob)[7:]).write_bytes(blob)
        descs.append({"mediaType": media, "digest": sha(blob), "size": len(blob)})
    (blobs / sha(config)[7:]).write_bytes(config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha(config), "size": len(config)},
        "layers": descs}).encode()
    (blobs / sha(manifest)[7:]).write_bytes(manifest)
    entry: dict[str, object] = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                "digest": sha(manifest), "size": len(manifest)}
    if ref_name:
        entry["annotations"] = {"org.opencontainers.image.ref.name": ref_name}
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [entry]}))
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return config


def test_oci_layout_directory_with_gzip_and_zstd_layers(tmp_path: Path, new_store: Store) -> None:
    big = layer_tar({"big.bin": bytes(range(256)) * 8192})  # 2 MiB: spooled, not kept in memory
    config = _oci_layout(tmp_path / "layout", [(LAYER_A, "gzip"), (big, "zstd"), (LAYER_B, "none")],
                         "localhost/oci/app:2")
    loaded = transfer.load(new_store, tmp_path / "layout")
    assert loaded[0].id == sha(config)
    assert loaded[0].messages() == ["Loaded image: localhost/oci/app:2"]
    image = new_store.image("localhost/oci/app:2")
    # stored uncompressed, each layer's digest is its diff ID
    assert [str(d.digest) for d in image.layers] == [sha(LAYER_A), sha(big), sha(LAYER_B)]
    assert new_store.content.read_bytes(sha(big)) == big


def test_oci_archive_with_bare_tag_is_untagged(tmp_path: Path, new_store: Store) -> None:
    layout = tmp_path / "layout"
    config = _oci_layout(layout, [(LAYER_A, "gzip")], "latest")
    entries = [(p.relative_to(layout).as_posix(), p.read_bytes())
               for p in sorted(layout.rglob("*")) if p.is_file()]
    data = archive(cast(list[tuple[str, bytes | str]], entries))
    loaded = transfer.load(new_store, cast(BinaryIO, io.BytesIO(data)))
    assert loaded[0].messages() == [f"Loaded image ID: {sha(config)}"]
    assert new_store.image(sha(config)).diff_ids == [sha(LAYER_A)]
