"""Containers that outlive the CLI: --rm and --restart through conmon's exit command, ports held
by another root, named volumes, network connect/disconnect (real runc, conmon, CNI, overlay)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import containers as h
from helpers.containers import Dockyard, free_port, wait_until

pytestmark = pytest.mark.integration
busybox_tar, dy = h.busybox_tar, h.dy  # fixtures shared with test_containers*.py


def _state(d: Dockyard, name: str) -> dict:
    return json.loads(d("inspect", name).stdout)[0]


def test_detached_rm_is_removed_by_the_exit_command(dy: Dockyard) -> None:
    dy("run", "-d", "--rm", "--name", "brief", "busybox", "sh", "-c", "sleep 1")
    assert "brief" in dy("ps", "-a").stdout
    wait_until(lambda: dy("ps", "-aq").stdout == "", timeout=10)


def test_restart_on_failure_stops_after_max_retries(dy: Dockyard) -> None:
    dy("run", "-d", "--name", "flaky", "--restart", "on-failure:2", "busybox",
       "sh", "-c", "echo attempt; exit 3")  # fmt: skip

    def settled() -> dict | None:
        s = _state(dy, "flaky")
        return s if s["RestartCount"] == 2 and s["State"]["Status"] == "exited" else None

    s = wait_until(settled, timeout=15)
    assert s["State"]["ExitCode"] == 3
    assert s["HostConfig"]["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}
    assert dy("logs", "flaky").stdout == "attempt\n" * 3


def test_restart_always_until_stopped_and_no_restart_by_default(dy: Dockyard) -> None:
    dy("run", "-d", "--name", "loop", "--restart", "always", "busybox", "sh", "-c", "sleep 0.1")
    dy("run", "-d", "--name", "once", "busybox", "sh", "-c", "exit 0")
    wait_until(lambda: _state(dy, "loop")["RestartCount"] >= 2, timeout=15)
    dy("stop", "-t", "1", "loop")
    count = _state(dy, "loop")["RestartCount"]
    import time

    time.sleep(1.5)  # longer than the restart back-off at this count
    after = _state(dy, "loop")
    assert after["State"]["Status"] == "exited" and after["RestartCount"] == count
    once = _state(dy, "once")
    assert once["State"]["Status"] == "exited" and once["RestartCount"] == 0


def test_restart_command_and_start_again(dy: Dockyard) -> None:
    dy("run", "-d", "--name", "svc", "busybox", "sh", "-c", "echo up; sleep 30")
    first = _state(dy, "svc")["State"]["Pid"]
    dy("restart", "-t", "1", "svc")
    second = _state(dy, "svc")["State"]
    assert second["Running"] and second["Pid"] != first
    wait_until(lambda: dy("logs", "svc").stdout == "up\nup\n", timeout=5)


def test_host_port_published_by_another_root_is_refused(dy: Dockyard, tmp_path: Path,
                                                        busybox_tar: Path) -> None:  # fmt: skip
    port = free_port()
    dy("run", "-d", "--name", "holder", "-p", f"{port}:8000", "busybox", "sleep", "30")
    other = Dockyard(tmp_path / "other-root")
    other("import", str(busybox_tar), "busybox:latest")
    before = h._netns()
    try:
        out = other("run", "-d", "-p", f"{port}:8000", "busybox", "sleep", "30", check=False)
        assert out.returncode == 125 and "port is already allocated" in out.stderr
        assert other("ps", "-q").stdout == ""
        dy("rm", "-f", "holder")  # the port is free again, for the other root too
        other("run", "-d", "--name", "taker", "-p", f"{port}:8000", "busybox", "sleep", "30")
    finally:
        problems = h.clean_root(other, before)
    assert not problems, problems


def test_named_volumes(dy: Dockyard) -> None:
    assert dy("volume", "create", "data").stdout.strip() == "data"
    dy("run", "--rm", "-v", "data:/data", "busybox", "sh", "-c", "echo kept > /data/f")
    assert dy("run", "--rm", "-v", "data:/data:ro", "busybox", "cat", "/data/f").stdout == "kept\n"
    out = dy("run", "--rm", "-v", "data:/data:ro", "busybox", "touch", "/data/g", check=False)
    assert out.returncode != 0
    info = json.loads(dy("volume", "inspect", "data").stdout)[0]
    assert info["Name"] == "data" and info["Driver"] == "local"
    assert (Path(info["Mountpoint"]) / "f").read_text() == "kept\n"
    assert "data" in dy("volume", "ls", "-q").stdout.split()
    dy("create", "--name", "user", "-v", "data:/data", "busybox", "true")
    out = dy("volume", "rm", "data", check=False)
    assert out.returncode == 125 and "volume is in use" in out.stderr
    dy("rm", "user")
    dy("run", "--rm", "-v", "/anon", "busybox", "true")  # an anonymous volume
    pruned = dy("volume", "prune", "-f").stdout
    assert "data" not in pruned.split()  # named volumes stay without -a
    assert dy("volume", "ls", "-q").stdout.split() == ["data"]
    dy("volume", "rm", "data")
    assert dy("volume", "ls", "-q").stdout == ""
    out = dy("volume", "inspect", "data", check=False)
    assert out.returncode == 125 and "no such volume" in out.stderr


def test_network_connect_and_disconnect(dy: Dockyard) -> None:
    dy("network", "create", "side")
    dy("run", "-d", "--name", "multi", "busybox", "sleep", "30")
    dy("network", "connect", "side", "multi")
    addrs = dy("exec", "multi", "ip", "-o", "-4", "addr").stdout
    assert " eth0 " in addrs and " eth1 " in addrs
    nets = _state(dy, "multi")["NetworkSettings"]["Networks"]
    assert set(nets) == {"bridge", "side"}
    side = json.loads(dy("network", "inspect", "side").stdout)[0]
    assert [c["Name"] for c in side["Containers"].values()] == ["multi"]
    out = dy("network", "connect", "side", "multi", check=False)
    assert out.returncode == 125 and "already" in out.stderr
    dy("network", "disconnect", "side", "multi")
    assert " eth1 " not in dy("exec", "multi", "ip", "-o", "-4", "addr").stdout
    assert set(_state(dy, "multi")["NetworkSettings"]["Networks"]) == {"bridge"}
    dy("rm", "-f", "multi")
    dy("network", "rm", "side")
