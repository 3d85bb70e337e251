"""Networks for the engine: `network create/ls/rm/inspect`, and attaching containers through CNI."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

from dockyard.errors import Conflict
from dockyard.network import cni
from dockyard.network.networks import DEFAULT_NETWORK, SPECIAL, Network, NetworkStore
from dockyard.network.ports import PortMapping
from dockyard.runtime.containers import Container, ContainerRecords

IFNAMES = [f"eth{i}" for i in range(16)]


def netns_name(cid: str) -> str:
    return f"dockyard-{cid[:16]}"


def validate_mode(networks: NetworkStore, mode: str) -> None:
    """`none`, `host`, `bridge` or an existing network (NotFound otherwise)."""
    if mode not in SPECIAL:
        networks.get(mode)


def attach_all(
    networks: NetworkStore, c: Container, ports: list[PortMapping]
) -> dict[str, dict[str, Any]]:
    """Create the netns, bring up lo, and ADD every network the container is on.

    Returns {network name: {IPAddress, Gateway, MacAddress, IPPrefixLen, result, ifname}}.
    On failure everything already done is undone.
    """
    mode = c.config["network_mode"]
    if mode in SPECIAL:
        if mode == "none":
            path = cni.create_netns(netns_name(c.id))
            c.config["netns"] = path
            cni.loopback_up(path, c.id)
        return {}
    path = cni.create_netns(netns_name(c.id))
    c.config["netns"] = path
    attached: dict[str, dict[str, Any]] = {}
    try:
        cni.loopback_up(path, c.id)
        names = [mode] + [n for n in c.config.get("extra_networks", []) if n != mode]
        for i, name in enumerate(names):
            net = networks.get(name)
            attached[net.name] = _add(networks, net, c, path, IFNAMES[i], ports if i == 0 else [])
    except BaseException:
        _undo(networks, c, attached)
        cni.delete_netns(netns_name(c.id))
        c.config.pop("netns", None)
        raise
    return attached


def _add(networks: NetworkStore, net: Network, c: Container, netns: str, ifname: str,
         ports: list[PortMapping]) -> dict[str, Any]:  # fmt: skip
    networks.write_conflist(net)
    rc = {"portMappings": [p.cni() for p in ports]}
    result = cni.add(networks.conflist(net), container_id=c.id, netns=netns, ifname=ifname,
                     runtime_config=rc)  # fmt: skip
    ip, gw = cni.first_ipv4(result)
    mac = ""
    for iface in result.get("interfaces") or []:
        if iface.get("name") == ifname and iface.get("sandbox"):
            mac = iface.get("mac", "")
    prefix = 0
    for entry in result.get("ips") or []:
        if str(entry.get("address", "")).split("/")[0] == ip:
            prefix = int(str(entry["address"]).split("/")[1])
    return {"NetworkID": net.id, "IPAddress": ip or "", "Gateway": gw or "", "MacAddress": mac,
            "IPPrefixLen": prefix, "ifname": ifname, "result": result,
            "ports": [p.to_json() for p in ports]}  # fmt: skip


def _del(networks: NetworkStore, name: str, info: dict[str, Any], c: Container, netns: str) -> None:
    try:
        net = networks.get(name)
    except Exception:
        return
    ports = [PortMapping.from_json(p).cni() for p in info.get("ports", [])]
    cni.delete(networks.conflist(net), container_id=c.id, netns=netns, ifname=info["ifname"],
               runtime_config={"portMappings": ports}, prev_result=info.get("result"))  # fmt: skip


def _undo(networks: NetworkStore, c: Container, attached: dict[str, dict[str, Any]]) -> None:
    for name, info in reversed(list(attached.items())):
        _del(networks, name, info, c, c.config.get("netns", ""))


def detach_all(networks: NetworkStore, c: Container) -> None:
    """DEL every attached network (veth, iptables rules, IP lease), then drop the netns."""
    attached = c.config.get("networks_state") or {}
    _undo(networks, c, attached)
    c.config["networks_state"] = {}
    cni.delete_netns(netns_name(c.id))
    c.config.pop("netns", None)


def connect(networks: NetworkStore, records: ContainerRecords, c: Container, name: str) -> None:
    net = networks.get(name)
    extra = c.config.setdefault("extra_networks", [])
    if net.name == c.config["network_mode"] or net.name in extra:
        raise Conflict(f"container {c.name} is already attached to network {net.name}")
    if c.config["network_mode"] in SPECIAL:
        raise Conflict(f"container {c.name} uses --network {c.config['network_mode']}; "
                       "it cannot join other networks")  # fmt: skip
    extra.append(net.name)
    if c.running and c.config.get("netns"):
        state = c.config.setdefault("networks_state", {})
        state[net.name] = _add(networks, net, c, c.config["netns"],
                               IFNAMES[len(state)], [])  # fmt: skip
    records.update(c)
    refresh_hosts(networks, records)


def disconnect(networks: NetworkStore, records: ContainerRecords, c: Container, name: str) -> None:
    net = networks.get(name)
    extra = c.config.get("extra_networks", [])
    if net.name not in extra:
        raise Conflict(f"container {c.name} is not connected to network {net.name}",
                       hint="only networks joined with `network connect` can be left")  # fmt: skip
    extra.remove(net.name)
    state = c.config.get("networks_state") or {}
    if net.name in state:
        _del(networks, net.name, state.pop(net.name), c, c.config.get("netns", ""))
    records.update(c)
    refresh_hosts(networks, records)


def peers_of(records: ContainerRecords, c: Container) -> dict[str, str]:
    """Names (and short IDs) -> IPs of running containers sharing a user-defined network."""
    mine = {n for n in (c.config.get("networks_state") or {}) if n != DEFAULT_NETWORK}
    out: dict[str, str] = {}
    for other in records.list():
        if other.id == c.id or other.state != "running":
            continue
        for name, info in (other.config.get("networks_state") or {}).items():
            if name in mine and info.get("IPAddress"):
                out[other.name] = info["IPAddress"]
    return out


def refresh_hosts(networks: NetworkStore, records: ContainerRecords) -> None:
    """Rewrite /etc/hosts of running containers on user-defined networks (in place: bind mounts)."""
    from dockyard.runtime.bundle import hosts_text

    for c in records.list():
        if c.state != "running" or c.config["network_mode"] in SPECIAL:
            continue
        hosts = records.container_dir(c.id) / "hosts"
        if hosts.exists():
            text = hosts_text(c.config["hostname"], primary_ip(c), peers_of(records, c))
            with contextlib.suppress(OSError), open(hosts, "w") as fh:
                fh.write(text)


def primary_ip(c: Container) -> str | None:
    for info in (c.config.get("networks_state") or {}).values():
        if info.get("IPAddress"):
            return str(info["IPAddress"])
    return None


def network_inspect(net: Network, containers: list[Container]) -> dict[str, Any]:
    members = {}
    for c in containers:
        info = (c.config.get("networks_state") or {}).get(net.name)
        if info:
            members[c.id] = {"Name": c.name, "MacAddress": info.get("MacAddress", ""),
                             "IPv4Address": f"{info['IPAddress']}/{info.get('IPPrefixLen', 24)}",
                             "IPv6Address": ""}  # fmt: skip
    return {
        "Name": net.name, "Id": net.id,
        "Created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(net.created)),
        "Scope": "local", "Driver": net.driver, "EnableIPv6": False,
        "IPAM": {"Driver": "default", "Options": None,
                 "Config": [{"Subnet": net.subnet, "Gateway": net.gateway}]},
        "Internal": net.internal, "Attachable": False, "Ingress": False,
        "Containers": members,
        "Options": {"com.docker.network.bridge.name": net.bridge},
        "Labels": net.labels,
    }  # fmt: skip


def conflist_path(networks: NetworkStore, net: Network) -> Path:
    return networks.conf_dir / f"{net.name}.conflist"
