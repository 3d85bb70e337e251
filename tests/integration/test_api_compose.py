"""Debian's docker-compose 1.29 (docker-py) against `dockyard system service`: a two-service
project on its own network, with a published port and a named volume, up to down -v."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.busybox import make_rootfs_tar
from helpers.dockerapi import DOCKER, Docker, leftovers, service

pytestmark = pytest.mark.integration
COMPOSE = shutil.which("docker-compose")

COMPOSE_FILE = """\
version: "3.7"
services:
  web:
    image: busybox
    command: ["sh", "-c", "mkdir -p /www; echo served > /www/index.html; exec httpd -f -p 8000 -h /www"]
    ports: ["{port}:8000"]
    volumes: ["data:/data"]
  client:
    image: busybox
    depends_on: [web]
    command: ["sh", "-c", "until wget -qO- http://web:8000/index.html; do sleep 0.1; done; echo fetched; exec sleep 300"]
volumes:
  data: {{}}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def docker(tmp_path: Path) -> Iterator[Docker]:
    if COMPOSE is None or not os.access(DOCKER, os.X_OK):
        pytest.skip("docker-compose or the docker client is not installed")
    root = tmp_path / "root"
    with service(root, tmp_path / "docker.sock", tmp_path / "service.log") as d:
        d("import", str(make_rootfs_tar(tmp_path / "busybox.tar", tmp_path)), "busybox:latest")
        yield d
        d("rm", "-f", *d("ps", "-aq").stdout.split(), check=False)


def _until(what: str, check: object, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_compose_up_ps_logs_exec_down(docker: Docker, tmp_path: Path) -> None:
    assert COMPOSE is not None
    project = tmp_path / "proj"
    project.mkdir()
    port = _free_port()
    (project / "docker-compose.yml").write_text(COMPOSE_FILE.format(port=port))

    def compose(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return docker.run([COMPOSE, "--no-ansi", "-p", "ctest", *args], check=check, cwd=project)

    up = compose("up", "-d")
    assert "Creating ctest_web_1 ... done" in up.stderr and "Creating ctest_client_1 ... done" in up.stderr
    _until("the client to fetch from web by service name", lambda: "fetched" in compose("logs", "client").stdout)
    assert "client_1  | served" in compose("logs", "client").stdout
    ps = compose("ps").stdout
    assert f"0.0.0.0:{port}->8000/tcp" in ps and ps.count(" Up ") == 2
    page = subprocess.run(["curl", "-sf", "-m", "5", f"http://127.0.0.1:{port}/index.html"],
                          capture_output=True, text=True)  # fmt: skip
    assert page.stdout == "served\n"
    wrote = compose("exec", "-T", "web", "sh", "-c", "echo kept > /data/note; hostname; exit 4", check=False)
    assert wrote.returncode == 4
    volume = json.loads(docker("volume", "inspect", "ctest_data").stdout)[0]
    assert Path(volume["Mountpoint"], "note").read_text() == "kept\n"
    assert volume["Labels"]["com.docker.compose.project"] == "ctest"
    net = json.loads(docker("network", "inspect", "ctest_default").stdout)[0]
    bridge = net["Options"]["com.docker.network.bridge.name"]
    assert sorted(c["Name"] for c in net["Containers"].values()) == ["ctest_client_1", "ctest_web_1"]

    compose("down", "-v", "-t", "1")
    assert docker("ps", "-aq").stdout == ""
    assert "ctest_default" not in docker("network", "ls").stdout
    assert docker("volume", "ls", "-q").stdout == ""
    assert not Path(volume["Mountpoint"]).exists()
    link = subprocess.run(["ip", "link", "show", bridge], capture_output=True, text=True)
    assert link.returncode != 0, f"the project's bridge {bridge} is left"
    _until("the containers' processes and mounts to go", lambda: not leftovers(docker.cwd / "root"), 5)
