"""HEALTHCHECK while containers run (a monitor per container, no daemon), the log a foreground
`run` keeps, `start -a`, and network aliases (real runc, conmon, CNI, overlay)."""

from __future__ import annotations

import json
import re

import pytest
from helpers import containers as h
from helpers.containers import Dockyard, wait_until

pytestmark = pytest.mark.integration
busybox_tar, dy = h.busybox_tar, h.dy  # fixtures shared with test_containers*.py


def _state(d: Dockyard, name: str) -> dict:
    return json.loads(d("inspect", name).stdout)[0]["State"]


def _ps_status(d: Dockyard, name: str) -> str:
    """The STATUS column of `ps -a` for one container."""
    for line in d("ps", "-a").stdout.splitlines()[1:]:
        if line.split()[-1] == name:
            return re.split(r"\s{3,}", line)[4]
    raise AssertionError(f"{name} not in ps")


def test_image_healthcheck_turns_healthy_or_unhealthy(dy: Dockyard, busybox_tar) -> None:  # type: ignore[no-untyped-def]
    dy("import", "-c", "HEALTHCHECK --interval=1s --retries=2 CMD test -f /tmp/ok && echo fine",
       str(busybox_tar), "checked:latest")  # fmt: skip
    dy("run", "-d", "--name", "good", "checked", "sh", "-c", "touch /tmp/ok; sleep 30")
    dy("run", "-d", "--name", "bad", "checked", "sleep", "30")
    assert "(health: starting)" in _ps_status(dy, "good")
    assert _state(dy, "good")["Health"]["Status"] == "starting"

    wait_until(lambda: _state(dy, "good")["Health"]["Status"] == "healthy", timeout=6)
    bad = wait_until(lambda: (s := _state(dy, "bad")["Health"])["Status"] == "unhealthy" and s, timeout=8)
    assert re.fullmatch(r"Up \d+ seconds? \(healthy\)", _ps_status(dy, "good"))
    assert re.fullmatch(r"Up \d+ seconds? \(unhealthy\)", _ps_status(dy, "bad"))
    assert bad["FailingStreak"] >= 2
    assert set(bad["Log"][0]) == {"Start", "End", "ExitCode", "Output"}
    assert all(entry["ExitCode"] == 1 for entry in bad["Log"])
    good = _state(dy, "good")["Health"]
    assert good["FailingStreak"] == 0 and good["Log"][-1] == {**good["Log"][-1], "ExitCode": 0,
                                                              "Output": "fine\n"}  # fmt: skip
    assert dy("ps", "-q", "--filter", "health=unhealthy").stdout.split() == [_id(dy, "bad")]

    dy("stop", "-t", "1", "good")  # the monitor ends with its container (the fixture checks)
    assert _state(dy, "good")["Health"]["Status"] == "unhealthy"  # as Docker says once stopped
    dy("start", "good")
    assert "(health: starting)" in _ps_status(dy, "good")
    wait_until(lambda: _state(dy, "good")["Health"]["Status"] == "healthy", timeout=6)


def _id(d: Dockyard, name: str) -> str:
    return d("inspect", "-f", "{{.Id}}", name).stdout.strip()[:12]


def test_health_flags_and_healthcheck_none(dy: Dockyard, busybox_tar) -> None:  # type: ignore[no-untyped-def]
    dy("import", "-c", "HEALTHCHECK NONE", str(busybox_tar), "unchecked:latest")
    dy("import", "-c", "HEALTHCHECK --interval=1s CMD false", str(busybox_tar), "failing:latest")
    dy("run", "-d", "--name", "none", "unchecked", "sleep", "30")
    dy("run", "-d", "--name", "off", "--no-healthcheck", "failing", "sleep", "30")
    dy("run", "-d", "--name", "flagged", "--health-cmd", "exit 0", "--health-interval", "1s",
       "--health-retries", "1", "busybox", "sleep", "30")  # fmt: skip
    wait_until(lambda: _state(dy, "flagged")["Health"]["Status"] == "healthy", timeout=6)
    for name in ("none", "off"):
        assert "Health" not in _state(dy, name)
        assert re.fullmatch(r"Up [\w ]+", _ps_status(dy, name))
    config = json.loads(dy("inspect", "flagged").stdout)[0]["Config"]["Healthcheck"]
    assert config == {"Test": ["CMD-SHELL", "exit 0"], "Interval": 1_000_000_000, "Retries": 1}
    out = dy("run", "--no-healthcheck", "--health-cmd", "true", "busybox", "true", check=False)
    assert out.returncode == 125 and "--no-healthcheck conflicts with --health-* options" in out.stderr
    out = dy("run", "--health-interval", "5", "--health-cmd", "true", "busybox", "true", check=False)
    assert out.returncode == 125 and "invalid duration" in out.stderr
    assert len(dy("ps", "-aq").stdout.split()) == 3  # the refused runs created nothing


def test_foreground_run_keeps_a_log_and_start_attach(dy: Dockyard) -> None:
    out = dy("run", "--name", "fg", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3", check=False)
    assert (out.returncode, out.stdout, out.stderr) == (3, "out\n", "err\n")
    logs = dy("logs", "fg")
    assert (logs.stdout, logs.stderr) == ("out\n", "err\n")
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z out\n$", dy("logs", "-t", "fg").stdout)

    dy("create", "--name", "att", "busybox", "sh", "-c", "echo hello; sleep 0.3; echo bye >&2; exit 4")
    first = dy("start", "-a", "att", check=False)
    assert (first.returncode, first.stdout, first.stderr) == (4, "hello\n", "bye\n")
    again = dy("start", "-a", "att", check=False)  # only this run's output, not the earlier one's
    assert (again.returncode, again.stdout, again.stderr) == (4, "hello\n", "bye\n")
    assert dy("logs", "att").stdout == "hello\nhello\n"
    out = dy("run", "--name", "missing", "busybox", "nosuchcommand", check=False)
    assert out.returncode == 127 and dy("logs", "missing").stdout == ""


def test_network_aliases_resolve_for_peers(dy: Dockyard) -> None:
    dy("network", "create", "appnet")
    dy("run", "-d", "--name", "database", "--network", "appnet", "--network-alias", "db",
       "--network-alias", "postgres", "busybox", "sleep", "30")  # fmt: skip
    ip = json.loads(dy("inspect", "database").stdout)[0]["NetworkSettings"]["Networks"]["appnet"]
    probe = dy("run", "--rm", "--network", "appnet", "--network-alias", "web", "busybox", "sh", "-c",
               "ping -c1 -W2 db >/dev/null && ping -c1 -W2 postgres >/dev/null && grep -w web /etc/hosts")  # fmt: skip
    assert probe.stdout.split()[1] == "web"
    assert ip["Aliases"][:3] == ["database", "db", "postgres"]
    dy("run", "-d", "--name", "side", "busybox", "sleep", "30")
    dy("network", "connect", "--alias", "helper", "appnet", "side")
    hosts = dy("exec", "database", "cat", "/etc/hosts").stdout
    assert re.search(r"^\S+\thelper$", hosts, re.M) and re.search(r"^\S+\tside$", hosts, re.M)
    dy("network", "disconnect", "appnet", "side")
    assert "helper" not in dy("exec", "database", "cat", "/etc/hosts").stdout
    out = dy("run", "--network-alias", "x", "busybox", "true", check=False)
    assert out.returncode == 125 and "only for containers in user defined networks" in out.stderr
