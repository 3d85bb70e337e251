"""The registry server's distribution-spec endpoints and error codes, driven in-process over ASGI."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import bcrypt
import pytest
from starlette.testclient import TestClient

from dockyard.registry_server import ServerConfig, create_app


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    return TestClient(create_app(ServerConfig(root=tmp_path / "reg")))


def code_of(resp) -> str:
    return resp.json()["errors"][0]["code"]


def push_blob(client: TestClient, repo: str, data: bytes) -> str:
    digest = sha(data)
    r = client.post(f"/v2/{repo}/blobs/uploads/?digest={digest}", content=data)
    assert r.status_code == 201, r.text
    return digest


def image_manifest(client: TestClient, repo: str, layer: bytes = b"layer",
                   subject: dict | None = None, artifact_type: str = "") -> bytes:
    config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    body: dict = {
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": push_blob(client, repo, config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": push_blob(client, repo, layer), "size": len(layer)}],
    }
    if subject:
        body["subject"] = subject
    if artifact_type:
        body["artifactType"] = artifact_type
    return json.dumps(body).encode()


def put_manifest(client: TestClient, repo: str, ref: str, data: bytes):
    return client.put(f"/v2/{repo}/manifests/{ref}", content=data,
                      headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})


def test_base_answers_with_api_version(client: TestClient) -> None:
    r = client.get("/v2/")
    assert r.status_code == 200
    assert r.headers["docker-distribution-api-version"] == "registry/2.0"


def test_blob_get_head_and_ranges(client: TestClient) -> None:
    data = bytes(range(256)) * 40
    digest = push_blob(client, "a/b", data)
    r = client.head(f"/v2/a/b/blobs/{digest}")
    assert r.status_code == 200 and r.headers["content-length"] == str(len(data))
    assert r.headers["docker-content-digest"] == digest
    assert client.get(f"/v2/a/b/blobs/{digest}").content == data
    r = client.get(f"/v2/a/b/blobs/{digest}", headers={"Range": "bytes=500-1499"})
    assert r.status_code == 206 and r.content == data[500:1500]
    assert r.headers["content-range"] == f"bytes 500-1499/{len(data)}"
    assert client.get(f"/v2/a/b/blobs/{digest}", headers={"Range": "bytes=-500"}).content \
        == data[-500:]
    assert client.get(f"/v2/a/b/blobs/{digest}", headers={"Range": "bytes=500-"}).content \
        == data[500:]
    assert client.get(f"/v2/a/b/blobs/{digest}", headers={"Range": "bytes=20000-30000"}) \
        .status_code == 416
    # a blob is visible only in the repositories it was pushed or mounted to
    assert code_of(client.get(f"/v2/other/blobs/{digest}")) == "BLOB_UNKNOWN"


def test_post_then_put_and_chunked_uploads(client: TestClient) -> None:
    data = b"x" * 3000 + b"y" * 3000
    digest = sha(data)
    r = client.post("/v2/r/blobs/uploads/")
    assert r.status_code == 202
    loc = r.headers["location"]
    r = client.put(f"{loc}?digest={digest}", content=data)
    assert r.status_code == 201 and r.headers["location"] == f"/v2/r/blobs/{digest}"

    data2 = data + b"z"
    r = client.post("/v2/r/blobs/uploads/")
    loc = r.headers["location"]
    r = client.patch(loc, content=data2[:1000], headers={"Content-Range": "0-999"})
    assert r.status_code == 202 and r.headers["range"] == "0-999"
    r = client.patch(loc, content=data2[2000:3000], headers={"Content-Range": "2000-2999"})
    assert r.status_code == 416  # out of order
    r = client.get(loc)
    assert r.status_code == 204 and r.headers["range"] == "0-999"
    r = client.patch(loc, content=data2[1000:5000], headers={"Content-Range": "1000-4999"})
    assert r.status_code == 202
    r = client.put(f"{loc}?digest={sha(data2)}", content=data2[5000:],
                   headers={"Content-Range": f"5000-{len(data2) - 1}"})
    assert r.status_code == 201
    assert client.get(f"/v2/r/blobs/{sha(data2)}").content == data2


def test_wrong_digest_is_refused_and_nothing_stored(client: TestClient, tmp_path: Path) -> None:
    data = b"content"
    wrong = sha(b"other content")
    r = client.post(f"/v2/r/blobs/uploads/?digest={wrong}", content=data)
    assert r.status_code == 400 and code_of(r) == "DIGEST_INVALID"
    r = client.post("/v2/r/blobs/uploads/")
    r = client.put(f"{r.headers['location']}?digest={wrong}", content=data)
    assert r.status_code == 400 and code_of(r) == "DIGEST_INVALID"
    assert client.head(f"/v2/r/blobs/{wrong}").status_code == 404
    assert not list((tmp_path / "reg" / "blobs" / "sha256").iterdir())
    assert not list((tmp_path / "reg" / "uploads").iterdir())


def test_cancel_upload_and_unknown_upload(client: TestClient) -> None:
    loc = client.post("/v2/r/blobs/uploads/").headers["location"]
    assert client.delete(loc).status_code == 204
    r = client.patch(loc, content=b"x")
    assert r.status_code == 404 and code_of(r) == "BLOB_UPLOAD_UNKNOWN"


def test_cross_repository_mount(client: TestClient) -> None:
    digest = push_blob(client, "src/repo", b"shared layer")
    r = client.post(f"/v2/dst/blobs/uploads/?mount={digest}&from=src/repo")
    assert r.status_code == 201
    assert client.get(f"/v2/dst/blobs/{digest}").content == b"shared layer"
    missing = sha(b"nowhere")
    r = client.post(f"/v2/dst/blobs/uploads/?mount={missing}&from=src/repo")
    assert r.status_code == 202 and "/blobs/uploads/" in r.headers["location"]


def test_manifest_put_get_delete(client: TestClient) -> None:
    data = image_manifest(client, "app")
    r = put_manifest(client, "app", "v1", data)
    assert r.status_code == 201
    digest = r.headers["docker-content-digest"]
    assert digest == sha(data)
    for ref in ("v1", digest):
        r = client.get(f"/v2/app/manifests/{ref}")
        assert r.content == data
        assert r.headers["content-type"] == "application/vnd.oci.image.manifest.v1+json"
        assert r.headers["docker-content-digest"] == digest
        assert client.head(f"/v2/app/manifests/{ref}").status_code == 200
    assert client.delete("/v2/app/manifests/v1").status_code == 202
    assert code_of(client.get("/v2/app/manifests/v1")) == "MANIFEST_UNKNOWN"
    assert client.get(f"/v2/app/manifests/{digest}").status_code == 200
    assert client.delete(f"/v2/app/manifests/{digest}").status_code == 202
    assert client.get(f"/v2/app/manifests/{digest}").status_code == 404


def test_manifest_errors(client: TestClient) -> None:
    data = image_manifest(client, "app")
    r = put_manifest(client, "other", "v1", data)  # blobs were pushed to "app" only
    assert r.status_code == 400 and code_of(r) == "MANIFEST_BLOB_UNKNOWN"
    r = put_manifest(client, "app", sha(b"not it"), data)
    assert r.status_code == 400 and code_of(r) == "DIGEST_INVALID"
    r = put_manifest(client, "app", "sha256:baddigeststring", data)
    assert r.status_code == 400
    r = put_manifest(client, "app", "v1", b"{not json")
    assert r.status_code == 400 and code_of(r) == "MANIFEST_INVALID"
    r = put_manifest(client, "app", "v1", b" " * (5 << 20))
    assert r.status_code == 413
    assert client.get("/v2/app/manifests/nope").status_code == 404
    assert code_of(client.get("/v2/never/manifests/v1")) == "NAME_UNKNOWN"


@pytest.mark.parametrize("name", ["a/../b", "UPPER/case", "a//b", "-lead", "a" * 256])
def test_invalid_repository_names(client: TestClient, name: str) -> None:
    r = client.get(f"/v2/{name}/tags/list")
    assert r.status_code in (400, 404)
    if r.status_code == 400:
        assert code_of(r) == "NAME_INVALID"


def test_tag_list_pagination_and_catalog(client: TestClient) -> None:
    data = image_manifest(client, "app")
    for tag in ("c", "a", "b", "d"):
        assert put_manifest(client, "app", tag, data).status_code == 201
    assert client.get("/v2/app/tags/list").json() == {"name": "app", "tags": ["a", "b", "c", "d"]}
    r = client.get("/v2/app/tags/list?n=2")
    assert r.json()["tags"] == ["a", "b"] and 'rel="next"' in r.headers["link"]
    r = client.get("/v2/app/tags/list?n=2&last=b")
    assert r.json()["tags"] == ["c", "d"] and "link" not in r.headers
    r = client.get("/v2/app/tags/list?n=0")
    assert r.json()["tags"] == [] and "link" not in r.headers
    assert client.get("/v2/_catalog").json() == {"repositories": ["app"]}
    assert code_of(client.get("/v2/nothing/tags/list")) == "NAME_UNKNOWN"


def test_multi_tag_push_by_digest(client: TestClient) -> None:
    data = image_manifest(client, "app")
    r = client.put(f"/v2/app/manifests/{sha(data)}?tag=one&tag=two", content=data,
                   headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    assert r.status_code == 201
    assert client.get("/v2/app/tags/list").json()["tags"] == ["one", "two"]


def test_referrers(client: TestClient) -> None:
    subject_data = image_manifest(client, "app")
    put_manifest(client, "app", "v1", subject_data)
    subject = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
               "digest": sha(subject_data), "size": len(subject_data)}
    sig = image_manifest(client, "app", b"sig", subject=subject, artifact_type="x/sig")
    r = put_manifest(client, "app", sha(sig), sig)
    assert r.headers["oci-subject"] == sha(subject_data)
    sbom = image_manifest(client, "app", b"sbom", subject=subject, artifact_type="x/sbom")
    put_manifest(client, "app", sha(sbom), sbom)
    r = client.get(f"/v2/app/referrers/{sha(subject_data)}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.oci.image.index.v1+json")
    assert {d["digest"] for d in r.json()["manifests"]} == {sha(sig), sha(sbom)}
    r = client.get(f"/v2/app/referrers/{sha(subject_data)}?artifactType=x/sig")
    assert [d["digest"] for d in r.json()["manifests"]] == [sha(sig)]
    assert r.headers["oci-filters-applied"] == "artifactType"
    r = client.get(f"/v2/app/referrers/{sha(b'none')}")
    assert r.status_code == 200 and r.json()["manifests"] == []


def test_blob_delete(client: TestClient) -> None:
    digest = push_blob(client, "app", b"bye")
    assert client.delete(f"/v2/app/blobs/{digest}").status_code == 202
    assert client.head(f"/v2/app/blobs/{digest}").status_code == 404
    assert code_of(client.delete(f"/v2/app/blobs/{digest}")) == "BLOB_UNKNOWN"


def test_htpasswd_basic_auth(tmp_path: Path) -> None:
    hashed = bcrypt.hashpw(b"secret", bcrypt.gensalt(5)).decode().replace("$2b$", "$2y$")
    (tmp_path / "htpasswd").write_text(f"alice:{hashed}\n")
    client = TestClient(create_app(ServerConfig(root=tmp_path / "reg",
                                                htpasswd=tmp_path / "htpasswd")))
    r = client.get("/v2/")
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
    assert code_of(r) == "UNAUTHORIZED"
    assert client.get("/v2/", auth=("alice", "wrong")).status_code == 401
    assert client.get("/v2/", auth=("alice", "secret")).status_code == 200


def test_token_auth_and_read_only(tmp_path: Path) -> None:
    hashed = bcrypt.hashpw(b"secret", bcrypt.gensalt(5)).decode()
    (tmp_path / "htpasswd").write_text(f"alice:{hashed}\n")
    client = TestClient(create_app(ServerConfig(
        root=tmp_path / "reg", htpasswd=tmp_path / "htpasswd", token_auth=True)))
    r = client.get("/v2/x/tags/list")
    assert r.status_code == 401
    assert 'scope="repository:x:pull"' in r.headers["www-authenticate"]
    assert client.get("/token?scope=repository:x:pull").status_code == 401
    assert client.get("/token?scope=repository:x:pull", auth=("alice", "no")).status_code == 401
    token = client.get("/token?scope=repository:x:pull", auth=("alice", "secret")).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/v2/x/tags/list", headers=headers).status_code == 404  # allowed, empty
    assert client.post("/v2/x/blobs/uploads/", headers=headers).status_code == 401  # no push
    ro = TestClient(create_app(ServerConfig(root=tmp_path / "ro", read_only=True)))
    r = ro.post("/v2/x/blobs/uploads/")
    assert r.status_code == 405 and code_of(r) == "UNSUPPORTED"


def test_every_spec_endpoint_is_served(client: TestClient, conformance_dir: Path) -> None:
    """Each endpoint of the spec's table answers one of its success codes here."""
    spec = json.loads((conformance_dir / "distribution-spec-endpoints.json").read_text())
    data = image_manifest(client, "app")
    digest = sha(data)
    put_manifest(client, "app", "v1", data)
    blob = push_blob(client, "app", b"blob")

    def upload() -> str:
        return client.post("/v2/app/blobs/uploads/").headers["location"]

    calls = {
        "end-1": lambda: client.get("/v2/"),
        "end-2": lambda: client.get(f"/v2/app/blobs/{blob}"),
        "end-3": lambda: client.get("/v2/app/manifests/v1"),
        "end-4a": lambda: client.post("/v2/app/blobs/uploads/"),
        "end-4b": lambda: client.post(f"/v2/app/blobs/uploads/?digest={sha(b'm')}", content=b"m"),
        "end-4c": lambda: client.post("/v2/app/blobs/uploads/?digest-algorithm=sha256"),
        "end-5": lambda: client.patch(upload(), content=b"c", headers={"Content-Range": "0-0"}),
        "end-6": lambda: client.put(f"{upload()}?digest={sha(b'p')}", content=b"p"),
        "end-7a": lambda: put_manifest(client, "app", "v2", data),
        "end-7b": lambda: client.put(f"/v2/app/manifests/{digest}?tag=t1&tag=t2", content=data,
                                     headers={"Content-Type":
                                              "application/vnd.oci.image.manifest.v1+json"}),
        "end-8a": lambda: client.get("/v2/app/tags/list"),
        "end-8b": lambda: client.get("/v2/app/tags/list?n=1&last=a"),
        "end-9": lambda: client.delete("/v2/app/manifests/t2"),
        "end-10": lambda: client.delete(f"/v2/app/blobs/{blob}"),
        "end-11": lambda: client.post(f"/v2/other/blobs/uploads/?mount={digest}&from=app"),
        "end-12a": lambda: client.get(f"/v2/app/referrers/{digest}"),
        "end-12b": lambda: client.get(f"/v2/app/referrers/{digest}?artifactType=a/b"),
        "end-13": lambda: client.get(upload()),
        "end-14": lambda: client.delete(upload()),
    }
    for endpoint in spec["endpoints"]:
        resp = calls[endpoint["id"]]()
        assert resp.status_code in endpoint["success"], (endpoint["id"], resp.status_code,
                                                         resp.text)
        if resp.status_code >= 400:
            assert code_of(resp) in {c["code"] for c in spec["error_codes"]}
