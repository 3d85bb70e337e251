"""`rename`, from the CLI and through the Engine API with the real docker client: the same
container under its new name, peers on a user-defined network see it, Docker's errors."""

from __future__ import annotations

import json
import subprocess

import pytest
from helpers import containers as h
from helpers import dockerapi
from helpers.containers import Dockyard
from helpers.dockerapi import Docker

pytestmark = pytest.mark.integration
busybox_tar, dy = h.busybox_tar, h.dy  # fixtures shared with test_containers*.py
docker = dockerapi.docker  # the service fixture, over this module's busybox_tar


def _one_error(out: subprocess.CompletedProcess[str]) -> str:
    """The stderr of a refused command: one `Error:` line (and maybe a hint), no traceback."""
    lines = out.stderr.splitlines()
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert lines[0].startswith("Error:") and sum(x.startswith("Error:") for x in lines) == 1
    return out.stderr


def test_rename_keeps_the_container_and_peers_see_the_new_name(dy: Dockyard) -> None:
    dy("network", "create", "renet")
    dy("run", "-d", "--name", "old", "--network", "renet", "busybox", "sleep", "30")
    dy("run", "-d", "--name", "peer", "--network", "renet", "busybox", "sleep", "30")
    cid = json.loads(dy("inspect", "old").stdout)[0]["Id"]
    assert dy("rename", "old", "new").stdout == ""
    state = json.loads(dy("inspect", "new").stdout)[0]
    assert (state["Id"], state["Name"], state["State"]["Status"]) == (cid, "/new", "running")
    assert sorted(dy("ps", "--format", "{{.Names}}").stdout.split()) == ["new", "peer"]
    hosts = dy("exec", "peer", "cat", "/etc/hosts").stdout.split()
    assert "new" in hosts and "old" not in hosts
    # Docker's refusals, each one Error line, nothing changed
    assert "same name" in _one_error(dy("rename", "new", "new", check=False))
    assert "already in use" in _one_error(dy("rename", "new", "peer", check=False))
    assert "Invalid container name" in _one_error(dy("rename", "new", "no way", check=False))
    assert "No such container" in _one_error(dy("container", "rename", "nosuch", "x", check=False))
    assert sorted(dy("ps", "--format", "{{.Names}}").stdout.split()) == ["new", "peer"]
    dy("rm", "-f", "new", "peer")
    dy("network", "rm", "renet")


def test_docker_rename_through_the_api(docker: Docker) -> None:
    cid = docker("create", "--name", "first", "busybox", "true").stdout.strip()
    docker("rename", "first", "second")
    assert docker("inspect", "--format", "{{.Id}} {{.Name}}", "second").stdout.split() == [
        cid,
        "/second",
    ]
    taken = docker("create", "--name", "third", "busybox", "true")
    assert taken.returncode == 0
    refused = docker("rename", "second", "third", check=False)
    assert refused.returncode != 0 and "already in use" in refused.stderr
