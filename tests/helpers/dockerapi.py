"""A `dockyard system service` on a unix socket for tests, and the real docker client against it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

DOCKER = shutil.which("docker") or "/usr/local/bin/docker"
DOCKYARD = [sys.executable, "-m", "dockyard.cli.entry"]  # what the `dockyard` executable runs


class Docker:
    """Runs the docker client (or another program, with DOCKER_HOST set) against one service."""

    def __init__(self, sock: Path, cwd: Path) -> None:
        self.host = f"unix://{sock}"
        self.cwd = cwd
        home = cwd / "home"
        home.mkdir(exist_ok=True)
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
                    "DOCKER_HOST": self.host, "DOCKER_BUILDKIT": "0",
                    "DOCKER_CONFIG": str(home / ".docker")}  # fmt: skip

    def run(self, argv: list[str], check: bool = True, timeout: float = 60,
            input: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=self.env,
                              cwd=cwd or self.cwd, input=input,
                              stdin=subprocess.DEVNULL if input is None else None)  # fmt: skip
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc

    def __call__(self, *args: str, check: bool = True, timeout: float = 60,
                 input: str | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
        return self.run([DOCKER, *args], check=check, timeout=timeout, input=input)


@contextmanager
def service(root: Path, sock: Path, log_path: Path) -> Iterator[Docker]:
    """Run the service over `root` until the block ends; then stop it and check that it removed
    its socket and that no process or mount of `root` is left."""
    log = open(log_path, "wb")  # noqa: SIM115
    server = subprocess.Popen([*DOCKYARD, "--root", str(root), "system", "service", "--log-level", "info",
                               "-H", f"unix://{sock}"],
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 15
        while not sock.exists():
            assert server.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "the service did not create its socket"
            time.sleep(0.05)
        yield Docker(sock, log_path.parent)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        problems = wait_for_leftovers(root)
        release_network_devices(root)  # also when the test failed
    assert not sock.exists(), "the service left its socket behind"
    assert not problems, "\n".join(problems)


def leftovers(root: Path) -> list[str]:
    """Processes and mounts that mention `root`."""
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    problems = [line for line in ps.splitlines() if str(root) in line and "ps -eo" not in line]
    problems += [m for m in Path("/proc/self/mountinfo").read_text().splitlines() if str(root) in m]
    return problems


def wait_for_leftovers(root: Path, timeout: float = 5.0) -> list[str]:
    """`leftovers(root)` once they are gone or `timeout` has passed (conmon's exit command may
    still be finishing)."""
    deadline = time.monotonic() + timeout
    while (problems := leftovers(root)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return problems


def release_network_devices(root: Path) -> None:
    """Delete the bridges (and firewall rules) of every network of `root`."""
    if (root / "metadata.db").exists():
        from dockyard.network.networks import NetworkStore
        from dockyard.store.db import Database

        db = Database(root / "metadata.db")
        NetworkStore(db, root).release_devices()
        db.close()


@pytest.fixture
def docker(tmp_path: Path, busybox_tar: Path) -> Iterator[Docker]:
    """A service over a fresh store root, busybox imported through `docker import` (the test
    module provides `busybox_tar`); its containers are removed at the end."""
    if not os.access(DOCKER, os.X_OK):
        pytest.skip("the docker client is not installed")
    with service(tmp_path / "root", tmp_path / "docker.sock", tmp_path / "service.log") as d:
        d("import", str(busybox_tar), "busybox:latest")
        yield d
        d("rm", "-f", *d("ps", "-aq").stdout.split(), check=False)
