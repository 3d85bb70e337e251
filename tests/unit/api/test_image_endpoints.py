"""The API app over a temporary store: ping/version, and images imported, listed, saved, loaded."""

from __future__ import annotations

import io
import json
import tarfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.busybox import make_rootfs_tar

from dockyard.api.app import StripVersion, create_app

with warnings.catch_warnings():  # Starlette 1.x prefers httpx2 for its test client; httpx works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(StripVersion(create_app(tmp_path / "root"))) as c:
        yield c


@pytest.fixture
def imported(client: TestClient, tmp_path: Path) -> str:
    tar = make_rootfs_tar(tmp_path / "rootfs.tar", tmp_path)
    resp = client.post("/v1.45/images/create?fromSrc=-&repo=busybox&tag=latest", content=tar.read_bytes())
    assert resp.status_code == 200
    image_id = json.loads(resp.text.splitlines()[-1])["status"]
    assert image_id.startswith("sha256:")
    return str(image_id)


def test_ping_and_version_negotiate_an_api_version(client: TestClient) -> None:
    ping = client.head("/_ping")
    assert ping.status_code == 200 and ping.headers["api-version"] == "1.45"
    assert client.get("/_ping").text == "OK"
    version = client.get("/v1.50/version").json()
    assert (version["ApiVersion"], version["MinAPIVersion"]) == ("1.45", "1.24")


def test_unknown_paths_and_missing_objects_answer_docker_s_error_shape(client: TestClient) -> None:
    missing = client.get("/v1.45/images/nope:1/json")
    assert missing.status_code == 404 and "No such image: nope:1" in missing.json()["message"]
    assert client.get("/v1.45/nothing/here").json() == {"message": "page not found"}
    bad = client.post("/containers/create", content=b"{not json")
    assert bad.status_code == 400


def test_tag_list_inspect_history_and_remove(client: TestClient, imported: str) -> None:
    assert client.post("/images/busybox/tag?repo=example.com/team/box&tag=v1").status_code == 201
    listed = client.get("/images/json").json()
    assert [(i["Id"], sorted(i["RepoTags"])) for i in listed] == [
        (imported, ["busybox:latest", "example.com/team/box:v1"])]  # fmt: skip
    assert client.get("/images/example.com/team/box:v1/json").json()["Id"] == imported
    history = client.get("/images/busybox/history").json()
    assert history[0]["Id"] == imported and history[0]["Comment"] == "Imported from -"
    gone = client.delete("/images/example.com/team/box:v1").json()
    assert gone == [{"Untagged": "example.com/team/box:v1"}]
    assert client.delete("/images/busybox").json() == [{"Untagged": "busybox:latest"},
                                                       {"Deleted": imported}]  # fmt: skip
    assert client.get("/images/json").json() == []


def test_save_then_load_restores_the_image(client: TestClient, imported: str) -> None:
    saved = client.get("/images/get?names=busybox:latest")
    assert saved.status_code == 200 and saved.headers["content-type"] == "application/x-tar"
    with tarfile.open(fileobj=io.BytesIO(saved.content)) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert manifest[0]["RepoTags"] == ["busybox:latest"]
    client.delete("/images/busybox")
    loaded = client.post("/images/load", content=saved.content)
    assert [json.loads(line) for line in loaded.text.splitlines()] == [{"stream": "Loaded image: busybox:latest\n"}]
    assert client.get("/images/busybox/json").json()["Id"] == imported
    assert client.get("/images/get?names=nope").status_code == 404


def test_a_broken_load_reports_an_error_message_in_the_stream(client: TestClient) -> None:
    resp = client.post("/images/load", content=b"this is not a tar")
    last = json.loads(resp.text.splitlines()[-1])
    assert "error" in last and last["errorDetail"]["message"] == last["error"]
