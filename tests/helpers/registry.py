"""Registry test helpers: OCI layouts of small images, servers on free ports, htpasswd files, the
`dockyard` runner of the registry tests and their `env` and `ours` fixtures (tests/integration/conftest.py
makes those two available to every integration module)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parent.parent.parent
DOCKYARD = [sys.executable, "-m", "dockyard.cli.entry"]  # what the `dockyard` executable runs


def registry_env(tmp_path: Path) -> dict[str, str]:
    """The environment of `dockyard` in a registry test: its own Docker config (logins), registries
    config file and certs.d directory under `tmp_path` (absent until a test writes them)."""
    return {
        **os.environ,
        "DOCKER_CONFIG": str(tmp_path / "docker-config"),
        "PYTHONPATH": str(REPO / "src"),
        "DOCKYARD_REGISTRIES_CONF": str(tmp_path / "reg.json"),
        "DOCKYARD_CERTS_D": str(tmp_path / "certs.d"),
    }


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return registry_env(tmp_path)


@pytest.fixture
def ours(tmp_path: Path) -> Iterator[Server]:
    """`dockyard registry serve` on a free port, storage under tmp_path/ours."""
    server = start_dockyard_registry(tmp_path / "ours")
    yield server
    server.stop()


class Dy:
    """`dockyard --root ROOT ...` with the test's environment; by default a failure fails the test."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root, self.env = root, env

    def __call__(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        out = subprocess.run(
            [*DOCKYARD, "--root", str(self.root), *args],
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL if input is None else None,
        )
        if check and out.returncode != 0:
            raise AssertionError(
                f"dockyard {' '.join(args)} -> {out.returncode}\n{out.stdout}\n{out.stderr}"
            )
        return out

    def image_id(self, ref: str) -> str:
        """The ID of a stored image ("" when there is none)."""
        out = self("image", "inspect", "--format", "{{.Id}}", ref, check=False)
        return out.stdout.strip() if out.returncode == 0 else ""


def dy(
    tmp_path: Path,
    env: dict[str, str],
    *args: str,
    store: str = "store",
    input: str | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """`dockyard` on the store tmp_path/STORE (see Dy)."""
    return Dy(tmp_path / store, env)(*args, input=input, check=check)


def image_id(tmp_path: Path, env: dict[str, str], ref: str, store: str = "store") -> str:
    """The ID of the image `ref` in tmp_path/STORE ("" when there is none)."""
    return Dy(tmp_path / store, env).image_id(ref)


def login(
    tmp_path: Path, env: dict[str, str], host: str, user: str, password: str
) -> subprocess.CompletedProcess[str]:
    """`dockyard login -u USER --password-stdin HOST`, not checked (see dy)."""
    return dy(
        tmp_path, env, "login", "-u", user, "--password-stdin", host, input=password + "\n",
        check=False,
    )  # fmt: skip


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tar_of(files: dict[str, bytes]) -> bytes:
    """A deterministic plain tar holding `files` (path -> content)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 1_600_000_000
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def write_oci_layout(
    path: Path,
    layers: list[bytes],
    *,
    tag: str = "latest",
    compress: str = "gzip",
    docker: bool = False,
) -> dict:
    """Write an OCI layout with one image of `layers` (plain tars); returns digests and sizes."""
    blobs = path / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)

    def put(data: bytes) -> str:
        digest = sha(data)
        (blobs / digest.split(":")[1]).write_bytes(data)
        return digest

    descs, diff_ids = [], []
    for layer in layers:
        diff_ids.append(sha(layer))
        blob = gzip.compress(layer, mtime=0) if compress == "gzip" else layer
        if compress == "zstd":
            import zstandard

            blob = zstandard.ZstdCompressor().compress(layer)
        suffix = {"gzip": "+gzip", "zstd": "+zstd", "": ""}[compress]
        mt = (
            ("application/vnd.docker.image.rootfs.diff.tar" + suffix.replace("+", "."))
            if docker
            else "application/vnd.oci.image.layer.v1.tar" + suffix
        )
        descs.append({"mediaType": mt, "digest": put(blob), "size": len(blob)})
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": "2024-01-01T00:00:00Z",
            "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "test"} for _ in layers],
        }
    ).encode()
    config_digest = put(config)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json"
            if docker
            else "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json"
                if docker
                else "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": len(config),
            },
            "layers": descs,
        }
    ).encode()
    manifest_digest = put(manifest)
    (path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (path / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": json.loads(manifest)["mediaType"],
                        "digest": manifest_digest,
                        "size": len(manifest),
                        "annotations": {"org.opencontainers.image.ref.name": tag},
                    }
                ],
            }
        )
    )
    return {
        "config": config_digest,
        "manifest": manifest_digest,
        "layers": descs,
        "diff_ids": diff_ids,
    }


def seed(tmp_path: Path, host: str, repo: str, content: bytes, *flags: str) -> dict:
    """Push a one-layer image holding `content` with skopeo (Python's gzip: bytes isal would not
    reproduce); returns `write_oci_layout`'s digests."""
    layout = tmp_path / ("layout-" + repo.replace("/", "-").replace(":", "-"))
    info = write_oci_layout(layout, [tar_of({"data.bin": content})])
    out = subprocess.run(
        [
            "skopeo",
            "copy",
            "--dest-tls-verify=false",
            *flags,
            f"oci:{layout}:latest",
            f"docker://{host}/{repo}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return info


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 15.0, verify: bool = True) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url, timeout=1.0, verify=verify)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class Server:
    """A registry subprocess (ours or distribution's), stopped by `stop()`."""

    def __init__(
        self, proc: subprocess.Popen, port: int, scheme: str = "http", ip: str = "127.0.0.1"
    ) -> None:
        self.proc, self.port, self.scheme = proc, port, scheme
        self.host = f"{ip}:{port}"
        self.url = f"{scheme}://{self.host}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def start_dockyard_registry(
    root: Path, *extra: str, tls: tuple[Path, Path] | None = None, ip: str = "127.0.0.1"
) -> Server:
    port_file = root.parent / (root.name + ".port")
    port_file.unlink(missing_ok=True)
    args = [
        *DOCKYARD,
        "--root",
        str(root.parent / (root.name + "-store")),
        "registry",
        "serve",
        "--addr",
        f"{ip}:0",
        "--root",
        str(root),
        "--ready-file",
        str(port_file),
        *extra,
    ]
    if tls:
        args += ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])]
    log = open(root.parent / (root.name + ".log"), "wb")
    proc = subprocess.Popen(
        args,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )
    deadline = time.monotonic() + 20
    while not port_file.exists() or not port_file.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(
                f"registry did not start: {(root.parent / (root.name + '.log')).read_text()}"
            )
        time.sleep(0.05)
    server = Server(proc, int(port_file.read_text()), "https" if tls else "http", ip)
    wait_http(server.url + "/v2/", verify=False)
    return server


