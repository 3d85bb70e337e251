"""What a container holds while it runs, set up and released: ports, rootfs mount, networks,
/etc files, config.json, the health monitor (mixed into ContainerEngine)."""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.engine import networks as netengine
from dockyard.engine.background import Background
from dockyard.engine.requests import opts_from_json
from dockyard.engine.rootfs import ImageSource, link_rootfs, snapshot_key
from dockyard.errors import DockyardError
from dockyard.paths import rootless
from dockyard.runtime import bundle, health
from dockyard.runtime.containers import Container, ContainerRecords

if TYPE_CHECKING:
    from dockyard.network.networks import NetworkStore
    from dockyard.network.ports import PortMapping
    from dockyard.runtime.oci_runtime import OciRuntime

INIT_BINARIES = ("/usr/bin/catatonit", "/usr/libexec/podman/catatonit", "/usr/bin/tini")


class ContainerSetup:
    """Mixed into ContainerEngine (which provides what is declared below)."""

    if TYPE_CHECKING:
        root: Path
        runtime: OciRuntime
        records: ContainerRecords
        images: ImageSource

        @property
        def networks(self) -> NetworkStore: ...

        def dir(self, c: Container) -> Path: ...

    def _setup(self, c: Container, overlap: Callable[[], Any] | None = None) -> Any:
        """Reserve ports, mount the rootfs, attach networks, write /etc files and config.json.

        The CNI plugins (execs that wait on the kernel) run in a thread while this one mounts
        the root filesystem and writes config.json, and then runs `overlap` (the runtime's
        `create`, which needs the netns but not its interfaces); its result comes back. The
        /etc files are written before `overlap` (they are bind-mounted) and /etc/hosts again,
        in place, once the container's address is known.
        """
        cdir = self.dir(c)
        ports: list[PortMapping] = []
        if c.config["requested_ports"]:
            from dockyard.network import hostports
            from dockyard.network.ports import PortMapping, already_allocated, resolve_ports

            requested = [PortMapping.from_json(p) for p in c.config["requested_ports"]]
            ports = resolve_ports(requested, self.records.reserved_ports(exclude=c.id))
            keys = [(p.host_port, p.protocol) for p in ports]
            self.records.reserve_ports(c.id, keys)
            clash = hostports.reserve(self.root, c.id, keys)
            if clash is not None:
                self.records.release_ports(c.id)
                raise already_allocated(next(p for p in ports if (p.host_port, p.protocol) == clash))
        c.config["ports"] = [p.to_json() for p in ports]
        rootfs = cdir / "rootfs"
        rootfs.mkdir(exist_ok=True)
        attach: Background | None = None
        try:
            if netengine.create_netns(c, self.root):
                plan = netengine.plan(self.networks, c, ports)
                attach = Background(_attach_and_publish, plan, c, ports)
            if rootless():  # rootless hook: no mount(2), runc runs on the copy snapshot itself
                rootfs = link_rootfs(self.images, snapshot_key(c.id), rootfs)
            else:
                self.images.mount(snapshot_key(c.id), rootfs)
                c.config["mounted"] = True
            host = c.config["network_mode"] == "host"
            opts = opts_from_json(c.config["options"])
            init = next((p for p in INIT_BINARIES if os.path.exists(p)), None) if opts.init else None
            spec = bundle.build_spec(
                c.config["image_config"], opts, rootfs=rootfs, container_dir=cdir,
                hostname=c.config["hostname"], netns_path=c.config.get("netns"),
                host_network=host, cgroups_path=f"/dockyard/{c.id}", init_path=init,
                image_arch=c.config.get("image_arch"),
            )  # fmt: skip
            c.config["env"] = spec["process"]["env"]
            bundle.write_config(cdir, spec)
            result = None
            if overlap is not None:
                bundle.write_etc_files(cdir, c.config["hostname"], None, host)
                result = overlap()
            if attach is not None:
                c.config["networks_state"] = attach.result()
                attach = None
            peers = netengine.peers_of(self.records, c) if netengine.on_user_network(c) else {}
            bundle.write_etc_files(cdir, c.config["hostname"], netengine.primary_ip(c), host, peers)
        except BaseException:
            if attach is not None:
                with suppress(BaseException):
                    c.config["networks_state"] = attach.result()
            self._teardown(c)
            raise
        return result

    def _teardown(self, c: Container, also: Callable[[], None] | None = None) -> None:
        """Release everything a running container holds; safe to call twice.

        Network removal (plugin execs) runs in a thread beside the rest, and beside `also`.
        """
        detach: Background | None = None
        if c.config.get("netns") or c.config.get("networks_state"):
            detach = Background(_detach_and_unpublish, netengine.detach_plan(self.networks, c), c)
        if health.enabled(c.config.get("healthcheck")):
            from dockyard.runtime import healthmon

            healthmon.stop(self.dir(c))
        if (self.runtime.state_root / c.id).exists():
            self.runtime.delete(c.id, force=True)
        rootfs = self.dir(c) / "rootfs"
        if c.config.pop("mounted", False) or rootfs.is_mount():
            with suppress(DockyardError, OSError):
                self.images.unmount(snapshot_key(c.id), rootfs)
        if also is not None:
            also()
        if c.config.get("ports"):
            from dockyard.network import hostports

            held = [(int(p["hostPort"]), str(p["protocol"])) for p in c.config["ports"]]
            hostports.release(self.root, c.id, held)
            self.records.release_ports(c.id)
        c.config["ports"] = []
        if detach is not None:
            with suppress(DockyardError):
                detach.result()
            c.config.pop("netns", None)
            c.config["networks_state"] = {}
            c.config.pop("published_ports", None)


def _attach_and_publish(
    steps: netengine.Plan, c: Container, ports: list[PortMapping]
) -> dict[str, Any]:
    """Attach the planned networks, then publish `ports` on the first one with dockyard's own
    DNAT rules (network/portrules.py: one iptables-restore). Runs in a thread."""
    state = netengine.attach(steps, c)
    if ports and steps:
        from dockyard.network import portrules

        net = steps[0][0]
        c.config["networks_state"] = state  # so a failure below is undone by _teardown
        c.config["published_ports"] = True
        portrules.publish(c.id, net.bridge, net.subnet, state[net.name]["IPAddress"], ports)
    return state


def _detach_and_unpublish(steps: list[tuple[dict[str, Any], dict[str, Any]]], c: Container) -> None:
    """Remove the container's port rules (or a portmap plugin's, for a container started by an
    older dockyard), then detach its networks. Runs in a thread."""
    if c.config.get("published_ports"):
        from dockyard.network import portrules

        portrules.unpublish(c.id)
    else:
        for conflist, info in steps:
            if info.get("ports") and "portmap" not in info.get("skip", ()):
                from dockyard.network import portrules

                portrules.portmap_del(conflist["name"], c.id, info["ports"])
    netengine.detach(steps, c)
