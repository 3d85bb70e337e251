"""Published ports (network/portrules.py): host-IP restriction, udp, hairpin, teardown."""

from __future__ import annotations

import socket
import subprocess
import time

import pytest
from helpers import containers as h
from helpers.containers import Dockyard
from helpers.containers import free_port as _free_port

pytestmark = pytest.mark.integration
busybox_tar, dy = h.busybox_tar, h.dy  # fixtures shared with test_containers_*.py

HTTPD = "echo {} > /tmp/index.html; cd /tmp; exec httpd -f -p 8000"


def _host_ip() -> str:
    """The host's own IPv4 address on its default route (not loopback, not a bridge)."""
    out = subprocess.run(["ip", "-4", "route", "get", "192.0.2.1"], capture_output=True, text=True).stdout.split()
    if "src" not in out:
        pytest.skip("no IPv4 default route on this host")
    return out[out.index("src") + 1]


def _get(url: str, timeout: float = 5.0) -> str | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(["curl", "-s", "-f", "-m", "1", url], capture_output=True, text=True)
        if out.returncode == 0:
            return out.stdout
        time.sleep(0.05)
    return None


def test_host_ip_restricted_port_answers_only_there(dy: Dockyard) -> None:
    port, ip = _free_port(), _host_ip()
    dy("run", "-d", "--name", "lo", "-p", f"127.0.0.1:{port}:8000", "busybox", "sh", "-c", HTTPD.format("lo"))
    assert _get(f"http://127.0.0.1:{port}/") == "lo\n"
    assert _get(f"http://{ip}:{port}/", timeout=1.0) is None


def test_hairpin_from_containers_through_the_host_address(dy: Dockyard) -> None:
    port, ip = _free_port(), _host_ip()
    dy("run", "-d", "--name", "web", "-p", f"{port}:8000", "busybox", "sh", "-c", HTTPD.format("web"))
    assert _get(f"http://{ip}:{port}/") == "web\n"
    request = f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {ip} {port} | tail -1"
    assert dy("run", "--rm", "busybox", "sh", "-c", request).stdout == "web\n"  # another container
    assert dy("exec", "web", "sh", "-c", request).stdout == "web\n"  # the container itself


def _udp_noports(dy: Dockyard, name: str) -> int:
    """Datagrams the container's kernel received for a UDP port nobody listens on."""
    lines = [ln.split() for ln in dy("exec", name, "cat", "/proc/net/snmp").stdout.splitlines()]
    head, values = [ln for ln in lines if ln and ln[0] == "Udp:"][:2]
    return int(values[head.index("NoPorts")])


def test_udp_port_is_published_and_removed_with_the_container(dy: Dockyard) -> None:
    # busybox has no UDP server: the datagrams are counted by the container's own kernel
    port = _free_port()
    dy("run", "-d", "--name", "udp", "-p", f"127.0.0.1:{port}:9000/udp", "busybox", "sleep", "60")
    before = _udp_noports(dy, "udp")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _ in range(5):
            s.sendto(b"hello-udp\n", ("127.0.0.1", port))
    time.sleep(0.2)
    assert _udp_noports(dy, "udp") - before >= 5
    cid = dy("inspect", "-f", "{{.Id}}", "udp").stdout.strip()
    dy("rm", "-f", "udp")
    rules = subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True).stdout
    assert cid not in rules and cid[:24] not in rules
