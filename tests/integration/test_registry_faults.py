"""Registry faults: nothing half-stored, one clear error (or a retry that finishes)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from helpers.registry import (
    DroppingProxy,
    Server,
    dy,
    htpasswd_file,
    image_id,
    login,
    seed,
    start_dockyard_registry,
)

pytestmark = pytest.mark.integration


def stored_blobs(tmp_path: Path) -> set[str]:
    blobs = tmp_path / "store" / "blobs" / "sha256"
    return {p.name for p in blobs.iterdir()} if blobs.is_dir() else set()


def one_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 125, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: ")
    return result.stderr


def test_corrupt_blob_is_refused_and_nothing_stored(
    tmp_path: Path, env: dict[str, str], ours: Server
) -> None:
    info = seed(tmp_path, ours.host, "bad/img:1", os.urandom(3 << 20))
    layer = tmp_path / "ours" / "blobs" / "sha256" / info["layers"][0]["digest"].split(":")[1]
    data = bytearray(layer.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, different bytes
    layer.write_bytes(bytes(data))
    err = one_error(dy(tmp_path, env, "pull", f"{ours.host}/bad/img:1", check=False))
    assert "does not match" in err
    assert info["diff_ids"][0].split(":")[1] not in stored_blobs(tmp_path)
    assert not list((tmp_path / "store" / "ingest").iterdir())
    assert dy(tmp_path, env, "images", "-q", check=False).stdout.strip() == ""


def test_dropped_connection_midway_is_resumed(
    tmp_path: Path, env: dict[str, str], ours: Server
) -> None:
    info = seed(tmp_path, ours.host, "big/img:1", os.urandom(3 << 20))
    proxy = DroppingProxy(ours.port, limit=1 << 20)
    try:
        result = dy(tmp_path, env, "pull", f"{proxy.host}/big/img:1", check=False)
        assert result.returncode == 0, result.stderr
    finally:
        proxy.stop()
    assert proxy.drops == 1
    assert image_id(tmp_path, env, f"{proxy.host}/big/img:1") == info["config"]


def test_wrong_password_and_refusing_token_endpoint(tmp_path: Path, env: dict[str, str]) -> None:
    htpasswd = htpasswd_file(tmp_path / "htpasswd", "user", "pass")
    server = start_dockyard_registry(tmp_path / "tok", "--htpasswd", str(htpasswd), "--token-auth")
    try:
        err = one_error(dy(tmp_path, env, "pull", f"{server.host}/any/img:1", check=False))
        assert "token server" in err and "refused" in err and "dockyard login" in err
        err = one_error(login(tmp_path, env, server.host, "user", "nope"))
        assert "refused" in err
        assert not (tmp_path / "docker-config" / "config.json").exists()
        ok = login(tmp_path, env, server.host, "user", "pass")
        assert ok.returncode == 0 and "Login Succeeded" in ok.stdout
        # authenticated through the bearer flow, the repository is simply empty
        err = one_error(dy(tmp_path, env, "pull", f"{server.host}/any/img:1", check=False))
        assert "NAME_UNKNOWN" in err or "MANIFEST_UNKNOWN" in err
    finally:
        server.stop()


def test_bad_names_are_refused_before_any_request(
    tmp_path: Path, env: dict[str, str], ours: Server
) -> None:
    err = one_error(dy(tmp_path, env, "pull", f"{ours.host}/Upper/Case:1", check=False))
    assert "lowercase" in err
    err = one_error(dy(tmp_path, env, "pull", f"{ours.host}/a/../b:1", check=False))
    assert "invalid reference format" in err


def test_missing_image_and_unreachable_registry(
    tmp_path: Path, env: dict[str, str], ours: Server
) -> None:
    err = one_error(dy(tmp_path, env, "pull", f"{ours.host}/nothing/here:1", check=False))
    assert "NAME_UNKNOWN" in err
    err = one_error(dy(tmp_path, env, "push", f"{ours.host}/not/local:1", check=False))
    assert "does not exist locally" in err
    err = one_error(dy(tmp_path, env, "pull", "127.0.0.1:1/x/y:1", check=False))
    assert "cannot reach registry 127.0.0.1:1" in err
