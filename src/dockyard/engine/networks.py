"""Networks for the engine: `network create/ls/rm/inspect`, and attaching containers through CNI."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.errors import Conflict, DockyardError, InvalidArgument
from dockyard.network import cni

if TYPE_CHECKING:  # imported where used: `run --network none` needs none of them
    from dockyard.network.networks import Network, NetworkStore
    from dockyard.network.ports import PortMapping
    from dockyard.runtime.containers import Container, ContainerRecords

DEFAULT_NETWORK = "bridge"  # as dockyard.network.networks names them
SPECIAL = ("none", "host")

IFNAMES = [f"eth{i}" for i in range(16)]


def netns_prefix(root: Path) -> str:
    """The start of the names of one store root's network namespaces (/run/netns/NAME)."""
    from dockyard.smallhash import sha256  # no OpenSSL load (~4 ms) on `run`

    return f"dockyard-{sha256(str(root).encode()).hexdigest()[:6]}-"


def netns_name(c: Container) -> str:
    return str(c.config.get("netns_name") or f"dockyard-{c.id[:16]}")


def validate_mode(networks: NetworkStore, mode: str) -> None:
    """`none`, `host`, `bridge` or an existing network (NotFound otherwise)."""
    if mode not in SPECIAL:
        networks.get(mode)


if TYPE_CHECKING:
    Plan = list[tuple[Network, dict[str, Any], str, list[PortMapping]]]


def plan(networks: NetworkStore, c: Container, ports: list[PortMapping]) -> Plan:
    """(network, conflist, ifname, ports) for every CNI network the container joins.

    Made from the database in the caller's thread, so `attach` can run in another.
    """
    mode = c.config["network_mode"]
    if mode in SPECIAL:
        return []
    names = [mode] + [n for n in c.config.get("extra_networks", []) if n != mode]
    out: Plan = []
    for i, name in enumerate(names):
        net = networks.get(name)
        out.append((net, networks.conflist(net), IFNAMES[i], ports if i == 0 else []))
    return out


def attach(steps: Plan, c: Container) -> dict[str, dict[str, Any]]:
    """ADD every planned network in the container's netns (made by `create_netns`).

    Returns {network name: {IPAddress, Gateway, MacAddress, IPPrefixLen, result, ifname}}.
    On failure the networks already added are deleted again.
    """
    attached: dict[str, dict[str, Any]] = {}
    try:
        for net, conflist, ifname, ports in steps:
            attached[net.name] = _add(conflist, net, c, c.config["netns"], ifname, ports)
    except BaseException:
        for net, conflist, _ifname, _ports in steps:
            if net.name in attached:
                _del(conflist, attached[net.name], c, c.config["netns"])
        raise
    return attached


def attach_all(networks: NetworkStore, c: Container, ports: list[PortMapping]) -> dict[str, dict[str, Any]]:
    """`plan` + `attach` in one go (the netns must exist)."""
    return attach(plan(networks, c, ports), c)


def on_user_network(c: Container) -> bool:
    """Whether the container is on a user-defined network (where peers find it by name)."""
    names = [c.config["network_mode"], *c.config.get("extra_networks", [])]
    return any(n not in SPECIAL and n != DEFAULT_NETWORK for n in names)


def create_netns(c: Container, root: Path) -> str | None:
    """The container's network namespace for CNI networks (None for `none` and `host`).

    For `none` the runtime makes a fresh namespace itself and brings its loopback up.
    """
    if c.config["network_mode"] in SPECIAL:
        return None
    c.config["netns_name"] = netns_prefix(root) + c.id[:12]
    path = cni.create_netns(c.config["netns_name"])
    c.config["netns"] = path
    return path


def _add(conflist: dict[str, Any], net: Network, c: Container, netns: str, ifname: str,
         ports: list[PortMapping]) -> dict[str, Any]:  # fmt: skip
    rc = {"portMappings": [p.cni() for p in ports]}
    skip = () if ports else ("portmap",)  # portmap has nothing to do without ports
    result = cni.add(conflist, container_id=c.id, netns=netns, ifname=ifname,
                     runtime_config=rc, skip=skip)  # fmt: skip
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
            "ports": [p.to_json() for p in ports], "skip": list(skip)}  # fmt: skip


def _del(conflist: dict[str, Any], info: dict[str, Any], c: Container, netns: str) -> None:
    from dockyard.network.ports import PortMapping

    ports = [PortMapping.from_json(p).cni() for p in info.get("ports", [])]
    cni.delete(conflist, container_id=c.id, netns=netns, ifname=info["ifname"],
               runtime_config={"portMappings": ports}, prev_result=info.get("result"),
               skip=tuple(info.get("skip", ())))  # fmt: skip


def _conflist_of(networks: NetworkStore, name: str) -> dict[str, Any] | None:
    try:
        return networks.conflist(networks.get(name))
    except DockyardError:
        return None


