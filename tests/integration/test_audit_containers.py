"""Audit of issue #4 on the real runc, conmon, CNI and overlayfs: UDP and host-address
publishing, exit code 126, signal forwarding, --network host, STOPSIGNAL and kill -s, exec -d,
rm -v, container prune, masked paths from inside, peers that start later, and what `stop` frees."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time

import pytest
from helpers import containers as h
from helpers.containers import Dockyard, free_port, wait_until

pytestmark = pytest.mark.integration
busybox_tar, dy = h.busybox_tar, h.dy  # fixtures shared with test_containers*.py

# the host's python3 lent to a busybox container (a UDP server busybox lacks)
HOST_PYTHON = ["-v", "/usr:/usr:ro", "-v", "/lib:/lib:ro", "-v", "/lib64:/lib64:ro"]
UDP_ECHO = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 9999))
while True:
    data, peer = s.recvfrom(100)
    s.sendto(b"echo:" + data, peer)
"""


def _host_address() -> str | None:
    out = subprocess.run(["ip", "-4", "-o", "route", "get", "192.0.2.200"], capture_output=True, text=True)
    fields = out.stdout.split()
    return fields[fields.index("src") + 1] if "src" in fields else None


def _udp_ask(host: str, port: int) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.5)
        try:
            s.sendto(b"hi", (host, port))
            return s.recvfrom(100)[0]
        except OSError:
            return None


def test_udp_and_tcp_published_on_loopback_and_the_hosts_address(dy: Dockyard) -> None:
    addr = _host_address()
    if addr is None or not os.path.exists("/usr/bin/python3"):
        pytest.skip("no global IPv4 address or no host python3")
    udp, tcp = free_port(), free_port()
    dy("run", "-d", "--name", "udp-echo", "-p", f"{udp}:9999/udp", *HOST_PYTHON, "busybox",
       "/usr/bin/python3", "-c", UDP_ECHO)  # fmt: skip
    dy("run", "-d", "--name", "web", "-p", f"{tcp}:8000", "busybox", "sh", "-c",
       "echo tcp > /tmp/index.html; exec httpd -f -p 8000 -h /tmp")  # fmt: skip
    assert wait_until(lambda: _udp_ask("127.0.0.1", udp), timeout=8) == b"echo:hi"
    assert _udp_ask(addr, udp) == b"echo:hi"
    for host in ("127.0.0.1", addr):
        out = wait_until(lambda host=host: subprocess.run(
            ["curl", "-s", "-f", "-m", "1", f"http://{host}:{tcp}/"], capture_output=True, text=True).stdout,
            timeout=5)  # fmt: skip
        assert out == "tcp\n"
    assert dy("port", "udp-echo").stdout.strip() == f"9999/udp -> 0.0.0.0:{udp}"


def test_not_executable_is_126_and_missing_is_127(dy: Dockyard) -> None:
    out = dy("run", "--rm", "busybox", "/etc/passwd", check=False)
    assert out.returncode == 126 and "permission denied" in out.stderr
    assert dy("run", "--rm", "busybox", "/etc", check=False).returncode == 126
    out = dy("run", "-d", "--name", "notexec", "busybox", "/etc/passwd", check=False)
    assert out.returncode == 126 and "Traceback" not in out.stderr
    assert dy("run", "--rm", "--entrypoint", "echo a", "busybox", check=False).returncode == 127


