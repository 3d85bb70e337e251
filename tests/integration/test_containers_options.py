"""`run` options a user can check from inside the container, and the query commands around it
(real runc, conmon, CNI and overlayfs; each test with its own store root)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from helpers import containers as h
from helpers.containers import Dockyard, wait_until

pytestmark = pytest.mark.integration
busybox_tar, dy = h.busybox_tar, h.dy  # fixtures shared with test_containers*.py


def test_memory_cpus_read_only(dy: Dockyard) -> None:
    out = dy("run", "--rm", "--memory", "64m", "--cpus", "0.5", "--read-only", "busybox", "sh", "-c",
             "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us;"
             " touch /newfile 2>/dev/null && echo writable || echo read-only").stdout  # fmt: skip
    assert out.split() == [str(64 * 1024 * 1024), "50000", "read-only"]


def test_cap_add_and_drop(dy: Dockyard) -> None:
    def eff(*flags: str) -> int:
        out = dy("run", "--rm", *flags, "busybox", "grep", "CapEff", "/proc/self/status").stdout
        return int(out.split()[1], 16)

    base = eff()
    net_raw, net_admin = 1 << 13, 1 << 12
    assert base & net_raw and not base & net_admin
    assert not eff("--cap-drop", "NET_RAW") & net_raw
    assert eff("--cap-add", "NET_ADMIN") & net_admin


def test_init_is_pid_1(dy: Dockyard) -> None:
    out = dy("run", "--rm", "--init", "busybox", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '").stdout
    assert out.startswith("/sbin/docker-init -- sh -c")
    assert dy("run", "--rm", "busybox", "sh", "-c", "echo $$").stdout == "1\n"


def test_labels_env_file_and_ps_filters(dy: Dockyard, tmp_path: Path) -> None:
    env_file = tmp_path / "env"
    env_file.write_text("# comment\nA=from-file\nB=2\n")
    out = dy("run", "--rm", "--env-file", str(env_file), "-e", "B=flag", "busybox",
             "sh", "-c", "echo $A $B").stdout  # fmt: skip
    assert out == "from-file flag\n"
    dy("run", "-d", "--name", "tagged", "-l", "tier=web", "busybox", "sleep", "30")
    dy("create", "--name", "plain", "busybox", "true")
    assert json.loads(dy("inspect", "tagged").stdout)[0]["Config"]["Labels"] == {"tier": "web"}
    def names(*filters: str) -> str:
        return dy("ps", "-a", *filters).stdout

    assert "tagged" in names("--filter", "label=tier=web") and "plain" not in names("--filter", "label=tier")
    assert "plain" in names("--filter", "status=created") and "tagged" not in names("--filter", "status=created")
    assert dy("ps", "-q", "--filter", "name=tagg").stdout.strip() != ""
    out = dy("ps", "--filter", "bogus=1", check=False)
    assert out.returncode == 125 and "invalid filter" in out.stderr


def test_publish_all_port_and_top(dy: Dockyard, busybox_tar: Path) -> None:
    dy("import", "-c", "EXPOSE 8000", str(busybox_tar), "webbox:1")
    dy("run", "-d", "--name", "web", "-P", "webbox:1", "sh", "-c",
       "echo hi > /tmp/index.html; exec httpd -f -p 8000 -h /tmp")  # fmt: skip
    line = dy("port", "web", "8000").stdout.strip()
    host_port = int(line.rsplit(":", 1)[1])
    assert line == f"0.0.0.0:{host_port}"
    import urllib.request

    def answer() -> bytes | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{host_port}/", timeout=1) as resp:
                return bytes(resp.read())
        except OSError:
            return None

    assert wait_until(answer, timeout=5) == b"hi\n"
    top = dy("top", "web").stdout.splitlines()
    assert top[0].split()[:3] == ["UID", "PID", "PPID"] and any("httpd" in row for row in top[1:])


def test_logs_tail_timestamps_since_follow(dy: Dockyard) -> None:
    dy("run", "-d", "--name", "talker", "busybox", "sh", "-c",
       "echo one; echo two; echo three >&2; sleep 1.5; echo late")  # fmt: skip
    wait_until(lambda: "three" in dy("logs", "talker").stderr, timeout=5)
    assert dy("logs", "--tail", "2", "talker").stdout == "two\n"  # the 2nd last is on stderr
    stamped = dy("logs", "-t", "talker").stdout.splitlines()
    assert stamped[0].endswith(" one") and stamped[0][:4].isdigit() and "T" in stamped[0].split()[0]
    assert dy("logs", "--since", str(time.time() + 60), "talker").stdout == ""
    t0 = time.monotonic()
    follow = dy("logs", "-f", "talker", timeout=15)  # ends when the container exits
    assert follow.stdout == "one\ntwo\nlate\n" and time.monotonic() - t0 < 10


def test_interactive_stdin_and_a_real_terminal(dy: Dockyard) -> None:
    out = dy("run", "--rm", "-i", "--network", "none", "busybox", "cat", input="hi\n")
    assert out.stdout == "hi\n"
    import os
    import pty
    import select

    pid, fd = pty.fork()
    if pid == 0:  # the child: dockyard on the pty, as a user's terminal would run it
        os.execv(h.DOCKYARD[0], [*h.DOCKYARD, "--root", str(dy.root), "run", "--rm", "-it",
                                 "--network", "none", "busybox", "sh", "-c", "tty; exit 5"])  # fmt: skip
    out_b, deadline = b"", time.monotonic() + 20
    while time.monotonic() < deadline:
        if select.select([fd], [], [], 0.5)[0]:
            try:
                chunk = os.read(fd, 1024)
            except OSError:  # the pty closes when dockyard exits
                break
            if not chunk:
                break
            out_b += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 5
    assert out_b.decode().strip().startswith("/dev/pts/")
