"""The real `docker` CLI (and docker-py) against `dockyard system service` on a unix socket."""

from __future__ import annotations

import socket
import subprocess
import tarfile
import time
from pathlib import Path

import pytest
from helpers import dockerapi
from helpers.busybox import make_rootfs_tar
from helpers.dockerapi import DOCKER, Docker

pytestmark = pytest.mark.integration
docker = dockerapi.docker  # the service fixture, over this module's busybox_tar


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def busybox_tar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("busybox")
    return make_rootfs_tar(work / "busybox.tar", work)


def _http_get(url: str, timeout: float = 5.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(["curl", "-s", "-f", "-m", "1", url], capture_output=True, text=True)
        if out.returncode == 0:
            return out.stdout
        time.sleep(0.05)
    raise AssertionError(f"no answer from {url}")


def test_version_and_info_name_the_service(docker: Docker) -> None:
    out = docker("version", "--format", "{{.Server.Version}} {{.Server.APIVersion}}").stdout.split()
    assert out[1] == "1.45"
    info = docker("info", "--format", "{{.Images}} {{.Containers}} {{.OSType}}").stdout.split()
    assert info == ["1", "0", "linux"]


def test_images_tag_inspect_history_rmi(docker: Docker) -> None:
    docker("tag", "busybox", "example.com/team/box:v1")
    listed = docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert sorted(listed) == ["busybox:latest", "example.com/team/box:v1"]
    image_id = docker("inspect", "--format", "{{.Id}}", "example.com/team/box:v1").stdout.strip()
    assert image_id == docker("images", "-q", "--no-trunc", "busybox").stdout.strip()
    assert "Imported from -" in docker("history", "busybox").stdout
    assert docker("rmi", "example.com/team/box:v1").stdout.strip() == "Untagged: example.com/team/box:v1"
    missing = docker("rmi", "nope:1", check=False)
    assert missing.returncode == 1 and "No such image: nope:1" in missing.stderr


def test_run_detached_with_a_published_port_ps_logs_stop_rm(docker: Docker) -> None:
    port = _free_port()
    cid = docker("run", "-d", "--name", "web", "-p", f"{port}:8000", "busybox", "sh", "-c",
                 "echo ready; echo oops >&2; echo page > /tmp/index.html; exec httpd -f -p 8000 -h /tmp"
                 ).stdout.strip()  # fmt: skip
    assert len(cid) == 64
    assert _http_get(f"http://127.0.0.1:{port}/index.html") == "page\n"
    ps = docker("ps", "--format", "{{.Names}} {{.Status}} {{.Ports}}").stdout
    assert ps.startswith("web Up") and f"0.0.0.0:{port}->8000/tcp" in ps
    logs = docker("logs", "web")
    assert (logs.stdout, logs.stderr) == ("ready\n", "oops\n")
    assert docker("stop", "-t", "1", "web").stdout.strip() == "web"
    assert docker("ps", "-q").stdout == ""
    assert docker("ps", "-a", "--format", "{{.Names}} {{.State}}").stdout.strip() == "web exited"
    # httpd as PID 1 has no SIGTERM handler: killed after -t 1, as with Docker
    assert docker("inspect", "--format", "{{.State.ExitCode}}", "web").stdout.strip() == "137"
    docker("rm", "web")
    assert docker("ps", "-aq").stdout == ""


def test_attached_run_streams_output_and_returns_the_exit_code(docker: Docker) -> None:
    out = docker("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3", check=False)
    assert (out.returncode, out.stdout, out.stderr) == (3, "out\n", "err\n")
    assert docker("ps", "-aq").stdout == ""
    kept = docker("run", "--name", "kept", "busybox", "echo", "hi")
    assert kept.stdout == "hi\n"
    assert docker("wait", "kept").stdout.strip() == "0"
    assert docker("rm", "kept").stdout.strip() == "kept"


def test_kill_and_wait_report_the_signal_exit(docker: Docker) -> None:
    docker("run", "-d", "--name", "sleeper", "busybox", "sleep", "60")
    docker("kill", "sleeper")
    assert docker("wait", "sleeper").stdout.strip() == "137"
    running = docker("rm", "sleeper")
    assert running.returncode == 0


def test_save_load_round_trip(docker: Docker, tmp_path: Path) -> None:
    archive = tmp_path / "saved.tar"
    docker("tag", "busybox", "box:saved")
    want = docker("inspect", "--format", "{{.Id}}", "box:saved").stdout.strip()
    docker("save", "-o", str(archive), "box:saved")
    with tarfile.open(archive) as tar:
        assert "manifest.json" in tar.getnames()
    docker("rmi", "box:saved", "busybox")
    assert docker("images", "-q").stdout == ""
    assert docker("load", "-i", str(archive)).stdout.strip() == "Loaded image: box:saved"
    assert docker("inspect", "--format", "{{.Id}}", "box:saved").stdout.strip() == want
    assert docker("run", "--rm", "box:saved", "echo", "alive").stdout == "alive\n"


def test_build_with_the_classic_builder(docker: Docker, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "hello.txt").write_text("from the context\n")
    (ctx / "Dockerfile").write_text(
        "FROM busybox\nARG WHO=nobody\nCOPY hello.txt /hello.txt\n"
        'RUN echo "built by $WHO" > /who.txt\nCMD ["cat", "/who.txt", "/hello.txt"]\n'
    )
    out = docker("build", "-t", "built:1", "--build-arg", "WHO=api", str(ctx))
    assert "Successfully tagged built:1" in out.stdout
    assert docker("run", "--rm", "built:1").stdout == "built by api\nfrom the context\n"
    quiet = docker("build", "-q", "--build-arg", "WHO=quiet", str(ctx)).stdout.strip()
    assert quiet.startswith("sha256:") and len(quiet) == 71
    assert docker("run", "--rm", quiet).stdout == "built by quiet\nfrom the context\n"
    bad = docker("build", "-t", "bad", "-f", "Nope", str(ctx), check=False)
    assert bad.returncode != 0


def test_docker_py(docker: Docker) -> None:
    dockerpy = pytest.importorskip("docker")
    client = dockerpy.DockerClient(base_url=docker.host)
    try:
        assert client.ping() is True
        assert client.containers.run("busybox", ["echo", "from docker-py"], remove=True) == b"from docker-py\n"
        c = client.containers.run("busybox", ["sh", "-c", "echo bg; sleep 60"], detach=True, name="py")
        c.reload()
        assert c.status == "running"
        c.kill()
        assert c.wait()["StatusCode"] == 137
        assert c.logs() == b"bg\n"
        c.remove()
        with pytest.raises(dockerpy.errors.ImageNotFound):
            client.images.get("nope")
    finally:
        client.close()


def test_exec_with_env_workdir_user_stdin_tty_detach_and_exit_codes(docker: Docker) -> None:
    docker("run", "-d", "--name", "box", "busybox", "sleep", "60")
    out = docker("exec", "-e", "GREETING=hi", "-w", "/tmp", "-u", "app", "box", "sh", "-c",
                 'echo "$GREETING $(pwd) $(id -un)"; echo warn >&2; exit 3', check=False)  # fmt: skip
    assert (out.returncode, out.stdout, out.stderr) == (3, "hi /tmp app\n", "warn\n")
    assert docker("exec", "-i", "box", "tr", "a-z", "A-Z", input="shout\n").stdout == "SHOUT\n"
    assert docker("exec", "-t", "box", "tty").stdout.startswith("/dev/pts/")
    assert docker("exec", "-d", "box", "sh", "-c", "echo later > /tmp/bg").stdout == ""
    deadline = time.monotonic() + 5
    while docker("exec", "box", "cat", "/tmp/bg", check=False).stdout != "later\n":
        assert time.monotonic() < deadline, "the detached exec did not run"
        time.sleep(0.05)
    missing = docker("exec", "box", "nope", check=False)
    assert missing.returncode == 127 and "executable file not found" in missing.stdout
    docker("kill", "box")
    stopped = docker("exec", "box", "true", check=False)
    assert stopped.returncode != 0 and "is not running" in stopped.stderr


def test_networks_volumes_and_aliases(docker: Docker) -> None:
    net_id = docker("network", "create", "--label", "team=a", "appnet").stdout.strip()
    assert len(net_id) == 64
    names = docker("network", "ls", "--format", "{{.Name}} {{.Driver}}").stdout.splitlines()
    assert sorted(names) == ["appnet bridge", "bridge bridge", "host host", "none null"]
    assert docker("network", "ls", "-q", "--filter", "label=team=a").stdout.strip() == net_id[:12]
    assert docker("volume", "create", "--label", "k=v", "appdata").stdout.strip() == "appdata"
    docker("run", "-d", "--name", "srv", "--network", "appnet", "--network-alias", "api", "-v", "appdata:/data",
           "busybox", "sh", "-c",
           "echo stored > /data/f; mkdir /www; echo hello > /www/i; exec httpd -f -p 80 -h /www")  # fmt: skip
    out = docker("run", "--rm", "--network", "appnet", "-v", "appdata:/data", "busybox", "sh", "-c",
                 "until wget -qO- http://api/i; do sleep 0.1; done; cat /data/f; wget -qO- http://srv/i")  # fmt: skip
    assert out.stdout == "hello\nstored\nhello\n"
    members = docker("network", "inspect", "-f", "{{range .Containers}}{{.Name}}{{end}}", "appnet").stdout
    assert members.strip() == "srv"
    docker("network", "create", "other")
    docker("network", "connect", "other", "srv")
    joined = docker("inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", "srv").stdout
    assert joined.split() == ["appnet", "other"]
    docker("network", "disconnect", "other", "srv")
    busy = docker("network", "rm", "appnet", check=False)
    assert busy.returncode != 0 and "active endpoints" in busy.stderr
    assert docker("volume", "rm", "appdata", check=False).returncode != 0  # in use
    mountpoint = Path(docker("volume", "inspect", "-f", "{{.Mountpoint}}", "appdata").stdout.strip())
    assert (mountpoint / "f").read_text() == "stored\n"
    docker("rm", "-f", "srv")
    assert docker("network", "rm", "appnet", "other").stdout.split() == ["appnet", "other"]
    assert docker("volume", "rm", "appdata").stdout.strip() == "appdata"
    assert docker("volume", "ls", "-q").stdout == ""
    assert not mountpoint.exists()
    missing = docker("network", "inspect", "appnet", check=False)
    assert missing.returncode != 0 and "not found" in missing.stderr


def test_events_report_start_and_die_until_the_given_time(docker: Docker) -> None:
    until = str(int(time.time()) + 3)
    listener = subprocess.Popen([DOCKER, "events", "--until", until, "--filter", "event=start", "--filter",
                                 "event=die", "--format", "{{.Action}} {{.Actor.Attributes.name}} "
                                 "{{.Actor.Attributes.exitCode}}"],
                                stdout=subprocess.PIPE, text=True, env=docker.env)  # fmt: skip
    try:
        time.sleep(0.5)
        docker("run", "--name", "ev", "busybox", "sh", "-c", "exit 2", check=False)
        out, _ = listener.communicate(timeout=10)
    finally:
        listener.kill()
        listener.wait()
    assert out.splitlines() == ["start ev <no value>", "die ev 2"]
