"""Audit of issues #3 and #6 gaps: rmi of an image a container uses; build FROM a registry, push,
pull into a fresh store and run (same ID, same answer); blobs already stored are skipped; the
registry server killed in the middle of an upload keeps what it had and resumes it."""

from __future__ import annotations

import hashlib
import os
import signal
from pathlib import Path

import httpx
import pytest
from helpers.registry import Dy, Server, start_dockyard_registry

pytestmark = pytest.mark.integration


def test_rmi_refuses_an_image_a_container_uses(
    tmp_path: Path, env: dict[str, str], busybox_tar: Path
) -> None:
    dy = Dy(tmp_path / "store", env)
    image = dy("import", str(busybox_tar), "bb:1").stdout.strip()
    container = dy("create", "--network", "none", "bb:1", "true").stdout.strip()
    try:
        refused = dy("rmi", "bb:1", check=False)
        assert refused.returncode == 125 and "Traceback" not in refused.stderr
        assert "a container is using its referenced image" in refused.stderr
        refused = dy("rmi", image[7:19], check=False)
        assert refused.returncode == 125 and "being used by a container" in refused.stderr
        assert "deleted" not in dy("image", "prune", "-a", "-f").stdout
        assert dy.image_id("bb:1") == image
        # -f only untags: the container keeps its image
        assert dy("rmi", "-f", "bb:1").stdout == "Untagged: bb:1\n"
        assert dy("images", "-q", "--no-trunc", "--filter", "dangling=true").stdout.split() == [
            image
        ]
    finally:
        dy("rm", "-f", container)
    assert f"deleted: {image}" in dy("image", "prune", "-f").stdout
    assert dy("images", "-a", "-q").stdout == ""


def test_build_from_the_registry_push_pull_run_round_trip(
    tmp_path: Path, env: dict[str, str], busybox_tar: Path, ours: Server
) -> None:
    builder = Dy(tmp_path / "builder", env)
    base, app = f"{ours.host}/lib/busybox:1", f"{ours.host}/app/answer:1"
    builder("import", str(busybox_tar), base)
    builder("push", base)
    builder("rmi", base)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        f'FROM {base}\nRUN echo "the answer is $((6 * 7))" > /answer\nCMD ["cat", "/answer"]\n'
    )
    built = builder("build", "--network", "none", "--progress", "plain", "-t", app, str(ctx))
    assert f"pulling {base}" in built.stdout + built.stderr  # FROM went through the client
    built_id = builder.image_id(app)
    answer = builder("run", "--rm", "--network", "none", app).stdout
    assert answer == "the answer is 42\n"
    assert "1: digest: sha256:" in builder("push", app).stdout
    builder("rmi", app)
    # a fresh store: every blob comes from the registry
    puller = Dy(tmp_path / "puller", env)
    pulled = puller("pull", app).stdout
    assert "Pull complete" in pulled and "Already exists" not in pulled
    assert puller.image_id(app) == built_id
    assert puller("run", "--rm", "--network", "none", app).stdout == answer
    # the base shares its layer with the app: pulled again it is skipped
    again = puller("pull", base).stdout
    assert "Already exists" in again and "Pull complete" not in again
    assert (
        puller("run", "--rm", "--network", "none", base, "cat", "/answer", check=False).returncode
        != 0
    )  # the base has no /answer: not the app's layers


def _post_upload(url: str, repo: str) -> str:
    r = httpx.post(f"{url}/v2/{repo}/blobs/uploads/")
    assert r.status_code == 202, r.text
    return r.headers["location"]


def test_registry_killed_mid_upload_keeps_its_data_and_resumes(
    tmp_path: Path, ours: Server
) -> None:
    kept = os.urandom(200_000)
    location = _post_upload(ours.url, "a/kept")
    digest = "sha256:" + hashlib.sha256(kept).hexdigest()
    assert httpx.put(f"{ours.url}{location}?digest={digest}", content=kept).status_code == 201
    data = os.urandom(3_000_000)
    big = "sha256:" + hashlib.sha256(data).hexdigest()
    location = _post_upload(ours.url, "a/big")
    r = httpx.patch(
        f"{ours.url}{location}",
        content=data[:1_000_000],
        headers={"Content-Range": "0-999999", "Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 202
    os.killpg(ours.proc.pid, signal.SIGKILL)  # no chance to clean up
    ours.proc.wait()
    again = start_dockyard_registry(tmp_path / "ours")  # same storage root
    try:
        assert httpx.get(f"{again.url}/v2/a/kept/blobs/{digest}").content == kept
        assert httpx.head(f"{again.url}/v2/a/big/blobs/{big}").status_code == 404
        status = httpx.get(f"{again.url}{location}")
        assert status.status_code == 204 and status.headers["range"] == "0-999999"
        wrong = httpx.put(
            f"{again.url}{location}?digest={digest}",
            content=data[1_000_000:],
            headers={"Content-Range": "1000000-2999999"},
        )
        assert wrong.status_code == 400 and "DIGEST_INVALID" in wrong.text
        assert httpx.head(f"{again.url}/v2/a/big/blobs/{big}").status_code == 404
        location = _post_upload(again.url, "a/big")
        done = httpx.put(f"{again.url}{location}?digest={big}", content=data)
        assert done.status_code == 201
        assert httpx.get(f"{again.url}/v2/a/big/blobs/{big}").content == data
    finally:
        again.stop()
