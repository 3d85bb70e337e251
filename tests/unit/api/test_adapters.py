"""Docker API request shapes mapped onto the engine's: create bodies, filters, stream frames."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from dockyard.api.adapters import container_matches, create_request, parse_filters
from dockyard.api.app import parse_host
from dockyard.api.serialize import frame
from dockyard.errors import InvalidArgument
from dockyard.network.ports import parse_publish
from dockyard.runtime.containers import Container


def test_docker_run_body_maps_onto_a_create_request(tmp_path: Path) -> None:
    body = {
        "Image": "busybox", "Cmd": ["sh", "-c", "true"], "Entrypoint": None, "Env": ["A=1"],
        "Tty": False, "OpenStdin": False, "AttachStdout": False, "AttachStderr": False,
        "Labels": {"k": "v"}, "WorkingDir": "/srv", "User": "app",
        "HostConfig": {
            "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}],
                             "53/udp": [{"HostIp": "127.0.0.1", "HostPort": ""}]},
            "Binds": [f"{tmp_path}:/data:ro"], "AutoRemove": True, "NetworkMode": "default",
            "RestartPolicy": {"Name": "", "MaximumRetryCount": 0}, "NanoCpus": 500000000,
        },
    }  # fmt: skip
    req = create_request(body, "web")
    assert (req.image, req.name, req.network, req.auto_remove, req.detach) == ("busybox", "web", "bridge", True, True)
    assert req.options.command == ["sh", "-c", "true"] and req.options.entrypoint is None
    assert (req.options.env, req.options.workdir, req.options.user) == (["A=1"], "/srv", "app")
    assert req.options.cpus == 0.5 and req.options.labels == {"k": "v"}
    assert req.restart is None
    mount = req.options.mounts[0]
    assert (mount.source, mount.destination, mount.readonly) == (str(tmp_path), "/data", True)
    mappings = [m for spec in req.publish for m in parse_publish(spec)]
    got = sorted((m.host_ip, m.host_port, m.container_port, m.protocol) for m in mappings)
    assert got == [("", 8080, 80, "tcp"), ("127.0.0.1", 0, 53, "udp")]


def test_an_empty_entrypoint_clears_it_and_restart_policies_keep_their_count() -> None:
    body = {"Image": "x", "Entrypoint": [""], "AttachStdout": True,
            "HostConfig": {"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}}}  # fmt: skip
    req = create_request(body, None)
    assert req.options.entrypoint == [] and req.restart == "on-failure:3" and not req.detach


def test_a_healthcheck_in_the_body_overrides_the_images() -> None:
    # `docker run --health-cmd true --health-interval 1s` sends it as Docker's HealthConfig.
    health = {"Test": ["CMD-SHELL", "true"], "Interval": 1_000_000_000, "Retries": 2}
    req = create_request({"Image": "x", "Healthcheck": health}, None)
    assert req.healthcheck == health
    assert create_request({"Image": "x"}, None).healthcheck is None


@pytest.mark.parametrize(
    "body", [{}, {"Image": ""}, {"Image": "x", "Cmd": [1]}, [], {"Image": "x", "Healthcheck": "true"}]
)
def test_a_bad_create_body_is_an_invalid_argument(body: object) -> None:
    with pytest.raises(InvalidArgument):
        create_request(body, None)  # type: ignore[arg-type]


def test_filters_accept_both_json_forms() -> None:
    assert parse_filters('{"status": ["exited"], "label": {"a=b": true, "c": false}}') == {
        "status": ["exited"], "label": ["a=b"]}  # fmt: skip
    assert parse_filters(None) == {}
    with pytest.raises(InvalidArgument):
        parse_filters("[1]")


def test_container_filters_and_across_keys_or_within_one() -> None:
    c = Container("ab" * 32, "web", "busybox", "sha256:" + "c" * 64, 0.0, "exited", exit_code=3,
                  config={"labels": {"tier": "front"}})  # fmt: skip
    assert container_matches(c, {"status": ["running", "exited"], "name": ["we"]})
    assert container_matches(c, {"exited": ["3"], "label": ["tier=front"]})
    assert not container_matches(c, {"status": ["exited"], "label": ["tier=back"]})
    with pytest.raises(InvalidArgument):
        container_matches(c, {"volume": ["x"]})


def test_a_multiplexed_frame_has_docker_s_eight_byte_header() -> None:
    data = frame(2, b"oops\n")
    assert data[:8] == bytes([2, 0, 0, 0]) + struct.pack(">L", 5) and data[8:] == b"oops\n"


def test_hosts_parse_or_fail_with_a_hint() -> None:
    assert parse_host("unix:///run/x.sock") == ("unix", Path("/run/x.sock"))
    assert parse_host("tcp://127.0.0.1:2375") == ("tcp", ("127.0.0.1", 2375))
    for bad in ("unix://rel.sock", "tcp://nohost", "http://x:1"):
        with pytest.raises(InvalidArgument):
            parse_host(bad)
