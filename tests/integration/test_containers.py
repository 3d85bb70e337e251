"""Containers on the real runc, conmon, CNI plugins and overlayfs, each test with its own store root."""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import threading
import time

import pytest
from helpers import containers as h
from helpers.containers import Dockyard
from helpers.containers import free_port as _free_port

pytestmark = pytest.mark.integration
busybox_tar, dy = h.busybox_tar, h.dy  # fixtures shared with test_containers_*.py


def _http_get(url: str, timeout: float = 5.0) -> str:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            out = subprocess.run(["curl", "-s", "-f", "-m", "1", url], capture_output=True, text=True)
            if out.returncode == 0:
                return out.stdout
        except Exception as exc:  # pragma: no cover
            last = exc
        time.sleep(0.05)
    raise AssertionError(f"no answer from {url}: {last}")


HTTPD = "echo {} > /tmp/index.html; cd /tmp; exec httpd -f -p 8000"


def test_foreground_run_output_and_exit_code(dy: Dockyard) -> None:
    out = dy("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 7", check=False)
    assert (out.returncode, out.stdout, out.stderr.strip()) == (7, "out\n", "err")
    assert dy("ps", "-aq").stdout == ""


def test_missing_command_is_127_with_docker_message(dy: Dockyard) -> None:
    out = dy("run", "--name", "nocmd", "busybox", "nosuch-cmd", check=False)
    assert out.returncode == 127
    assert 'exec: "nosuch-cmd": executable file not found in $PATH' in out.stderr


def test_two_containers_same_inner_port_published_on_two_host_ports(dy: Dockyard) -> None:
    p1, p2 = _free_port(), _free_port()
    dy("run", "-d", "--name", "one", "-p", f"{p1}:8000", "busybox", "sh", "-c", HTTPD.format("one"))
    dy("run", "-d", "--name", "two", "-p", f"127.0.0.1:{p2}:8000", "busybox", "sh", "-c", HTTPD.format("two"))
    assert _http_get(f"http://127.0.0.1:{p1}/") == "one\n"
    assert _http_get(f"http://127.0.0.1:{p2}/") == "two\n"
    ps = dy("ps").stdout
    assert f"0.0.0.0:{p1}->8000/tcp" in ps and f"127.0.0.1:{p2}->8000/tcp" in ps
    assert dy("port", "one").stdout.strip() == f"8000/tcp -> 0.0.0.0:{p1}"


def test_container_reaches_a_server_on_the_host(dy: Dockyard) -> None:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"hello from host")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("0.0.0.0", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        dy("create", "--name", "probe", "busybox", "true")
        gateway = json.loads(dy("network", "inspect", "bridge").stdout)[0]["IPAM"]["Config"][0]["Gateway"]
        out = dy("run", "--rm", "busybox", "wget", "-q", "-O", "-", f"http://{gateway}:{port}/")
        assert out.stdout == "hello from host"
    finally:
        server.shutdown()


def test_detached_container_outlives_the_cli_then_stops(dy: Dockyard) -> None:
    cid = dy("run", "-d", "--name", "sleeper", "busybox", "sh", "-c",
             "trap 'echo bye; exit 0' TERM; echo started; while true; do sleep 0.1; done").stdout.strip()  # fmt: skip
    assert len(cid) == 64
    time.sleep(0.3)
    assert "Up " in dy("ps", "--filter", "name=sleeper").stdout
    assert dy("logs", "sleeper").stdout == "started\n"
    state = json.loads(dy("inspect", "sleeper").stdout)[0]["State"]
    assert state["Running"] and state["Pid"] > 0
    os.kill(state["Pid"], 0)  # the process really exists
    t0 = time.monotonic()
    dy("stop", "sleeper")
    assert time.monotonic() - t0 < 5
    info = json.loads(dy("inspect", "sleeper").stdout)[0]["State"]
    assert (info["Status"], info["ExitCode"]) == ("exited", 0)
    assert dy("logs", "sleeper").stdout == "started\nbye\n"
    assert dy("wait", "sleeper").stdout.strip() == "0"


def test_exec_env_user_workdir(dy: Dockyard) -> None:
    dy("run", "-d", "--name", "box", "-e", "FOO=bar", "-w", "/work/dir", "busybox", "sleep", "30")
    out = dy("exec", "-u", "app", "box", "sh", "-c", "echo $FOO; pwd; id -u; id -G")
    assert out.stdout.split("\n")[:4] == ["bar", "/work/dir", "1000", "1000 29 50"]
    assert dy("exec", "box", "sh", "-c", "exit 4", check=False).returncode == 4
    dy("rm", "-f", "box")


def test_entrypoint_and_cmd_rules(dy: Dockyard) -> None:
    assert dy("run", "--rm", "--entrypoint", "echo", "busybox", "a", "b").stdout == "a b\n"
    assert dy("run", "--rm", "-u", "33:29", "busybox", "id").stdout.startswith("uid=33(www-data) gid=29(audio)")
    assert dy("run", "--rm", "--hostname", "web", "busybox", "hostname").stdout == "web\n"


def test_user_defined_network_peers_by_name(dy: Dockyard) -> None:
    dy("network", "create", "appnet")
    dy("run", "-d", "--name", "srv", "--network", "appnet", "busybox", "sh", "-c", HTTPD.format("peer"))
    out = dy("run", "--rm", "--network", "appnet", "busybox", "sh", "-c",
             "for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O - http://srv:8000/ && exit 0; sleep 0.2; done; exit 1")  # fmt: skip
    assert out.stdout == "peer\n"
    dy("rm", "-f", "srv")
    dy("network", "rm", "appnet")


def test_network_none_has_only_loopback(dy: Dockyard) -> None:
    out = dy("run", "--rm", "--network", "none", "busybox", "ip", "-o", "link").stdout
    assert [line.split(":")[1].strip() for line in out.splitlines()] == ["lo"]


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["run", "nosuchimage:1"], 125, "nosuchimage"),
        (["run", "-p", "99999:80", "busybox", "true"], 125, "invalid port spec"),
        (["run", "-v", "/does/not/exist:/x", "busybox", "true"], 125, "bind source path does not exist"),
        (["run", "--network", "nonet", "busybox", "true"], 125, "network nonet not found"),
    ],
)
def test_bad_input_one_clear_error(dy: Dockyard, args: list[str], code: int, needle: str) -> None:
    out = dy(*args, check=False)
    assert out.returncode == code
    assert needle in out.stderr and "Traceback" not in out.stderr
    assert dy("ps", "-aq").stdout == ""


def test_name_in_use_and_rm_running(dy: Dockyard) -> None:
    dy("run", "-d", "--name", "dup", "busybox", "sleep", "30")
    out = dy("run", "--name", "dup", "busybox", "true", check=False)
    assert out.returncode == 125 and 'The container name "/dup" is already in use' in out.stderr
    out = dy("rm", "dup", check=False)
    assert out.returncode == 125 and "container is running" in out.stderr
    dy("rm", "-f", "dup")


def test_host_port_already_taken(dy: Dockyard) -> None:
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        s.listen()
        port = s.getsockname()[1]
        out = dy("run", "-d", "-p", f"{port}:80", "busybox", "sleep", "30", check=False)
    assert out.returncode == 125 and "port is already allocated" in out.stderr
    p = _free_port()
    dy("run", "-d", "--name", "holder", "-p", f"{p}:80", "busybox", "sleep", "30")
    out = dy("run", "-d", "-p", f"{p}:80", "busybox", "sleep", "30", check=False)
    assert out.returncode == 125 and "port is already allocated" in out.stderr
