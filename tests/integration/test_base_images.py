"""The offline base images of scripts/base-images.sh: what the cached rootfs tarballs hold and run."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import tarfile
from pathlib import Path

import pytest

# The first run on a machine builds the tarballs (about 1-2 min); later runs reuse them.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "base-images.sh"
DOCKYARD = REPO / ".venv" / "bin" / "dockyard"
HOST_CA_DIR = Path("/usr/local/share/ca-certificates")
IMAGE_PATH = "/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"


def _run_script(*args: str, root: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if root is not None:
        env["DOCKYARD_ROOT"] = str(root)
    return subprocess.run(
        ["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=900
    )


@pytest.fixture(scope="module")
def cached() -> dict[str, tuple[Path, list[str]]]:
    """name -> (rootfs tarball, --change lines); builds them once per machine if missing."""
    proc = _run_script("--tarballs-only", "--print")
    assert proc.returncode == 0, proc.stderr
    images: dict[str, tuple[Path, list[str]]] = {}
    for line in proc.stdout.splitlines():
        name, tarball, changes = line.split("\t")
        images[name] = (Path(tarball), Path(changes).read_text().splitlines())
    return images


def _members(tarball: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(tarball) as tf:
        return {m.name.removeprefix("./").rstrip("/"): m for m in tf.getmembers()}


def _chroot(rootfs: Path, script: str) -> subprocess.CompletedProcess[str]:
    """Run `script` under sh in the rootfs with the image's PATH only (no host env)."""
    setup = (
        f"mount --rbind /dev {rootfs}/dev && mount -t proc proc {rootfs}/proc && "
        f"exec chroot {rootfs} /usr/bin/env -i PATH={IMAGE_PATH} HOME=/root LANG=C.UTF-8 "
        f"sh -ec {shlex.quote(script)}"
    )
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", setup],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_both_images_are_cached_with_their_config(
    cached: dict[str, tuple[Path, list[str]]],
) -> None:
    assert set(cached) == {"debian:bookworm-slim", "python:3.11-slim"}
    assert 'CMD ["bash"]' in cached["debian:bookworm-slim"][1]
    python_changes = cached["python:3.11-slim"][1]
    assert 'CMD ["python3"]' in python_changes
    assert "ENV LANG=C.UTF-8" in python_changes
    assert any(re.fullmatch(r"ENV PYTHON_VERSION=3\.11\.\d+", c) for c in python_changes)


def test_debian_slim_is_slim(cached: dict[str, tuple[Path, list[str]]]) -> None:
    tarball = cached["debian:bookworm-slim"][0]
    members = _members(tarball)
    for path in ("usr/bin/bash", "usr/bin/apt-get", "usr/bin/dpkg", "etc/os-release"):
        assert path in members, path
    assert members["bin"].issym() and members["bin"].linkname == "usr/bin"  # merged /usr
    assert not [p for p in members if p.startswith("usr/share/man/") and members[p].isfile()]
    docs = [p for p in members if p.startswith("usr/share/doc/") and members[p].isfile()]
    assert docs and all(p.endswith("/copyright") for p in docs)
    assert not [p for p in members if p.startswith("dev/")]  # the runtime provides /dev
    assert "etc/resolv.conf" not in members and "etc/hostname" not in members
    lists = [p for p in members if p.startswith("var/lib/apt/lists/") and members[p].size > 0]
    assert not lists  # no package lists: "apt-get update" first, like the official image
    assert tarball.stat().st_size < 120 * 1024 * 1024


def test_python_slim_runs_python_and_pip_as_root(
    cached: dict[str, tuple[Path, list[str]]], tmp_path: Path
) -> None:
    tarball, changes = cached["python:3.11-slim"]
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    subprocess.run(["tar", "-xf", str(tarball), "-C", str(rootfs)], check=True)
    version = next(c.split("=", 1)[1] for c in changes if c.startswith("ENV PYTHON_VERSION="))
    pkg = rootfs / "tmp" / "hello"
    (pkg / "hello").mkdir(parents=True)
    (pkg / "hello" / "__init__.py").write_text("GREETING = 'hi from pip'\n")
    (pkg / "setup.py").write_text(
        "from setuptools import setup\nsetup(name='hello', version='1.0', packages=['hello'])\n"
    )
    proc = _chroot(
        rootfs,
        "python --version; pip --version; python -c 'import venv, ensurepip, ssl'; "
        "pip install --no-index --no-build-isolation --no-cache-dir /tmp/hello; "
        "cd / && python -c 'import hello; print(hello.GREETING)'",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"Python {version}" in proc.stdout
    assert re.search(r"^pip \S+ from \S+ \(python 3\.11\)$", proc.stdout, re.M)
    assert "hi from pip" in proc.stdout
    assert "externally-managed" not in proc.stderr


def test_python_slim_trusts_the_host_extra_certificates(
    cached: dict[str, tuple[Path, list[str]]],
) -> None:
    extra = sorted(HOST_CA_DIR.glob("*.crt")) if HOST_CA_DIR.is_dir() else []
    if not extra:
        pytest.skip(f"the host has no extra CA certificates in {HOST_CA_DIR}")
    with tarfile.open(cached["python:3.11-slim"][0]) as tf:
        bundle_file = tf.extractfile("./etc/ssl/certs/ca-certificates.crt")
        pip_conf_file = tf.extractfile("./etc/pip.conf")
        assert bundle_file is not None and pip_conf_file is not None
        bundle = bundle_file.read().decode()
        pip_conf = pip_conf_file.read().decode()
    squash = "".join
    for cert in extra:
        assert squash(cert.read_text().split()) in squash(bundle.split()), cert.name
    assert "cert = /etc/ssl/certs/ca-certificates.crt" in pip_conf


def test_import_into_a_store_once(
    cached: dict[str, tuple[Path, list[str]]], tmp_path: Path
) -> None:
    probe = subprocess.run([str(DOCKYARD), "import", "--help"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("dockyard import is not available")
    root = tmp_path / "store"
    first = _run_script(root=root)
    assert first.returncode == 0, first.stderr
    listed = subprocess.run(
        [str(DOCKYARD), "--root", str(root), "images", "-q", "python:3.11-slim"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert len(listed) == 1
    second = _run_script(root=root)
    assert second.returncode == 0, second.stderr
    assert "python:3.11-slim is already in" in second.stderr
    inspect = subprocess.run(
        [str(DOCKYARD), "--root", str(root), "image", "inspect", "python:3.11-slim"],
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(inspect.stdout)
    config = (data[0] if isinstance(data, list) else data)["Config"]
    assert config["Cmd"] == ["python3"]
    assert "LANG=C.UTF-8" in config["Env"]
