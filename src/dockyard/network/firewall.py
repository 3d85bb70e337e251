"""iptables rules that belong to a network, not to a container: outbound NAT and forwarding.

Docker keeps one MASQUERADE rule per bridge network and lets the bridge's traffic through
FORWARD; the CNI `bridge` plugin's ipMasq and the `firewall` plugin instead add rules (and a
chain) per container, four or more iptables execs on every start and again on every stop.
Here a network's rules are added once (the first time a container joins it after boot) and
removed with the network. A marker file under /run/dockyard/netrules remembers that they
are in place; /run is emptied at boot, like the rules themselves.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from dockyard.errors import Unavailable
from dockyard.paths import run_dir

MARKER_DIR = run_dir() / "netrules"  # /run/dockyard/netrules for root (dockyard.paths)


def _rules(bridge: str, subnet: str, internal: bool) -> list[tuple[str, str, list[str]]]:
    """(table, chain, rule spec) of one network."""
    tag = ["-m", "comment", "--comment", f"dockyard network {bridge}"]
    if internal:
        return [("filter", "FORWARD", ["-i", bridge, "!", "-o", bridge, *tag, "-j", "DROP"]),
                ("filter", "FORWARD", ["-o", bridge, "!", "-i", bridge, *tag, "-j", "DROP"])]  # fmt: skip
    return [
        ("nat", "POSTROUTING", ["-s", subnet, "!", "-o", bridge, *tag, "-j", "MASQUERADE"]),
        ("filter", "FORWARD", ["-i", bridge, *tag, "-j", "ACCEPT"]),
        ("filter", "FORWARD", ["-o", bridge, *tag, "-j", "ACCEPT"]),
    ]


def _marker(bridge: str, subnet: str) -> Path:
    return MARKER_DIR / f"{bridge}-{subnet.replace('/', '_')}"


def _iptables(table: str, op: str, chain: str, spec: list[str]) -> subprocess.CompletedProcess[str]:
    args = ["iptables", "-w", "-t", table, op, chain]
    if op == "-I":
        args.append("1")
    return subprocess.run(args + spec, capture_output=True, text=True)


def ensure(bridge: str, subnet: str, internal: bool = False) -> None:
    """Add the network's rules unless this boot already did (idempotent, safe in parallel)."""
    marker = _marker(bridge, subnet)
    if marker.exists():
        return
    from dockyard.store.locking import file_lock

    MARKER_DIR.mkdir(parents=True, exist_ok=True)
    with file_lock(MARKER_DIR / ".lock"):
        if marker.exists():
            return
        for table, chain, spec in _rules(bridge, subnet, internal):
            if _iptables(table, "-C", chain, spec).returncode == 0:
                continue
            proc = _iptables(table, "-I", chain, spec)
            if proc.returncode != 0:
                raise Unavailable(f"cannot add iptables rule for network bridge {bridge}: "
                                  f"{proc.stderr.strip()}", hint="is iptables installed and usable?")  # fmt: skip
        marker.touch()


def remove(bridge: str, subnet: str, internal: bool = False) -> None:
    """Delete the network's rules (every copy) and forget the marker."""
    for table, chain, spec in _rules(bridge, subnet, internal):
        for _ in range(10):
            if _iptables(table, "-D", chain, spec).returncode != 0:
                break
    _marker(bridge, subnet).unlink(missing_ok=True)