def detach_plan(networks: NetworkStore, c: Container) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(conflist, attachment) of each attached network, read in the caller's thread."""
    out = []
    for name, info in reversed(list((c.config.get("networks_state") or {}).items())):
        conflist = _conflist_of(networks, name)
        if conflist is not None:
            out.append((conflist, info))
    return out


def detach(steps: list[tuple[dict[str, Any], dict[str, Any]]], c: Container) -> None:
    """Drop the netns (the kernel deletes the veth pairs with it), then DEL every network
    (IP lease, port rules) with no netns given, so the plugins touch nothing inside it."""
    cni.delete_netns(netns_name(c))
    for conflist, info in steps:
        _del(conflist, info, c, "")


def detach_all(networks: NetworkStore, c: Container) -> None:
    detach(detach_plan(networks, c), c)
    c.config.pop("netns", None)
    c.config["networks_state"] = {}


def connect(networks: NetworkStore, records: ContainerRecords, c: Container, name: str,
            aliases: list[str] | None = None) -> None:  # fmt: skip
    net = networks.get(name)
    extra = c.config.setdefault("extra_networks", [])
    if net.name == c.config["network_mode"] or net.name in extra:
        raise Conflict(f"container {c.name} is already attached to network {net.name}")
    if aliases:
        add_aliases(c, net.name, aliases_for(net.name, aliases)[net.name])
    if c.config["network_mode"] in SPECIAL:
        raise Conflict(f"container {c.name} uses --network {c.config['network_mode']}; "
                       "it cannot join other networks")  # fmt: skip
    extra.append(net.name)
    if c.running and c.config.get("netns"):
        state = c.config.setdefault("networks_state", {})
        state[net.name] = _add(networks.conflist(net), net, c, c.config["netns"],
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
    (c.config.get("aliases") or {}).pop(net.name, None)
    state = c.config.get("networks_state") or {}
    if net.name in state:
        _del(networks.conflist(net), state.pop(net.name), c, c.config.get("netns", ""))
    records.update(c)
    refresh_hosts(networks, records)


def aliases_for(network: str, aliases: list[str]) -> dict[str, list[str]]:
    """`--network-alias` values as the container config keeps them: {network: [alias, ...]}."""
    if not aliases:
        return {}
    if network in SPECIAL or network == DEFAULT_NETWORK:
        raise InvalidArgument("network-scoped alias is supported only for containers in user defined networks",
                              hint="create a network (`dockyard network create NAME`) and run with --network NAME")  # fmt: skip
    return {network: list(dict.fromkeys(aliases))}


def add_aliases(c: Container, network: str, aliases: list[str]) -> None:
    """Remember more aliases of `c` on `network` (kept in order, no repeats)."""
    known = c.config.setdefault("aliases", {})
    known[network] = list(dict.fromkeys([*known.get(network, []), *aliases]))


def peers_of(records: ContainerRecords, c: Container) -> dict[str, str]:
    """Host names -> IPs that `c` resolves on its user-defined networks: the running peers'
    names and their network aliases (`--network-alias`, compose's service names), and `c`'s
    own aliases (at its own address)."""
    mine = {n for n in (c.config.get("networks_state") or {}) if n != DEFAULT_NETWORK}
    out: dict[str, str] = {}
    for other in records.list():
        if other.id == c.id or other.state != "running":
            continue
        for name, info in (other.config.get("networks_state") or {}).items():
            if name in mine and info.get("IPAddress"):
                out.setdefault(other.name, info["IPAddress"])
                for alias in (other.config.get("aliases") or {}).get(name, []):
                    out.setdefault(alias, info["IPAddress"])
    own = c.config.get("networks_state") or {}
    for name, aliases in (c.config.get("aliases") or {}).items():
        ip = (own.get(name) or {}).get("IPAddress")
        if name in mine and ip:
            for alias in aliases:
                out[alias] = ip
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
            members[c.id] = {"Name": c.name, "EndpointID": "",
                             "MacAddress": info.get("MacAddress", ""),
                             "IPv4Address": f"{info['IPAddress']}/{info.get('IPPrefixLen', 24)}",
                             "IPv6Address": ""}  # fmt: skip
    return {
        "Name": net.name, "Id": net.id,
        "Created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(net.created)),
        "Scope": "local", "Driver": net.driver, "EnableIPv6": False,
        "IPAM": {"Driver": "default", "Options": None,
                 "Config": [{"Subnet": net.subnet, "Gateway": net.gateway}]},
        "Internal": net.internal, "Attachable": False, "Ingress": False,
        "ConfigFrom": {"Network": ""}, "ConfigOnly": False,
        "Containers": members,
        "Options": {"com.docker.network.bridge.name": net.bridge},
        "Labels": net.labels,
    }  # fmt: skip


def conflist_path(networks: NetworkStore, net: Network) -> Path:
    return networks.conf_dir / f"{net.name}.conflist"
