"""Registries with real tools: skopeo and podman against our server, our client against ours and
the CNCF distribution registry (htpasswd auth), round trips keeping the image ID."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from helpers.busybox import make_rootfs_tar
from helpers.dockerapi import release_network_devices
from helpers.registry import (
    Dy,
    Server,
    dy,
    htpasswd_file,
    login,
    sha,
    start_distribution,
    tar_of,
    write_oci_layout,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def dist(tmp_path: Path) -> Iterator[Server]:
    if shutil.which("docker-registry") is None:
        pytest.skip("docker-registry (CNCF distribution) is not installed")
    work = tmp_path / "dist"
    work.mkdir()
    server = start_distribution(work, htpasswd_file(work / "htpasswd", "user", "pass"))
    yield server
    server.stop()


def skopeo(*args: str) -> str:
    out = subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture
def busybox(tmp_path: Path, env: dict[str, str]) -> Iterator[str]:
    """A busybox image imported into the test store; returns its ID. Afterwards the bridge
    a `run` on the default network made is released."""
    tar = make_rootfs_tar(tmp_path / "busybox.tar", tmp_path / "rootfs")
    yield dy(tmp_path, env, "import", str(tar), "busybox:test").stdout.strip()
    release_network_devices(tmp_path / "store")


def test_skopeo_copies_to_and_from_our_server(tmp_path: Path, ours: Server) -> None:
    layers = [tar_of({"a.txt": b"hello" * 1000}), tar_of({"b/c.bin": os.urandom(3 << 20)})]
    info = write_oci_layout(tmp_path / "layout", layers)
    skopeo(
        "copy",
        "--dest-tls-verify=false",
        f"oci:{tmp_path / 'layout'}:latest",
        f"docker://{ours.host}/team/app:v1",
    )
    inspect = json.loads(
        skopeo("inspect", "--tls-verify=false", f"docker://{ours.host}/team/app:v1")
    )
    assert inspect["Digest"] == info["manifest"]
    assert inspect["Layers"] == [d["digest"] for d in info["layers"]]
    skopeo(
        "copy",
        "--src-tls-verify=false",
        f"docker://{ours.host}/team/app:v1",
        f"oci:{tmp_path / 'back'}:v1",
    )
    for desc in info["layers"]:
        blob = tmp_path / "back" / "blobs" / "sha256" / desc["digest"].split(":")[1]
        assert (
            blob.read_bytes()
            == (
                tmp_path / "layout" / "blobs" / "sha256" / desc["digest"].split(":")[1]
            ).read_bytes()
        )
    # a second copy into another repository of the same server mounts the blobs
    skopeo(
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        f"docker://{ours.host}/team/app:v1",
        f"docker://{ours.host}/other/app:v1",
    )
    assert (
        "v1"
        in json.loads(
            skopeo("inspect", "--tls-verify=false", f"docker://{ours.host}/other/app:v1")
        )["RepoTags"]
    )


def test_our_client_round_trip_through_our_server(
    tmp_path: Path, env: dict[str, str], ours: Server, busybox: str
) -> None:
    ref = f"{ours.host}/lib/busybox:1"
    dy(tmp_path, env, "tag", "busybox:test", ref)
    out = dy(tmp_path, env, "push", ref).stdout
    digest_line = [line for line in out.splitlines() if line.startswith("1: digest: sha256:")]
    assert digest_line, out
    manifest = httpx.get(
        f"{ours.url}/v2/lib/busybox/manifests/1",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    assert digest_line[0] == (f"1: digest: {sha(manifest.content)} size: {len(manifest.content)}")
    assert manifest.json()["layers"][0]["mediaType"].endswith("tar.gzip")
    dy(tmp_path, env, "rmi", ref, "busybox:test")
    assert Dy(tmp_path / "store", env).image_id(ref) == ""
    out = dy(tmp_path, env, "pull", ref).stdout
    assert "Pull complete" in out and out.strip().endswith(ref)
    assert Dy(tmp_path / "store", env).image_id(ref) == busybox
    # pushing again: every blob is already there
    assert "Layer already exists" in dy(tmp_path, env, "push", ref).stdout
    # another repository of the same registry: the layer is mounted, not uploaded
    dy(tmp_path, env, "tag", ref, f"{ours.host}/copy/busybox:2")
    assert (
        "Mounted from lib/busybox"
        in dy(tmp_path, env, "push", f"{ours.host}/copy/busybox:2").stdout
    )
    assert "round trip ok" in dy(tmp_path, env, "run", "--rm", ref, "echo", "round trip ok").stdout


def test_podman_pushes_and_pulls_with_our_server(tmp_path: Path, ours: Server) -> None:
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed")
    info = write_oci_layout(tmp_path / "layout", [tar_of({"hello.txt": b"podman"})])
    skopeo(
        "copy",
        "--dest-tls-verify=false",
        f"oci:{tmp_path / 'layout'}:latest",
        f"docker://{ours.host}/src/img:1",
    )
    runroot = tempfile.mkdtemp(prefix="dy-prun-", dir="/tmp")  # podman wants < 50 characters
    podman = [
        "podman",
        "--root",
        str(tmp_path / "proot"),
        "--runroot",
        runroot,
        "--storage-driver",
        "vfs",
    ]
    try:
        for args in (
            ["pull", "--tls-verify=false", f"{ours.host}/src/img:1"],
            ["push", "--tls-verify=false", f"{ours.host}/src/img:1", f"{ours.host}/dst/img:pushed"],
        ):
            out = subprocess.run([*podman, *args], capture_output=True, text=True, timeout=120)
            assert out.returncode == 0, out.stderr
    finally:
        subprocess.run([*podman, "rmi", "-a", "-f"], capture_output=True, timeout=60)
        shutil.rmtree(runroot, ignore_errors=True)
    pushed = json.loads(
        skopeo("inspect", "--tls-verify=false", f"docker://{ours.host}/dst/img:pushed")
    )
    assert len(pushed["Layers"]) == 1
    assert (
        json.loads(
            skopeo(
                "inspect", "--config", "--tls-verify=false", f"docker://{ours.host}/dst/img:pushed"
            )
        )["rootfs"]["diff_ids"]
        == info["diff_ids"]
    )


def test_distribution_registry_with_htpasswd(
    tmp_path: Path, env: dict[str, str], dist: Server, busybox: str
) -> None:
    ref = f"{dist.host}/team/busybox:1"
    dy(tmp_path, env, "tag", "busybox:test", ref)
    denied = dy(tmp_path, env, "push", ref, check=False)
    assert denied.returncode == 125 and "Traceback" not in denied.stderr
    assert "Error:" in denied.stderr and "login" in denied.stderr
    wrong = login(tmp_path, env, dist.host, "user", "wrong")
    assert wrong.returncode == 125 and "UNAUTHORIZED" in wrong.stderr
    assert not (tmp_path / "docker-config" / "config.json").exists()
    ok = login(tmp_path, env, dist.host, "user", "pass")
    assert ok.returncode == 0 and "Login Succeeded" in ok.stdout, ok.stderr
    config = json.loads((tmp_path / "docker-config" / "config.json").read_text())
    assert config["auths"][dist.host]["auth"] == "dXNlcjpwYXNz"
    assert "1: digest: sha256:" in dy(tmp_path, env, "push", ref).stdout
    chunked = f"{dist.host}/chunked/busybox:1"
    dy(tmp_path, env, "tag", ref, chunked)
    # a fresh store has no record of the remote blob: a chunked upload, not a mount
    dy(tmp_path, env, "rmi", ref, chunked, "busybox:test")
    subprocess.run(["rm", "-rf", str(tmp_path / "store")], check=True)
    busybox2 = dy(tmp_path, env, "import", str(tmp_path / "busybox.tar"), chunked).stdout.strip()
    assert busybox2 != ""
    out = dy(tmp_path, env, "push", "--chunk-size", "500000", chunked).stdout
    assert "Layer already exists" in out or "Pushed" in out
    dy(tmp_path, env, "rmi", chunked)
    dy(tmp_path, env, "pull", ref)
    assert Dy(tmp_path / "store", env).image_id(ref) == busybox
    assert "Removing login credentials" in dy(tmp_path, env, "logout", dist.host).stdout
    assert (
        dist.host
        not in json.loads((tmp_path / "docker-config" / "config.json").read_text())["auths"]
    )


def test_pull_formats_pushed_by_skopeo(tmp_path: Path, env: dict[str, str], ours: Server) -> None:
    """zstd and uncompressed OCI layers, Docker schema2 gzip: all stored uncompressed by diff ID."""
    for name, kwargs in {
        "zstd": {"compress": "zstd"},
        "plain": {"compress": ""},
        "docker": {"compress": "gzip"},
    }.items():
        layout = tmp_path / f"layout-{name}"
        info = write_oci_layout(layout, [tar_of({f"{name}.txt": name.encode() * 5000})], **kwargs)
        fmt = ["--format", "v2s2"] if name == "docker" else []
        skopeo(
            "copy",
            *fmt,
            "--dest-tls-verify=false",
            f"oci:{layout}:latest",
            f"docker://{ours.host}/fmt/{name}:1",
        )
        dy(tmp_path, env, "pull", f"{ours.host}/fmt/{name}:1")
        assert Dy(tmp_path / "store", env).image_id(f"{ours.host}/fmt/{name}:1") == info["config"]
        blob = tmp_path / "store" / "blobs" / "sha256" / info["diff_ids"][0].split(":")[1]
        assert blob.is_file()


def test_pull_picks_platform_from_an_index(
    tmp_path: Path, env: dict[str, str], ours: Server
) -> None:
    digests = {}
    for arch in ("amd64", "arm64"):
        info = write_oci_layout(tmp_path / arch, [tar_of({"arch": arch.encode()})])
        config = json.loads(
            (tmp_path / arch / "blobs" / "sha256" / info["config"].split(":")[1]).read_bytes()
        )
        assert config["architecture"] == "amd64"
        skopeo(
            "copy",
            "--dest-tls-verify=false",
            f"oci:{tmp_path / arch}:latest",
            f"docker://{ours.host}/multi/img:{arch}",
        )
        manifest = (
            tmp_path / arch / "blobs" / "sha256" / info["manifest"].split(":")[1]
        ).read_bytes()
        digests[arch] = (info["manifest"], len(manifest), info["config"])
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": d,
                    "size": n,
                    "platform": {"os": "linux", "architecture": a},
                }
                for a, (d, n, _) in digests.items()
            ],
        }
    ).encode()
    r = httpx.put(
        f"{ours.url}/v2/multi/img/manifests/both",
        content=index,
        headers={"Content-Type": "application/vnd.oci.image.index.v1+json"},
    )
    assert r.status_code == 201
    dy(tmp_path, env, "pull", "--platform", "linux/arm64", f"{ours.host}/multi/img:both")
    assert (
        Dy(tmp_path / "store", env).image_id(f"{ours.host}/multi/img:both") == digests["arm64"][2]
    )
    out = dy(
        tmp_path,
        env,
        "pull",
        "--platform",
        "linux/s390x",
        f"{ours.host}/multi/img:both",
        check=False,
    )
    assert out.returncode == 125 and "no matching manifest for linux/s390x" in out.stderr
    out = dy(tmp_path, env, "pull", f"{ours.host}/multi/img@{digests['amd64'][0]}")
    assert (
        Dy(tmp_path / "store", env).image_id(f"{ours.host}/multi/img@{digests['amd64'][0]}")
        == digests["amd64"][2]
    )
    tags = dy(tmp_path, env, "pull", "--all-tags", f"{ours.host}/multi/img").stdout
    assert f"{ours.host}/multi/img:amd64" in tags and f"{ours.host}/multi/img:arm64" in tags
