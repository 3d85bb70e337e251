"""A parsed `docker create/run` request and the pieces of it the engine stores as JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from dockyard.runtime.bundle import MountSpec, RunOptions

if TYPE_CHECKING:
    from dockyard.engine.rootfs import ImageInfo
    from dockyard.network.ports import PortMapping

SPECIAL_NETWORKS = ("none", "host")


@dataclass
class CreateRequest:
    """Everything `docker create/run` says, already parsed (see runtime/requests.py)."""

    image: str
    options: RunOptions = field(default_factory=RunOptions)
    name: str | None = None
    publish: list[str] = field(default_factory=list)
    publish_all: bool = False
    network: str = "bridge"
    restart: str | None = None
    auto_remove: bool = False
    detach: bool = False
    healthcheck: dict[str, Any] | None = None  # Docker's HealthConfig: overrides the image's
    aliases: list[str] = field(default_factory=list)  # --network-alias, on the `network` joined


def requested_ports(req: CreateRequest, info: ImageInfo) -> tuple[list[PortMapping], list[str]]:
    """`-p` mappings (plus the image's exposed ports for -P), and every exposed port key."""
    exposed = set(info.config.get("ExposedPorts") or {})
    if not req.publish and not req.publish_all:
        return [], sorted(exposed)
    from dockyard.network.ports import PortMapping, parse_exposed, parse_publish

    requested = [m for spec in req.publish for m in parse_publish(spec)]
    exposed |= {f"{m.container_port}/{m.protocol}" for m in requested}
    if req.publish_all:
        have = {(m.container_port, m.protocol) for m in requested}
        for key in sorted(exposed):
            port, proto = parse_exposed(key)
            if (port, proto) not in have:
                requested.append(PortMapping("", 0, port, proto))
    if req.network in SPECIAL_NETWORKS:
        requested = []
    return requested, sorted(exposed)


def opts_json(opts: RunOptions) -> dict[str, Any]:
    d = asdict(opts)
    d["mounts"] = [m.to_json() for m in opts.mounts]
    return d


def opts_from_json(d: dict[str, Any]) -> RunOptions:
    d = dict(d)
    d["mounts"] = [MountSpec.from_json(m) for m in d.get("mounts", [])]
    return RunOptions(**d)
