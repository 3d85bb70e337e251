"""Audit of issue #4's config.json bullets: Docker's ENTRYPOINT/CMD table cell by cell, and the
mounts, capabilities, masked/read-only paths, seccomp, hostname and namespaces `build_spec` gives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.busybox import GROUP, PASSWD

from dockyard.errors import InvalidArgument
from dockyard.runtime import bundle, inspect, spec_defaults
from dockyard.runtime.bundle import RunOptions
from dockyard.runtime.containers import RUNNING, Container

SH_ENTRY = ["/bin/sh", "-c", "exec_entry p1_entry"]  # ENTRYPOINT exec_entry p1_entry
EXEC_ENTRY = ["exec_entry", "p1_entry"]  # ENTRYPOINT ["exec_entry", "p1_entry"]
EXEC_CMD = ["exec_cmd", "p1_cmd"]  # CMD ["exec_cmd", "p1_cmd"]
SH_CMD = ["/bin/sh", "-c", "exec_cmd p1_cmd"]  # CMD exec_cmd p1_cmd

# Docker's table (reference/dockerfile, "Understand how CMD and ENTRYPOINT interact"), row by
# row: no CMD, exec-form CMD, shell-form CMD; columns: no ENTRYPOINT, shell form, exec form.
TABLE = [
    (None, None, None),
    (None, SH_ENTRY, ["/bin/sh", "-c", "exec_entry p1_entry"]),
    (None, EXEC_ENTRY, ["exec_entry", "p1_entry"]),
    (EXEC_CMD, None, ["exec_cmd", "p1_cmd"]),
    (EXEC_CMD, SH_ENTRY, ["/bin/sh", "-c", "exec_entry p1_entry", "exec_cmd", "p1_cmd"]),
    (EXEC_CMD, EXEC_ENTRY, ["exec_entry", "p1_entry", "exec_cmd", "p1_cmd"]),
    (SH_CMD, None, ["/bin/sh", "-c", "exec_cmd p1_cmd"]),
    (SH_CMD, SH_ENTRY, ["/bin/sh", "-c", "exec_entry p1_entry", "/bin/sh", "-c", "exec_cmd p1_cmd"]),
    (SH_CMD, EXEC_ENTRY, ["exec_entry", "p1_entry", "/bin/sh", "-c", "exec_cmd p1_cmd"]),
]


@pytest.mark.parametrize(("cmd", "entry", "want"), TABLE)
def test_dockers_cmd_entrypoint_table_cell_by_cell(cmd, entry, want) -> None:
    image = {"Cmd": cmd, "Entrypoint": entry}
    if want is None:
        with pytest.raises(InvalidArgument, match="no command specified"):
            bundle.resolve_args(image, RunOptions())
    else:
        assert bundle.resolve_args(image, RunOptions()) == want


def test_shell_form_through_the_images_shell_is_kept_as_stored() -> None:
    image = {"Cmd": ["/bin/ash", "-xc", "echo hi"], "Shell": ["/bin/ash", "-xc"]}
    assert bundle.resolve_args(image, RunOptions()) == ["/bin/ash", "-xc", "echo hi"]
    assert bundle.resolve_args(image, RunOptions(command=["id"])) == ["id"]


def test_entrypoint_flag_clears_cmd_and_empty_entrypoint_runs_the_args() -> None:
    image = {"Cmd": EXEC_CMD, "Entrypoint": EXEC_ENTRY}
    assert bundle.resolve_args(image, RunOptions(entrypoint=["/x"])) == ["/x"]
    assert bundle.resolve_args(image, RunOptions(entrypoint=["/x"], command=["a"])) == ["/x", "a"]
    with pytest.raises(InvalidArgument):
        bundle.resolve_args(image, RunOptions(entrypoint=[]))  # "" clears both: nothing to run


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text(PASSWD)
    (root / "etc" / "group").write_text(GROUP)
    return root


def _spec(rootfs: Path, opts: RunOptions, **kw) -> dict:
    cdir = rootfs.parent / "ctr"
    cdir.mkdir(exist_ok=True)
    return bundle.build_spec({"Cmd": ["sh"], "User": "app"}, opts, rootfs=rootfs, container_dir=cdir,
                             hostname="0123456789ab", netns_path="/run/netns/x", **kw)  # fmt: skip


def test_spec_has_dockers_mounts_caps_and_paths(rootfs: Path) -> None:
    spec = _spec(rootfs, RunOptions(workdir="/srv/app"))
    mounts = {m["destination"]: m for m in spec["mounts"]}
    assert set(mounts) >= {"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys",
                           "/sys/fs/cgroup", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf"}  # fmt: skip
    assert "ro" in mounts["/sys"]["options"] and "ro" in mounts["/sys/fs/cgroup"]["options"]
    assert mounts["/etc/hosts"]["type"] == "bind"
    caps = spec["process"]["capabilities"]
    assert sorted(caps["bounding"]) == sorted(spec_defaults.DEFAULT_CAPS) and len(caps["bounding"]) == 14
    assert "CAP_SYS_ADMIN" not in caps["effective"] and "CAP_NET_ADMIN" not in caps["effective"]
    linux = spec["linux"]
    assert {"/proc/kcore", "/proc/keys", "/proc/acpi", "/sys/firmware"} <= set(linux["maskedPaths"])
    assert {"/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus"} <= set(linux["readonlyPaths"])
    assert [n["type"] for n in linux["namespaces"]] == ["pid", "ipc", "uts", "mount", "network"]
    assert linux["namespaces"][-1]["path"] == "/run/netns/x"
    assert spec["hostname"] == "0123456789ab"
    proc = spec["process"]
    assert (proc["user"]["uid"], proc["user"]["gid"], sorted(proc["user"]["additionalGids"])) == (1000, 1000, [29, 50])
    assert proc["cwd"] == "/srv/app" and (rootfs / "srv" / "app").is_dir()  # created when missing
    assert proc["env"][0] == f"PATH={spec_defaults.DEFAULT_PATH}" and "HOSTNAME=0123456789ab" in proc["env"]


@pytest.mark.skipif(not spec_defaults.SECCOMP_PROFILE.exists(), reason="containers-common not installed")
def test_spec_seccomp_comes_from_containers_common(rootfs: Path) -> None:
    seccomp = _spec(rootfs, RunOptions())["linux"]["seccomp"]
    assert seccomp["defaultAction"] == "SCMP_ACT_ERRNO"
    allowed = {n for rule in seccomp["syscalls"] if rule["action"] == "SCMP_ACT_ALLOW" for n in rule["names"]}
    assert {"read", "write", "execve", "clone"} <= allowed
    assert "kexec_load" not in allowed  # an ERRNO rule of the profile
    profile = json.loads(spec_defaults.SECCOMP_PROFILE.read_text())
    admin_only = {n for r in profile["syscalls"] if r.get("includes", {}).get("caps") == ["CAP_SYS_ADMIN"]
                  for n in r["names"]} - allowed  # fmt: skip
    assert admin_only, "the profile gates some syscalls on CAP_SYS_ADMIN"
    with_admin = _spec(rootfs, RunOptions(cap_add=["SYS_ADMIN"]))["linux"]["seccomp"]
    admin_allowed = {n for r in with_admin["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]}
    assert admin_only <= admin_allowed


def test_host_network_spec_keeps_the_hosts_network_namespace(rootfs: Path) -> None:
    spec = _spec(rootfs, RunOptions(), host_network=True)
    assert "network" not in [n["type"] for n in spec["linux"]["namespaces"]]


def test_read_only_and_privileged(rootfs: Path) -> None:
    assert _spec(rootfs, RunOptions(read_only=True))["root"]["readonly"] is True
    priv = _spec(rootfs, RunOptions(privileged=True))
    assert priv["linux"]["maskedPaths"] == [] and "seccomp" not in priv["linux"]
    assert "CAP_SYS_ADMIN" in priv["process"]["capabilities"]["bounding"]


def test_hosts_file_names_the_container_and_its_peers() -> None:
    text = bundle.hosts_text("0123456789ab", "10.1.0.5", {"db": "10.1.0.6"})
    lines = text.splitlines()
    assert lines[0] == "127.0.0.1\tlocalhost" and "10.1.0.5\t0123456789ab" in lines and "10.1.0.6\tdb" in lines


def _container(**config) -> Container:
    c = Container("a" * 64, "web", "busybox", "sha256:" + "b" * 64, 0.0, RUNNING, config=config)
    c.pid = 1
    return c


def test_inspect_has_dockers_keys() -> None:
    c = _container(args=["sh"], options={"mounts": [
        {"source": "/v/_data", "destination": "/data", "readonly": False, "kind": "volume", "name": "vv"},
        {"source": "/tmp", "destination": "/t", "readonly": True, "kind": "bind", "name": None}]},
        networks_state={"net1": {"IPAddress": "10.1.0.5", "IPPrefixLen": 24}})  # fmt: skip
    doc = inspect.inspect(c, "/x")
    assert set(doc) >= {"Id", "Created", "Path", "Args", "State", "Image", "ResolvConfPath",
                        "HostnamePath", "HostsPath", "LogPath", "Name", "RestartCount", "Driver",
                        "Platform", "MountLabel", "ProcessLabel", "AppArmorProfile", "ExecIDs",
                        "HostConfig", "GraphDriver", "Mounts", "Config", "NetworkSettings"}  # fmt: skip
    assert set(doc["State"]) >= {"Status", "Running", "Paused", "Restarting", "OOMKilled", "Dead",
                                 "Pid", "ExitCode", "Error", "StartedAt", "FinishedAt"}  # fmt: skip
    assert set(doc["HostConfig"]) >= {"Binds", "NetworkMode", "PortBindings", "RestartPolicy",
                                      "AutoRemove", "LogConfig", "CapAdd", "CapDrop", "ShmSize",
                                      "Memory", "NanoCpus", "MaskedPaths", "ReadonlyPaths"}  # fmt: skip
    assert set(doc["NetworkSettings"]) >= {"Bridge", "SandboxID", "SandboxKey", "Ports", "Gateway",
                                           "IPAddress", "IPPrefixLen", "MacAddress", "Networks",
                                           "EndpointID", "SecondaryIPAddresses"}  # fmt: skip
    assert set(doc["NetworkSettings"]["Networks"]["net1"]) >= {"IPAMConfig", "Links", "Aliases",
                                                               "NetworkID", "EndpointID", "DNSNames"}  # fmt: skip
    vol, bind = doc["Mounts"]
    assert vol["Name"] == "vv" and vol["Driver"] == "local" and vol["RW"] is True
    assert "Name" not in bind and "Driver" not in bind and (bind["Mode"], bind["RW"]) == ("ro", False)
