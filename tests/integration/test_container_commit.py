"""`commit` (CLI and `POST /commit` through the real docker CLI) on real runc and overlayfs."""

from __future__ import annotations

import json

import pytest
from helpers import containers as h
from helpers import dockerapi
from helpers.containers import Dockyard
from helpers.dockerapi import Docker

pytestmark = pytest.mark.integration
busybox_tar, dy = h.busybox_tar, h.dy
docker = dockerapi.docker  # the service fixture, over this module's busybox_tar

CHANGES = "echo hello > /new; echo extra >> /etc/passwd; rm /bin/ls; mkdir -p /d; echo 1 > /d/f"


def _image_ids(dy: Dockyard) -> list[str]:
    return sorted(dy("images", "-q", "--no-trunc").stdout.split())


def _layers(dy: Dockyard, ref: str) -> list[str]:
    return list(json.loads(dy("image", "inspect", ref).stdout)[0]["RootFS"]["Layers"])


def test_commit_running_container_with_changes_message_and_author(dy: Dockyard) -> None:
    dy("run", "-d", "--name", "work", "-e", "GREETING=hi", "busybox", "sh", "-c",
       f"{CHANGES}; touch /ready; exec sleep 60")  # fmt: skip
    h.wait_until(lambda: dy("exec", "work", "test", "-e", "/ready", check=False).returncode == 0)
    out = dy("commit", "-m", "my message", "-a", "Ann <ann@example.com>",
             "-c", 'CMD ["cat","/new"]', "-c", "ENV MODE=committed", "work", "snap:v1")  # fmt: skip
    image_id = out.stdout.strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71
    # the container kept running (it was paused and resumed, not stopped)
    assert json.loads(dy("inspect", "work").stdout)[0]["State"]["Running"]

    assert dy("run", "--rm", "snap:v1").stdout == "hello\n"
    gone = dy("run", "--rm", "snap:v1", "sh", "-c", "test -e /bin/ls && echo present || echo gone")
    assert gone.stdout == "gone\n"
    assert dy("run", "--rm", "snap:v1", "tail", "-n1", "/etc/passwd").stdout == "extra\n"
    env = dy("run", "--rm", "snap:v1", "env").stdout.splitlines()
    assert "GREETING=hi" in env and "MODE=committed" in env

    assert len(_layers(dy, "snap:v1")) == len(_layers(dy, "busybox")) + 1
    history = dy("history", "--no-trunc", "snap:v1").stdout.splitlines()
    assert "my message" in history[1] and "sh -c echo hello > /new" in history[1]
    info = json.loads(dy("image", "inspect", "snap:v1").stdout)[0]
    assert info["Id"] == image_id
    assert info["Author"] == "Ann <ann@example.com>"
    assert info["Config"]["Cmd"] == ["cat", "/new"]
    assert info["Config"]["Image"] == "busybox"


def test_commit_of_an_exited_container_without_a_name_is_untagged(dy: Dockyard) -> None:
    dy("run", "--name", "done", "busybox", "sh", "-c", "echo data > /kept")
    before = _image_ids(dy)
    image_id = dy("commit", "done").stdout.strip()
    assert image_id.startswith("sha256:")
    assert _image_ids(dy) == sorted([*before, image_id])
    listed = dy("images", "--no-trunc", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}").stdout
    assert f"{image_id} <none>:<none>" in listed
    assert dy("run", "--rm", image_id, "cat", "/kept").stdout == "data\n"
    # the container is still there and can be committed again
    assert dy("commit", "--pause=false", "done", "again:1").stdout.startswith("sha256:")


def test_commit_errors_are_one_line_and_create_nothing(dy: Dockyard) -> None:
    before = _image_ids(dy)
    missing = dy("commit", "nope", "x:1", check=False)
    assert missing.returncode == 125
    assert missing.stderr.startswith("Error: No such container: nope")
    assert "Traceback" not in missing.stderr
    dy("create", "--name", "made", "busybox", "true")
    bad = dy("commit", "-c", "FROM busybox", "made", check=False)
    assert bad.returncode == 125 and bad.stderr.startswith("Error: invalid --change")
    assert "Traceback" not in bad.stderr
    assert _image_ids(dy) == before


def test_docker_cli_commit_then_run(docker: Docker) -> None:
    docker("run", "--name", "src", "busybox", "sh", "-c", "echo via-api > /msg")
    out = docker("commit", "-m", "api commit", "-a", "Bob", "-c", 'CMD ["cat","/msg"]', "src", "apiimg:2")
    assert out.stdout.strip().startswith("sha256:")
    assert docker("run", "--rm", "apiimg:2").stdout == "via-api\n"
    assert docker("inspect", "--format", "{{.Author}}", "apiimg:2").stdout.strip() == "Bob"
    assert "api commit" in docker("history", "apiimg:2").stdout
    missing = docker("commit", "nope", check=False)
    assert missing.returncode != 0 and "No such container: nope" in missing.stderr
