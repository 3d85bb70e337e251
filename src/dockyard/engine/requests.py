"""A parsed `docker create/run` request and the pieces of it the engine stores as JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dockyard.records import Record
from dockyard.runtime.bundle import MountSpec, RunOptions

if TYPE_CHECKING:
    from dockyard.engine.rootfs import ImageInfo
    from dockyard.network.ports import PortMapping

SPECIAL_NETWORKS = ("none", "host")


class CreateRequest(Record):
    """Everything `docker create/run` says, already parsed (see runtime/requests.py)."""

    def __init__(
        self, image: str, options: RunOptions | None = None, name: str | None = None,
        publish: list[str] | None = None, publish_all: bool = False, network: str = "bridge",
        restart: str | None = None, auto_remove: bool = False, detach: bool = False,
        healthcheck: dict[str, Any] | None = None,  # Docker's HealthConfig: overrides the image's
        aliases: list[str] | None = None,  # --network-alias, on the `network` joined
    ) -> None:  # fmt: skip
        self.image = image
        self.options = RunOptions() if options is None else options
        self.name = name
        self.publish: list[str] = [] if publish is None else publish
        self.publish_all = publish_all
        self.network = network
        self.restart = restart
        self.auto_remove = auto_remove
        self.detach = detach
        self.healthcheck = healthcheck
        self.aliases: list[str] = [] if aliases is None else aliases


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
    """Every field of `opts` (lists and maps copied, mounts as their JSON): what a container stores."""
    out: dict[str, Any] = {}
    for name, value in opts.fields().items():
        if isinstance(value, list | tuple):
            value = [m.to_json() for m in value] if name == "mounts" else list(value)
        elif isinstance(value, dict):
            value = dict(value)
        out[name] = value
    return out


def opts_from_json(d: dict[str, Any]) -> RunOptions:
    d = dict(d)
    d["mounts"] = [MountSpec.from_json(m) for m in d.get("mounts", [])]
    return RunOptions(**d)
