"""A read-only registry serves what it holds and refuses every write with UNSUPPORTED (405);
certs.d lookup finds CA roots and client certificate pairs as Docker does."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from dockyard.errors import InvalidArgument
from dockyard.registry_server import ServerConfig, create_app
from dockyard.transports.registry.tls import tls_files


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_read_only_serves_but_refuses_writes(tmp_path: Path) -> None:
    root = tmp_path / "reg"
    writable = TestClient(create_app(ServerConfig(root=root)))
    layer, config = b"layer bytes", b'{"rootfs":{"type":"layers","diff_ids":[]}}'
    for blob in (layer, config):
        assert writable.post(f"/v2/a/b/blobs/uploads/?digest={sha(blob)}",
                             content=blob).status_code == 201
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": sha(layer), "size": len(layer)}]}).encode()
    headers = {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
    assert writable.put("/v2/a/b/manifests/v1", content=manifest,
                        headers=headers).status_code == 201
    upload = writable.post("/v2/a/b/blobs/uploads/").headers["location"]

    ro = TestClient(create_app(ServerConfig(root=root, read_only=True)))
    assert ro.get("/v2/a/b/manifests/v1", headers={"Accept": headers["Content-Type"]}).content \
        == manifest
    assert ro.get(f"/v2/a/b/blobs/{sha(layer)}").content == layer
    assert ro.get("/v2/a/b/tags/list").json()["tags"] == ["v1"]
    refused = [
        ro.post("/v2/a/b/blobs/uploads/"),
        ro.post(f"/v2/c/d/blobs/uploads/?mount={sha(layer)}&from=a/b"),
        ro.patch(upload, content=b"more"),
        ro.put(upload + f"?digest={sha(b'more')}", content=b"more"),
        ro.put("/v2/a/b/manifests/v2", content=manifest, headers=headers),
        ro.delete("/v2/a/b/manifests/v1"),
        ro.delete(f"/v2/a/b/blobs/{sha(layer)}"),
    ]
    for r in refused:
        assert r.status_code == 405, r.request.url
        assert r.json()["errors"][0]["code"] == "UNSUPPORTED"
    # nothing changed
    assert writable.get("/v2/a/b/tags/list").json()["tags"] == ["v1"]
    assert writable.get(f"/v2/a/b/blobs/{sha(layer)}").status_code == 200
    assert writable.get("/v2/c/d/tags/list").status_code == 404


def test_certs_d_lookup(tmp_path: Path) -> None:
    host = tmp_path / "docker" / "reg.example:5000"
    host.mkdir(parents=True)
    (host / "ca.crt").write_text("ca")
    (host / "client.cert").write_text("cert")
    (host / "client.key").write_text("key")
    (host / "notes.txt").write_text("ignored")
    other = tmp_path / "containers" / "reg.example:5000"
    other.mkdir(parents=True)
    (other / "extra.crt").write_text("ca2")
    cas, pairs = tls_files("reg.example:5000", [tmp_path / "docker", tmp_path / "containers"])
    assert cas == [host / "ca.crt", other / "extra.crt"]
    assert pairs == [(host / "client.cert", host / "client.key")]
    assert tls_files("reg.example", [tmp_path / "docker"]) == ([], [])  # the port matters
    (host / "client.key").unlink()
    with pytest.raises(InvalidArgument, match="has no key"):
        tls_files("reg.example:5000", [tmp_path / "docker"])