def test_foreground_run_forwards_signals(dy: Dockyard) -> None:
    for sig, name, code in ((signal.SIGTERM, "TERM", 42), (signal.SIGINT, "INT", 43)):
        proc = subprocess.Popen(
            [*h.DOCKYARD, "--root", str(dy.root), "run", "--rm", "--network", "none", "busybox", "sh", "-c",
             f"trap 'echo got-{name}; exit {code}' {name}; echo ready; while true; do sleep 0.1; done"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)  # fmt: skip
        try:
            assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
            proc.send_signal(sig)
            rest, _ = proc.communicate(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert (proc.returncode, rest) == (code, f"got-{name}\n")


def test_network_host_shares_the_hosts_stack_and_name(dy: Dockyard) -> None:
    host_links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout.count("\n")
    out = dy("run", "--rm", "--network", "host", "busybox", "sh", "-c", "hostname; ip -o link | wc -l").stdout
    name, links = out.split()
    assert name == os.uname().nodename
    assert abs(int(links) - host_links) <= 2  # other tests may add a veth meanwhile
    dy("create", "--name", "hostnet", "--network", "host", "busybox", "true")
    doc = json.loads(dy("inspect", "hostnet").stdout)[0]
    assert doc["Config"]["Hostname"] == os.uname().nodename and doc["HostConfig"]["NetworkMode"] == "host"


def test_stopsignal_and_kill_with_a_signal(dy: Dockyard, busybox_tar) -> None:
    dy("import", "-c", "STOPSIGNAL SIGUSR1", str(busybox_tar), "sigbox:1")
    dy("run", "-d", "--name", "usr1", "sigbox:1", "sh", "-c",
       "trap 'echo usr1; exit 9' USR1; trap 'echo term; exit 8' TERM; echo up; while true; do sleep 0.1; done")  # fmt: skip
    wait_until(lambda: dy("logs", "usr1").stdout == "up\n", timeout=5)
    t0 = time.monotonic()
    dy("stop", "usr1")
    assert time.monotonic() - t0 < 5
    assert dy("logs", "usr1").stdout == "up\nusr1\n"
    assert dy("inspect", "-f", "{{.State.ExitCode}} {{.Config.StopSignal}}", "usr1").stdout.split() == ["9", "SIGUSR1"]
    dy("run", "-d", "--name", "hup", "busybox", "sh", "-c",
       "trap 'echo hup; exit 3' HUP; echo up; while true; do sleep 0.1; done")  # fmt: skip
    wait_until(lambda: dy("logs", "hup").stdout == "up\n", timeout=5)
    dy("kill", "-s", "HUP", "hup")
    assert dy("wait", "hup", timeout=10).stdout.strip() == "3"
    dy("run", "-d", "--name", "stubborn", "busybox", "sh", "-c", "trap '' TERM; while true; do sleep 0.1; done")
    t0 = time.monotonic()
    dy("stop", "-t", "1", "stubborn")  # TERM is ignored: SIGKILL after the timeout
    assert 0.9 < time.monotonic() - t0 < 5
    assert dy("inspect", "-f", "{{.State.ExitCode}}", "stubborn").stdout.strip() == "137"


def test_exec_detached_rm_volumes_and_prune(dy: Dockyard) -> None:
    dy("run", "-d", "--name", "box", "-v", "/anon", "busybox", "sleep", "30")
    assert dy("exec", "-d", "box", "sh", "-c", "sleep 0.2; echo bg > /tmp/bg").stdout == ""
    wait_until(lambda: dy("exec", "box", "cat", "/tmp/bg", check=False).stdout == "bg\n", timeout=5)
    anon = json.loads(dy("inspect", "box").stdout)[0]["Mounts"][0]
    assert anon["Type"] == "volume" and anon["Driver"] == "local" and len(anon["Name"]) == 64
    assert dy("volume", "ls", "-q").stdout.split() == [anon["Name"]]
    dy("rm", "-f", "-v", "box")
    assert dy("volume", "ls", "-q").stdout == ""
    dy("run", "--name", "done1", "busybox", "true")
    dy("create", "--name", "fresh", "busybox", "true")
    dy("run", "-d", "--name", "alive", "busybox", "sleep", "30")
    out = dy("container", "prune", "-f").stdout
    assert "Deleted Containers:" in out and "Total reclaimed space:" in out
    assert sorted(dy("ps", "-a", "--format", "{{.Names}}").stdout.split()) == ["alive"]


def test_masked_paths_hosts_and_hostname_from_inside(dy: Dockyard) -> None:
    script = ("ls /proc/acpi | wc -l; cat /proc/keys | wc -c; "
              "echo 1 > /proc/sys/vm/drop_caches 2>/dev/null && echo rw || echo ro; "
              "touch /sys/x 2>/dev/null && echo rw || echo ro; "
              "mkdir /sys/fs/cgroup/memory/x 2>/dev/null && echo rw || echo ro; "
              "hostname; grep -c \"\\s$(hostname)$\" /etc/hosts; grep -c nameserver /etc/resolv.conf; "
              "cat /proc/self/status | grep -e '^CapEff' -e '^Seccomp:'")  # fmt: skip
    dy("run", "--name", "looker", "busybox", "sh", "-c", script)
    out = dy("logs", "looker").stdout.split("\n")
    cid = dy("inspect", "-f", "{{.Id}}", "looker").stdout.strip()
    assert out[:8] == ["0", "0", "ro", "ro", "ro", cid[:12], "1", out[7]] and int(out[7]) >= 1
    assert out[8].split() == ["CapEff:", "00000000a80425fb"]  # Docker's 14 default capabilities
    assert out[9].split() == ["Seccomp:", "2"]


def test_a_container_resolves_a_peer_that_started_after_it(dy: Dockyard) -> None:
    dy("network", "create", "late")
    dy("run", "-d", "--name", "first", "--network", "late", "busybox", "sleep", "30")
    dy("run", "-d", "--name", "second", "--network", "late", "busybox", "sh", "-c",
       "echo second > /tmp/index.html; exec httpd -f -p 8000 -h /tmp")  # fmt: skip
    out = dy("exec", "first", "sh", "-c",
             "for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O - http://second:8000/ && exit 0; sleep 0.2; done; exit 1")  # fmt: skip
    assert out.stdout == "second\n"
    dy("rm", "-f", "first", "second")
    dy("network", "rm", "late")


def test_stop_frees_veth_netns_rules_and_mounts_before_rm(dy: Dockyard) -> None:
    before = h._netns()
    port = free_port()
    dy("run", "-d", "--name", "held", "-p", f"{port}:8000", "busybox", "sleep", "30")
    bridge = json.loads(dy("network", "inspect", "bridge").stdout)[0]["Options"]["com.docker.network.bridge.name"]
    assert f"--dport {port} " in subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True).stdout
    dy("stop", "-t", "1", "held")
    wait_until(lambda: not h._leftovers(dy.root, [bridge], before), timeout=5)  # no veth/netns/mount
    assert f"--dport {port} " not in subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True).stdout
    dy("start", "held")  # and everything comes back
    assert json.loads(dy("inspect", "held").stdout)[0]["NetworkSettings"]["Ports"] == {
        "8000/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(port)}]}  # fmt: skip
