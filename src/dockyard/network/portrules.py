"""Published ports (`-p`) as dockyard's own iptables DNAT rules: one `iptables-restore` per
container to add them and one to remove them.

The same rules the CNI `portmap` plugin (with `snat: true`) installs, without its ~18 separate
iptables execs per start. In the nat table:

- `DOCKYARD-HOSTPORTS`, jumped to from PREROUTING (other hosts) and OUTPUT (the host itself)
  for packets to a local address; it holds one jump per container to that container's chain.
- `DY-<id>` per container: for each port, traffic from the network's own subnet (hairpin) and
  from 127.0.0.1 is marked for masquerading, then DNAT to the container's address. A host IP
  (`-p 127.0.0.1:H:C`) restricts every rule to that destination.
- `DOCKYARD-HOSTPORT-MASQ`, jumped to from POSTROUTING: MASQUERADE what was marked, so replies
  come back through the host (hairpin) and 127.0.0.1 can be routed out of the bridge (which also
  needs the bridge's `route_localnet=1`, set here as portmap sets it).

The shared chains are made once per boot (a marker under /run/dockyard/netrules, as
network/firewall.py does); each container's rules go in and out as one transaction.
"""

from __future__ import annotations

import ipaddress
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from dockyard.errors import Unavailable
from dockyard.network.firewall import MARKER_DIR

if TYPE_CHECKING:
    from dockyard.network.ports import PortMapping

TOP_CHAIN = "DOCKYARD-HOSTPORTS"
MASQ_CHAIN = "DOCKYARD-HOSTPORT-MASQ"
MARK = "0x2000/0x2000"  # the mark portmap uses for "masquerade this"
_MARKER = MARKER_DIR / "hostports"

# (chain, rule) of the shared jumps; the chains themselves are created first.
_SHARED = [
    ("PREROUTING", ["-m", "addrtype", "--dst-type", "LOCAL", "-j", TOP_CHAIN]),
    ("OUTPUT", ["-m", "addrtype", "--dst-type", "LOCAL", "-j", TOP_CHAIN]),
    ("POSTROUTING", ["-m", "comment", "--comment", "dockyard published ports", "-j", MASQ_CHAIN]),
    (MASQ_CHAIN, ["-m", "mark", "--mark", MARK, "-j", "MASQUERADE"]),
]


def chain_of(container_id: str) -> str:
    """The container's own nat chain (iptables names stop at 28 characters)."""
    return f"DY-{container_id[:24]}"


def _tag(container_id: str) -> str:
    return f'-m comment --comment "dockyard container {container_id}"'


def _iptables(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["iptables", "-w", "-t", "nat", *args], capture_output=True, text=True)


def _ensure_shared() -> None:
    """Create the shared chains and jumps unless this boot already did (idempotent)."""
    if _MARKER.exists():
        return
    from dockyard.store.locking import file_lock

    MARKER_DIR.mkdir(parents=True, exist_ok=True)
    with file_lock(MARKER_DIR / ".lock"):
        if _MARKER.exists():
            return
        for chain in (TOP_CHAIN, MASQ_CHAIN):
            _iptables("-N", chain)  # fails harmlessly when it exists
        for chain, spec in _SHARED:
            if _iptables("-C", chain, *spec).returncode != 0:
                proc = _iptables("-A", chain, *spec)
                if proc.returncode != 0:
                    raise Unavailable(f"cannot add iptables rule for published ports: "
                                      f"{proc.stderr.strip()}", hint="is iptables installed and usable?")  # fmt: skip
        _MARKER.touch()


def _is_v4_or_any(host_ip: str) -> bool:
    return not host_ip or ipaddress.ip_address(host_ip).version == 4


def port_rules(
    container_id: str, subnet: str, container_ip: str, ports: list[PortMapping]
) -> list[str]:
    """The iptables-restore lines (nat table, no COMMIT) that publish `ports`."""
    chain = chain_of(container_id)
    lines = [f":{chain} - [0:0]"]
    for p in ports:
        if not _is_v4_or_any(p.host_ip):
            continue  # an IPv6 host address: the container has only IPv4 (portmap skips it too)
        dest = f"-d {p.host_ip}/32 " if p.host_ip and p.host_ip != "0.0.0.0" else ""
        match = f"{dest}-p {p.protocol} -m {p.protocol} --dport {p.host_port}"
        lines += [
            f"-A {chain} -s {subnet} {match} -j MARK --set-xmark {MARK}",
            f"-A {chain} -s 127.0.0.1/32 {match} -j MARK --set-xmark {MARK}",
            f"-A {chain} {match} -j DNAT --to-destination {container_ip}:{p.container_port}",
        ]
    lines.append(f"-A {TOP_CHAIN} {_tag(container_id)} -j {chain}")
    return lines


def _restore(lines: list[str]) -> subprocess.CompletedProcess[str]:
    text = "*nat\n" + "\n".join(lines) + "\nCOMMIT\n"
    return subprocess.run(["iptables-restore", "-w", "--noflush"], input=text,
                          capture_output=True, text=True)  # fmt: skip


def _route_localnet(bridge: str) -> None:
    """Let 127.0.0.1-sourced packets (DNATed in OUTPUT) leave through the bridge."""
    path = Path("/proc/sys/net/ipv4/conf") / bridge / "route_localnet"
    try:
        if path.read_text().strip() != "1":
            path.write_text("1")
    except OSError as exc:
        raise Unavailable(f"cannot enable route_localnet on {bridge}: {exc}",
                          hint="publishing ports needs root") from None  # fmt: skip


def publish(container_id: str, bridge: str, subnet: str, container_ip: str,
            ports: list[PortMapping]) -> None:  # fmt: skip
    """Install the container's DNAT rules in one transaction (none are left if it fails)."""
    if not ports:
        return
    _route_localnet(bridge)
    _ensure_shared()
    lines = port_rules(container_id, subnet, container_ip, ports)
    proc = _restore(lines)
    if proc.returncode != 0:  # the shared chains may have been flushed since boot: once more
        _MARKER.unlink(missing_ok=True)
        _ensure_shared()
        proc = _restore(lines)
    if proc.returncode != 0:
        raise Unavailable(f"cannot publish ports of container {container_id[:12]}: "
                          f"{proc.stderr.strip()}", hint="is iptables installed and usable?")  # fmt: skip


def unpublish(container_id: str) -> None:
    """Remove the container's jump and chain in one transaction; safe when they are gone."""
    chain = chain_of(container_id)
    jump = f"-D {TOP_CHAIN} {_tag(container_id)} -j {chain}"
    if _restore([jump, f"-F {chain}", f"-X {chain}"]).returncode == 0:
        return
    # Already removed, or only part is there: take away what is, one by one.
    _iptables("-D", TOP_CHAIN, "-m", "comment", "--comment", f"dockyard container {container_id}",
              "-j", chain)  # fmt: skip
    _iptables("-F", chain)
    _iptables("-X", chain)


def portmap_del(network_name: str, container_id: str, ports: list[dict[str, object]]) -> None:
    """DEL through the CNI `portmap` plugin: the rules of a container that an older dockyard
    published that way (best effort)."""
    from dockyard.network import cni
    from dockyard.network.ports import PortMapping

    conflist = {"cniVersion": cni.CNI_VERSION, "name": network_name,
                "plugins": [{"type": "portmap", "capabilities": {"portMappings": True}, "snat": True}]}  # fmt: skip
    mappings = [PortMapping.from_json(p).cni() for p in ports]
    cni.delete(
        conflist, container_id=container_id, netns="", runtime_config={"portMappings": mappings}
    )
