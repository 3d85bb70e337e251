"""What `dockyard run` imports (not `dataclasses`, `inspect`, `secrets` nor OpenSSL's hashlib: each
costs milliseconds of every container start), and the plain records that replaced the dataclasses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dockyard.engine.requests import CreateRequest, opts_from_json, opts_json
from dockyard.engine.rootfs import ImageInfo
from dockyard.network.networks import Network
from dockyard.network.ports import PortMapping
from dockyard.runtime.bundle import MountSpec, RunOptions
from dockyard.runtime.containers import CREATED, Container
from dockyard.runtime.monitor import MonitorPaths
from dockyard.runtime.requests import RestartPolicy, parse_restart
from dockyard.runtime.users import ResolvedUser

# what a `run` loads, with the default bridge network, -p and a log follow (see engine.containers)
RUN_MODULES = (
    "dockyard.cli.entry, dockyard.cli.run_command, dockyard.engine.containers,"
    " dockyard.engine.container_queries, dockyard.engine.networks, dockyard.network.networks,"
    " dockyard.network.ports, dockyard.network.netns, dockyard.runtime.logs,"
    " dockyard.store.snapshots"
)


def test_a_run_imports_neither_dataclasses_nor_inspect_nor_hashlib() -> None:
    code = (
        f"import {RUN_MODULES}; import sys;"
        " print(sorted({'dataclasses', 'inspect', 'secrets', 'hashlib'} & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_run_options_get_fresh_defaults_and_survive_their_json() -> None:
    one, two = RunOptions(), RunOptions()
    one.env.append("A=1")
    one.mounts.append(MountSpec("/h", "/c", readonly=True))
    assert two.env == [] and two.mounts == [] and two.labels == {}
    assert CreateRequest("busybox").options is not CreateRequest("busybox").options
    opts = RunOptions(command=["ls"], entrypoint=[], env=["A=1"], user="1:2", cpus=0.5,
                      mounts=[MountSpec("", "/data", False, "volume", "v1")], labels={"k": "v"})  # fmt: skip
    stored = opts_json(opts)
    assert stored["mounts"] == [{"source": "", "destination": "/data", "readonly": False,
                                 "kind": "volume", "name": "v1"}]  # fmt: skip
    assert stored["entrypoint"] == [] and stored["labels"] == {"k": "v"}
    stored["env"].append("B=2")  # a copy: the stored JSON does not alias the options
    assert opts.env == ["A=1"]
    assert opts_from_json(stored) == RunOptions(**{**opts_json(opts), "env": ["A=1", "B=2"],
                                                   "mounts": opts.mounts})  # fmt: skip
    assert opts_from_json(opts_json(opts)) == opts


def test_restart_policy_round_trips_as_a_container_stores_it() -> None:
    policy = parse_restart("on-failure:3")
    assert policy.to_json() == {"name": "on-failure", "max_retries": 3}
    assert RestartPolicy(**policy.to_json()) == policy and RestartPolicy() == parse_restart(None)
    assert len({policy, RestartPolicy("on-failure", 3)}) == 1


def test_frozen_records_refuse_changes_and_mutable_ones_take_them(tmp_path: Path) -> None:
    info = ImageInfo(id="sha256:" + "a" * 64, name="busybox", config={})
    with pytest.raises(AttributeError):
        info.name = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        MonitorPaths.for_container(tmp_path).log = tmp_path  # type: ignore[misc]
    assert PortMapping("", 8080, 80) == PortMapping("", 8080, 80, "tcp")
    assert len({PortMapping("", 8080, 80), PortMapping("", 8080, 80, "tcp")}) == 1
    assert ResolvedUser(0, 0).additional_gids == [] and ResolvedUser(0, 0).home == "/"
    c = Container("a" * 64, "web", "busybox", "sha256:" + "b" * 64, 0.0)
    assert c.state == CREATED and c.config == {} and c.config is not Container("", "", "", "", 0).config
    other = c.replace(health={"Status": "healthy"})
    assert other == c  # health is read from disk, not part of the record's identity
    other.state = "running"
    assert other != c
    net = Network("bridge", "i", "bridge", "br0", "10.0.0.0/24", "10.0.0.1")
    net.labels["a"] = "b"
    assert Network("bridge", "i", "bridge", "br0", "10.0.0.0/24", "10.0.0.1").labels == {}