def start_distribution(workdir: Path, htpasswd: Path | None = None) -> Server:
    """Debian's docker-registry (CNCF distribution) with a tmp config on a free port."""
    if shutil.which("docker-registry") is None:
        raise RuntimeError("docker-registry is not installed")
    port = free_port()
    auth = ""
    if htpasswd is not None:
        auth = f"auth:\n  htpasswd:\n    realm: test\n    path: {htpasswd}\n"
    config = workdir / "distribution.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {workdir / 'distribution-data'}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n{auth}"
    )
    log = open(workdir / "distribution.log", "wb")
    proc = subprocess.Popen(
        ["docker-registry", "serve", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = Server(proc, port)
    try:
        wait_http(server.url + "/v2/")
    except httpx.TransportError:
        server.stop()
        raise
    return server


def non_loopback_ip() -> str | None:
    """An IPv4 address of this machine that is not loopback (None when there is none)."""
    out = subprocess.run(
        ["ip", "-4", "-o", "addr", "show", "scope", "global"], capture_output=True, text=True
    )
    for line in out.stdout.splitlines():
        fields = line.split()
        if "inet" in fields:
            return fields[fields.index("inet") + 1].split("/")[0]
    return None


def self_signed_ca_and_cert(workdir: Path, ip: str) -> dict[str, Path]:
    """A CA and a server certificate for `ip` signed by it (openssl CLI)."""
    workdir.mkdir(parents=True, exist_ok=True)
    paths = {k: workdir / k for k in ("ca.crt", "ca.key", "srv.key", "srv.csr", "srv.crt", "ext")}
    paths["ext"].write_text(f"subjectAltName=IP:{ip}\nbasicConstraints=CA:FALSE\n")
    for cmd in (
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            paths["ca.key"],
            "-out",
            paths["ca.crt"],
            "-days",
            "2",
            "-subj",
            "/CN=dockyard test CA",
        ],
        [
            "openssl",
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            paths["srv.key"],
            "-out",
            paths["srv.csr"],
            "-subj",
            f"/CN={ip}",
        ],
        [
            "openssl",
            "x509",
            "-req",
            "-in",
            paths["srv.csr"],
            "-CA",
            paths["ca.crt"],
            "-CAkey",
            paths["ca.key"],
            "-CAcreateserial",
            "-out",
            paths["srv.crt"],
            "-days",
            "2",
            "-extfile",
            paths["ext"],
        ],
    ):
        subprocess.run([str(c) for c in cmd], check=True, capture_output=True)
    return paths


def htpasswd_file(path: Path, user: str, password: str) -> Path:
    out = subprocess.run(
        ["htpasswd", "-Bbn", user, password], check=True, capture_output=True, text=True
    ).stdout
    path.write_text(out)
    return path


class DroppingProxy:
    """A TCP proxy to `upstream` that cuts the first connection whose answer passes `limit` bytes.

    Stands between a client and a real registry to drop a layer download midway, once.
    """

    def __init__(self, upstream_port: int, limit: int = 1 << 20) -> None:
        import threading

        self.upstream_port, self.limit = upstream_port, limit
        self.drops = 0
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.host = f"127.0.0.1:{self.port}"
        self._threading = threading
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            for src, dst, down in ((client, upstream, False), (upstream, client, True)):
                self._threading.Thread(
                    target=self._pump, args=(src, dst, down, client, upstream), daemon=True
                ).start()

    def _pump(
        self, src: socket.socket, dst: socket.socket, down: bool, *both: socket.socket
    ) -> None:
        sent = 0
        try:
            while data := src.recv(65536):
                dst.sendall(data)
                sent += len(data)
                if down and self.drops == 0 and sent > self.limit:
                    self.drops += 1
                    break
        except OSError:
            pass
        for s in both:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def stop(self) -> None:
        self._stop = True
        self.listener.close()
