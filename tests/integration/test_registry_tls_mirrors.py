"""Registries over HTTPS (certs.d trust, refusal of untrusted certificates), mirrors that fail,
and pulled images pushed on without recompressing their layers."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from helpers.registry import (
    Server,
    dy,
    image_id,
    non_loopback_ip,
    seed,
    self_signed_ca_and_cert,
    start_dockyard_registry,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.stop()


def manifest_of(server: Server, repo: str, tag: str) -> dict:
    accept = (
        "application/vnd.oci.image.manifest.v1+json,"
        "application/vnd.docker.distribution.manifest.v2+json"
    )
    r = httpx.get(
        f"{server.url}/v2/{repo}/manifests/{tag}", headers={"Accept": accept}, verify=False
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_tls_untrusted_refused_insecure_or_certs_d_trusted(
    tmp_path: Path, env: dict[str, str], servers: list[Server]
) -> None:
    ip = non_loopback_ip()
    if ip is None:
        pytest.skip("no non-loopback address (loopback registries are insecure by default)")
    tls = self_signed_ca_and_cert(tmp_path / "pki", ip)
    server = start_dockyard_registry(tmp_path / "tls", tls=(tls["srv.crt"], tls["srv.key"]), ip=ip)
    servers.append(server)
    assert server.url.startswith("https://")
    with pytest.raises(httpx.ConnectError):  # really TLS, with a certificate nobody trusts
        httpx.get(server.url + "/v2/")
    info = seed(tmp_path, server.host, "secure/img:1", os.urandom(1 << 16))
    ref = f"{server.host}/secure/img:1"

    started = time.monotonic()
    refused = dy(tmp_path, env, "pull", ref, check=False)
    assert refused.returncode == 125 and "Traceback" not in refused.stderr
    assert "not trusted" in refused.stderr and "certs.d" in refused.stderr
    assert time.monotonic() - started < 10  # no retries with backoff on a certificate error
    assert dy(tmp_path, env, "images", "-q", check=False).stdout.strip() == ""

    insecure = dy(tmp_path, env, "pull", "--insecure-registry", server.host, ref, check=False)
    assert insecure.returncode == 0, insecure.stderr
    dy(tmp_path, env, "rmi", ref, check=False)

    # Docker's way of trusting a private CA: certs.d/<host:port>/ca.crt
    trusted = tmp_path / "certs.d" / server.host
    trusted.mkdir(parents=True)
    shutil.copy(tls["ca.crt"], trusted / "ca.crt")
    ok = dy(tmp_path, env, "pull", ref, check=False)
    assert ok.returncode == 0, ok.stderr
    assert image_id(tmp_path, env, ref) == info["config"]
    # and pushes go over the same verified connection
    pushed = dy(tmp_path, env, "push", f"{server.host}/secure/img:1", check=False)
    assert pushed.returncode == 0, pushed.stderr


def test_failing_mirror_falls_back_to_the_registry(
    tmp_path: Path, env: dict[str, str], servers: list[Server]
) -> None:
    upstream = start_dockyard_registry(tmp_path / "upstream")
    mirror = start_dockyard_registry(tmp_path / "mirror")
    servers += [upstream, mirror]
    info = seed(tmp_path, upstream.host, "lib/app:1", os.urandom(1 << 16))
    Path(env["DOCKYARD_REGISTRIES_CONF"]).write_text(
        json.dumps({"mirrors": {upstream.host: [mirror.host]}})
    )
    ref = f"{upstream.host}/lib/app:1"
    out = dy(
        tmp_path, env, "pull", ref, check=False
    )  # the mirror answers 404: the registry serves it
    assert out.returncode == 0, out.stderr
    assert f"mirror {mirror.host} failed" in out.stdout
    assert image_id(tmp_path, env, ref) == info["config"]
    # once the mirror has the image, it is used first: the registry may even be down
    mirrored = seed(tmp_path, mirror.host, "lib/app:2", os.urandom(1 << 16))
    seed(tmp_path, upstream.host, "lib/app:2", os.urandom(1 << 16))
    upstream.stop()
    out = dy(tmp_path, env, "pull", f"{upstream.host}/lib/app:2", check=False)
    assert out.returncode == 0, out.stderr
    assert image_id(tmp_path, env, f"{upstream.host}/lib/app:2") == mirrored["config"]


def test_pulled_layers_are_pushed_on_as_they_came(
    tmp_path: Path, env: dict[str, str], servers: list[Server]
) -> None:
    """The upstream gzip blob is kept: pushing elsewhere sends it unchanged (same digest, no
    recompression); pushing back to the same registry mounts it or finds it there."""
    first = start_dockyard_registry(tmp_path / "first")
    second = start_dockyard_registry(tmp_path / "second")
    servers += [first, second]
    info = seed(tmp_path, first.host, "src/app:1", os.urandom(1 << 20))
    upstream_layer = info["layers"][0]["digest"]
    assert dy(tmp_path, env, "pull", f"{first.host}/src/app:1", check=False).returncode == 0
    blobs = tmp_path / "store" / "blobs" / "sha256"
    assert (blobs / upstream_layer.split(":")[1]).is_file()
    before = set(os.listdir(blobs))

    dy(tmp_path, env, "tag", f"{first.host}/src/app:1", f"{second.host}/dst/app:1", check=False)
    out = dy(tmp_path, env, "push", f"{second.host}/dst/app:1", check=False)
    assert out.returncode == 0, out.stderr
    assert [d["digest"] for d in manifest_of(second, "dst/app", "1")["layers"]] == [upstream_layer]
    assert set(os.listdir(blobs)) - before == set()  # nothing was compressed anew

    dy(tmp_path, env, "tag", f"{first.host}/src/app:1", f"{first.host}/other/app:1", check=False)
    out = dy(tmp_path, env, "push", f"{first.host}/other/app:1", check=False)
    assert out.returncode == 0 and "Mounted from src/app" in out.stdout, out.stdout + out.stderr
    assert [d["digest"] for d in manifest_of(first, "other/app", "1")["layers"]] == [upstream_layer]
