"""Integration-test helpers for containers: the `dockyard` CLI on a fresh store root, and the
check that a test left no process, mount, veth, netns, iptables rule or bridge behind."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.busybox import make_rootfs_tar

DOCKYARD = [sys.executable, "-m", "dockyard.cli.entry"]  # what the `dockyard` executable runs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Dockyard:
    def __init__(self, root: Path) -> None:
        self.root = root

    def __call__(self, *args: str, check: bool = True, timeout: float = 30,
                 input: str | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
        proc = subprocess.run([*DOCKYARD, "--root", str(self.root), *args], capture_output=True,
                              text=True, timeout=timeout, input=input,
                              stdin=None if input is not None else subprocess.DEVNULL)  # fmt: skip
        if check and proc.returncode != 0:
            raise AssertionError(f"dockyard {' '.join(args)} -> {proc.returncode}\n{proc.stderr}")
        return proc


@pytest.fixture(scope="session")
def busybox_tar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("busybox")
    return make_rootfs_tar(work / "busybox.tar", work)


def _netns() -> set[str]:
    return set(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else set()


def _leftovers(root: Path, bridges: list[str], netns_before: set[str]) -> list[str]:
    problems = []
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    problems += [f"process: {line}" for line in ps.splitlines() if str(root) in line and "ps -eo" not in line]
    mounts = Path("/proc/self/mountinfo").read_text()
    problems += [f"mount: {line}" for line in mounts.splitlines() if str(root) in line]
    for br in bridges:
        out = subprocess.run(["ip", "-br", "link", "show", "master", br], capture_output=True, text=True).stdout
        problems += [f"veth on {br}: {line}" for line in out.splitlines() if line.strip()]
    from dockyard.engine.networks import netns_prefix

    mine = netns_prefix(root.absolute())
    problems += [f"netns: {n}" for n in _netns() - netns_before if n.startswith(mine)]
    return problems


def _rules_of(subnets: list[str]) -> list[str]:
    rules = subprocess.run(["iptables-save"], capture_output=True, text=True).stdout.splitlines()
    return [r for r in rules if any(s in r for s in subnets)]


def _bridges_present(bridges: list[str]) -> list[str]:
    return [b for b in bridges if os.path.exists(f"/sys/class/net/{b}")]


def clean_root(d: Dockyard, netns_before: set[str]) -> list[str]:
    """Remove every container of `d`'s root, then list what is left (nothing, if all is well).

    After the containers no process, mount, veth, netns or per-container iptables rule may
    remain (a network's own NAT/forward rules may: they go with the network); then the
    root's networks are released and their bridges and rules must be gone too.
    """
    root = d.root
    d("rm", "-f", *d("ps", "-aq").stdout.split(), check=False)
    from dockyard.network.networks import NetworkStore
    from dockyard.store.db import Database

    if not (root / "metadata.db").exists():
        return []
    db = Database(root / "metadata.db")
    rows = db.query("SELECT name, bridge, subnet FROM networks")
    bridges = [r["bridge"] for r in rows]
    subnets = [r["subnet"].rsplit(".", 1)[0] + "." for r in rows]
    deadline = time.monotonic() + 5  # conmon's exit command may still be finishing
    while (problems := _leftovers(root, bridges, netns_before)) and time.monotonic() < deadline:
        time.sleep(0.1)
    problems += [f"iptables: {r}" for r in _rules_of(subnets) if "dockyard network" not in r]
    NetworkStore(db, root).release_devices()
    db.close()
    problems += [f"iptables after network removal: {r}" for r in _rules_of(subnets)]
    problems += [f"bridge after network removal: {b}" for b in _bridges_present(bridges)]
    return problems


@pytest.fixture
def dy(tmp_path: Path, busybox_tar: Path) -> Iterator[Dockyard]:
    """A fresh store root with busybox imported; afterwards nothing of the test may be left."""
    before = _netns()
    d = Dockyard(tmp_path / "root")
    d("import", str(busybox_tar), "busybox:latest")
    yield d
    problems = clean_root(d, before)
    assert not problems, "\n".join(problems)


def wait_until(check, timeout: float = 10.0, interval: float = 0.1):  # type: ignore[no-untyped-def]
    """Poll `check()` until it returns something truthy; that value (AssertionError on timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {getattr(check, '__name__', check)}")
        time.sleep(interval)
