"""Rootless containers: what changes in config.json and in the run options for a non-root user.

An unprivileged user gets a user namespace in which their own uid and gid are root (0). When
/etc/subuid and /etc/subgid give them a range and newuidmap/newgidmap are installed (Debian's
`uidmap` package), container ids 1..N map onto that range too, so images with other users run;
runc calls those setuid helpers itself. Without a range only root (0) exists in the container.

Also adjusted, as rootless Podman does: no cgroups (no limits, no cgroupsPath: runc skips
cgroups it cannot write), /sys bind-mounted read-only from the host instead of a fresh sysfs
(which needs a network namespace the user owns) and no cgroup filesystem mount (the bind holds
the host's), devpts without gid=5 when that group is not mapped, and no oom score
change, and no supplementary groups (runc cannot set them rootless). Only `--network none` and `--network host` are possible: CNI needs root, and there is
no slirp4netns/pasta support yet.
"""

from __future__ import annotations

import os
import pwd
import shutil
from pathlib import Path
from typing import Any

from dockyard.errors import InvalidArgument
from dockyard.paths import rootless as active
from dockyard.records import FrozenRecord

__all__ = ["IdRange", "active", "adjust_spec", "check_network", "id_mappings", "sub_ranges"]

SUBUID = Path("/etc/subuid")
SUBGID = Path("/etc/subgid")
SUBID_HINT = (
    "give the user a range: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 USER"
    " (and apt-get install uidmap)"
)


class IdRange(FrozenRecord):
    """One line of /etc/subuid or /etc/subgid: `count` ids from `start`."""

    def __init__(self, start: int, count: int) -> None:
        self.start = start
        self.count = count


def sub_ranges(path: Path, uid: int) -> list[IdRange]:
    """The subordinate id ranges `path` gives the user `uid` (by name or by number)."""
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = None
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        fields = line.strip().split(":")
        if len(fields) != 3 or fields[0] not in (name, str(uid)):
            continue
        try:
            start, count = int(fields[1]), int(fields[2])
        except ValueError:
            continue
        if count > 0:
            out.append(IdRange(start, count))
    return out


def id_mappings(own: int, path: Path, helper: str, uid: int) -> list[dict[str, int]]:
    """The runtime-spec mappings: container 0 -> `own`, then 1.. -> the subordinate ranges.

    The ranges are used only when the setuid `helper` (newuidmap/newgidmap) is installed,
    since only it may write such a mapping for an unprivileged user.
    """
    mappings = [{"containerID": 0, "hostID": own, "size": 1}]
    if shutil.which(helper) is None:
        return mappings
    next_id = 1
    for rng in sub_ranges(path, uid):
        mappings.append({"containerID": next_id, "hostID": rng.start, "size": rng.count})
        next_id += rng.count
    return mappings


def _mapped(mappings: list[dict[str, int]], container_id: int) -> bool:
    return any(m["containerID"] <= container_id < m["containerID"] + m["size"] for m in mappings)


def check_network(mode: str, publishes: bool) -> None:
    """Refuse what a rootless container cannot have: CNI networks and published ports."""
    if publishes:
        raise InvalidArgument(
            "publishing ports (-p/-P) is not supported for rootless containers",
            hint="run as root for -p, or use --network host and listen on a port above 1023",
        )
    if mode not in ("none", "host"):
        raise InvalidArgument(
            f"network {mode!r} is not supported for rootless containers (it needs root)",
            hint="use --network none or --network host, or run dockyard as root",
        )


def adjust_spec(spec: dict[str, Any], *, uid: int | None = None, gid: int | None = None) -> None:
    """Turn a root container's config.json (from bundle.build_spec) into a rootless one, in place."""
    uid = os.geteuid() if uid is None else uid
    gid = os.getegid() if gid is None else gid
    linux = spec["linux"]
    uid_maps = id_mappings(uid, SUBUID, "newuidmap", uid)
    gid_maps = id_mappings(gid, SUBGID, "newgidmap", uid)
    _check_user(spec["process"]["user"], uid_maps, gid_maps)
    # runc refuses supplementary groups for a non-root caller ("cannot set any additional
    # groups in a rootless container"): the process keeps its primary group only.
    spec["process"]["user"].pop("additionalGids", None)
    linux["namespaces"].append({"type": "user"})
    linux["uidMappings"] = uid_maps
    linux["gidMappings"] = gid_maps
    _drop_cgroups(linux)
    spec["process"].pop("oomScoreAdj", None)
    spec["mounts"] = _mounts(spec["mounts"], _mapped(gid_maps, 5))


def _check_user(user: dict[str, Any], uid_maps: list[dict[str, int]],
                gid_maps: list[dict[str, int]]) -> None:  # fmt: skip
    ids = [("user", user["uid"], uid_maps), ("group", user["gid"], gid_maps)]
    ids += [("group", g, gid_maps) for g in user.get("additionalGids", [])]
    for what, number, maps in ids:
        if not _mapped(maps, number):
            raise InvalidArgument(
                f"{what} {number} does not exist in this rootless container"
                f" (mapped ids: {_describe(maps)})",
                hint=f"run as --user 0, or {SUBID_HINT}",
            )


def _describe(maps: list[dict[str, int]]) -> str:
    return ", ".join(
        str(m["containerID"]) if m["size"] == 1
        else f"{m['containerID']}-{m['containerID'] + m['size'] - 1}"
        for m in maps
    )  # fmt: skip


def _drop_cgroups(linux: dict[str, Any]) -> None:
    res = linux.get("resources") or {}
    if res.get("memory") or res.get("cpu"):
        raise InvalidArgument(
            "--memory and --cpus need cgroups, which rootless containers do not get here",
            hint="drop the limit, or run dockyard as root",
        )
    linux.pop("resources", None)
    linux.pop("cgroupsPath", None)


def _mounts(mounts: list[dict[str, Any]], gid5: bool) -> list[dict[str, Any]]:
    out = []
    for m in mounts:
        if m["type"] == "cgroup":
            continue  # v1 hierarchies cannot be mounted in a user namespace; /sys brings them
        if m["type"] == "sysfs":  # a fresh sysfs needs a netns we own; the host's always works
            m = {"destination": "/sys", "type": "bind", "source": "/sys",
                 "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}  # fmt: skip
        elif m["type"] == "devpts" and not gid5:
            m = {**m, "options": [o for o in m["options"] if o != "gid=5"]}
        out.append(m)
    return out
