"""Rootless defaults (dockyard.paths) and the rootless config.json adjustments (runtime/rootless.py)."""

from __future__ import annotations

import os
import pwd
import shutil
from pathlib import Path
from typing import Any

import pytest

from dockyard import paths
from dockyard.errors import InvalidArgument
from dockyard.runtime import rootless, spec_defaults


def test_default_root_is_per_user_unless_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/ann")
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    assert paths.default_root(0) == "/var/lib/dockyard"
    assert paths.default_root(1000) == "/home/ann/.local/share/dockyard"
    monkeypatch.setenv("XDG_DATA_HOME", "/data/ann")
    assert paths.default_root(1000) == "/data/ann/dockyard"
    monkeypatch.setenv("XDG_DATA_HOME", "relative")  # not absolute: ignored, as the spec says
    assert paths.default_root(1000) == "/home/ann/.local/share/dockyard"


def test_run_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DOCKYARD_RUN_DIR", raising=False)
    assert paths.run_dir(0) == Path("/run/dockyard")
    xdg = tmp_path / "xdg"
    xdg.mkdir()
    uid = os.geteuid()
    if uid == 0:
        uid = 1000
        os.chown(xdg, uid, uid)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(xdg))
    assert paths.run_dir(uid) == xdg / "dockyard"
    assert paths.run_dir(uid + 1) == Path(f"/tmp/dockyard-run-{uid + 1}")  # not the owner's
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/nonexistent")
    assert paths.run_dir(1234) == Path("/tmp/dockyard-run-1234")
    monkeypatch.setenv("DOCKYARD_RUN_DIR", "/x/y")
    assert paths.run_dir(0) == Path("/x/y")


def test_sub_ranges_by_name_and_number(tmp_path: Path) -> None:
    me = pwd.getpwuid(os.geteuid()).pw_name
    subuid = tmp_path / "subuid"
    subuid.write_text(f"other:1:5\n{me}:100000:65536\n# junk\n{os.geteuid()}:300000:10\nbad:x:y\n")
    ranges = rootless.sub_ranges(subuid, os.geteuid())
    assert [(r.start, r.count) for r in ranges] == [(100000, 65536), (300000, 10)]
    assert rootless.sub_ranges(tmp_path / "missing", os.geteuid()) == []


def test_id_mappings_stack_ranges_after_own_id(tmp_path: Path) -> None:
    me = pwd.getpwuid(os.geteuid()).pw_name
    subuid = tmp_path / "subuid"
    subuid.write_text(f"{me}:100000:100\n{me}:500000:50\n")
    maps = rootless.id_mappings(
        1234, subuid, "sh", os.geteuid()
    )  # `sh` stands for an installed helper
    assert maps == [
        {"containerID": 0, "hostID": 1234, "size": 1},
        {"containerID": 1, "hostID": 100000, "size": 100},
        {"containerID": 101, "hostID": 500000, "size": 50},
    ]
    without_helper = rootless.id_mappings(1234, subuid, "no-such-newuidmap", os.geteuid())
    assert without_helper == [{"containerID": 0, "hostID": 1234, "size": 1}]


def test_check_network() -> None:
    rootless.check_network("none", False)
    rootless.check_network("host", False)
    with pytest.raises(InvalidArgument, match="publishing ports"):
        rootless.check_network("none", True)
    with pytest.raises(InvalidArgument, match="network 'bridge' is not supported") as exc:
        rootless.check_network("bridge", False)
    assert "--network none" in (exc.value.hint or "")


def _spec(user: dict[str, Any], resources: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "process": {"user": user, "oomScoreAdj": 0},
        "mounts": spec_defaults.default_mounts(),
        "linux": {"namespaces": [{"type": "pid"}, {"type": "network"}],
                  "resources": resources or {"devices": []}, "cgroupsPath": "/dockyard/x"},
    }  # fmt: skip


@pytest.mark.skipif(shutil.which("newuidmap") is None, reason="uidmap is not installed")
def test_adjust_spec_user_namespace_no_cgroups_host_sys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    me = pwd.getpwuid(os.geteuid()).pw_name
    sub = tmp_path / "sub"
    sub.write_text(f"{me}:100000:65536\n")
    monkeypatch.setattr(rootless, "SUBUID", sub)
    monkeypatch.setattr(rootless, "SUBGID", sub)
    spec = _spec({"uid": 1000, "gid": 1000, "additionalGids": [50]})
    rootless.adjust_spec(spec, uid=os.geteuid(), gid=os.getegid())
    linux = spec["linux"]
    assert {"type": "user"} in linux["namespaces"]
    assert linux["uidMappings"][0] == {"containerID": 0, "hostID": os.geteuid(), "size": 1}
    assert linux["gidMappings"][1] == {"containerID": 1, "hostID": 100000, "size": 65536}
    assert "resources" not in linux and "cgroupsPath" not in linux
    assert "additionalGids" not in spec["process"]["user"] and "oomScoreAdj" not in spec["process"]
    types = {m["destination"]: m["type"] for m in spec["mounts"]}
    assert types["/sys"] == "bind" and "/sys/fs/cgroup" not in types
    devpts = next(m for m in spec["mounts"] if m["type"] == "devpts")
    assert "gid=5" in devpts["options"]  # gid 5 is mapped through the range


def test_adjust_spec_refuses_unmapped_users_and_limits(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(rootless, "SUBUID", tmp_path / "none")
    monkeypatch.setattr(rootless, "SUBGID", tmp_path / "none")
    spec = _spec({"uid": 0, "gid": 0})
    rootless.adjust_spec(spec, uid=1000, gid=1000)  # only root mapped: fine for a root process
    devpts = next(m for m in spec["mounts"] if m["type"] == "devpts")
    assert "gid=5" not in devpts["options"]
    with pytest.raises(
        InvalidArgument, match="user 1000 does not exist in this rootless container"
    ):
        rootless.adjust_spec(_spec({"uid": 1000, "gid": 0}), uid=1000, gid=1000)
    with pytest.raises(InvalidArgument, match="need cgroups"):
        rootless.adjust_spec(
            _spec({"uid": 0, "gid": 0}, {"memory": {"limit": 1 << 27}}), uid=1, gid=1
        )
