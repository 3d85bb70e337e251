"""Network records (the default `bridge` network and user-defined ones) and their CNI conflists."""

from __future__ import annotations

import builtins
import ipaddress
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from dockyard.errors import AlreadyExists, Conflict, InvalidArgument, NotFound
from dockyard.network import cni, firewall
from dockyard.records import Record
from dockyard.smallhash import sha256  # a short path: no OpenSSL load (~4 ms) on `run`
from dockyard.store.db import Database, register_schema

DEFAULT_NETWORK = "bridge"
SPECIAL = ("none", "host")

register_schema(
    "networks",
    """
    CREATE TABLE IF NOT EXISTS networks (
        name TEXT PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        driver TEXT NOT NULL,
        bridge TEXT NOT NULL,
        subnet TEXT NOT NULL,
        gateway TEXT NOT NULL,
        internal INTEGER NOT NULL DEFAULT 0,
        labels TEXT NOT NULL DEFAULT '{}',
        created REAL NOT NULL
    );
    """,
)


class Network(Record):
    """One row of the `networks` table: a bridge, its subnet and gateway."""

    def __init__(
        self, name: str, id: str, driver: str, bridge: str, subnet: str, gateway: str,
        internal: bool = False, labels: dict[str, str] | None = None, created: float = 0.0,
    ) -> None:
        self.name = name
        self.id = id
        self.driver = driver
        self.bridge = bridge
        self.subnet = subnet
        self.gateway = gateway
        self.internal = internal
        self.labels: dict[str, str] = {} if labels is None else labels
        self.created = created

    @property
    def user_defined(self) -> bool:
        return self.name != DEFAULT_NETWORK


def _row(r: Any) -> Network:
    return Network(r["name"], r["id"], r["driver"], r["bridge"], r["subnet"], r["gateway"],
                   bool(r["internal"]), json.loads(r["labels"]), r["created"])  # fmt: skip


def host_routes() -> list[ipaddress.IPv4Network]:
    """Every IPv4 destination the host already routes (subnets we must not reuse)."""
    proc = subprocess.run(["ip", "-j", "-4", "route", "show", "table", "all"],
                          capture_output=True, text=True)  # fmt: skip
    nets = []
    try:
        for r in json.loads(proc.stdout or "[]"):
            dst = r.get("dst", "")
            if dst and dst != "default":
                try:
                    nets.append(ipaddress.IPv4Network(dst, strict=False))
                except ValueError:
                    continue
    except json.JSONDecodeError:
        pass
    return nets


class NetworkStore:
    """Networks of one dockyard root: records in SQLite, conflists under <root>/networks."""

    def __init__(self, db: Database, root: Path) -> None:
        self.db = db
        self.root = root
        self.conf_dir = root / "networks"
        self.ipam_dir = root / "cni" / "networks"
        self._salt = sha256(str(root.resolve()).encode()).hexdigest()

    # -- records -------------------------------------------------------------------------
    def get(self, name_or_id: str) -> Network:
        if name_or_id == DEFAULT_NETWORK:
            return self.ensure_default()
        rows = self.db.query(
            "SELECT * FROM networks WHERE name = ? OR id = ? OR id LIKE ?",
            (name_or_id, name_or_id, name_or_id + "%"),
        )
        if len(rows) != 1:
            raise NotFound(
                f"network {name_or_id} not found",
                hint="list networks with `dockyard network ls`, or create it with `dockyard network create`",
            )
        return _row(rows[0])

    def list(self) -> list[Network]:
        self.ensure_default()
        return [_row(r) for r in self.db.query("SELECT * FROM networks ORDER BY created")]

    def ensure_default(self) -> Network:
        rows = self.db.query("SELECT * FROM networks WHERE name = ?", (DEFAULT_NETWORK,))
        if rows:
            return _row(rows[0])
        return self.create(DEFAULT_NETWORK, _default=True)

    def _bridge_name(self, index: int) -> str:
        return f"dy{self._salt[:6]}{index:02x}"[:15]

    def _pick_subnet(self, taken: builtins.list[ipaddress.IPv4Network]) -> ipaddress.IPv4Network:
        # A /24 in 10.128.0.0/9 starting at a place derived from the root, so test roots that
        # run side by side get different subnets (and CNI leases never clash).
        start = int(self._salt[6:12], 16) % (1 << 15)
        for i in range(1 << 15):
            n = (start + i) % (1 << 15)
            net = ipaddress.IPv4Network(f"10.{128 + (n >> 8)}.{n & 0xFF}.0/24")
            if not any(net.overlaps(t) for t in taken):
                return net
        raise Conflict("no free subnet left for a new network", hint="pass --subnet")

    def create(
        self, name: str, *, subnet: str | None = None, gateway: str | None = None,
        internal: bool = False, labels: dict[str, str] | None = None, driver: str = "bridge",
        _default: bool = False,
    ) -> Network:  # fmt: skip
        if name in SPECIAL or (name == DEFAULT_NETWORK and not _default):
            raise Conflict(f"network with name {name} already exists",
                           hint="pick another name")  # fmt: skip
        if driver != "bridge":
            raise InvalidArgument(f"network driver {driver!r} is not supported",
                                  hint="use --driver bridge")  # fmt: skip
        with self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM networks WHERE name = ?", (name,)).fetchone():
                raise AlreadyExists(f"network with name {name} already exists",
                                    hint="pick another name, or remove it first")  # fmt: skip
            existing = [_row(r) for r in conn.execute("SELECT * FROM networks")]
            taken = host_routes() + [ipaddress.IPv4Network(n.subnet) for n in existing]
            if subnet:
                try:
                    net = ipaddress.IPv4Network(subnet, strict=False)
                except ValueError:
                    raise InvalidArgument(f"invalid subnet {subnet!r}",
                                          hint="use CIDR form, e.g. 10.201.0.0/24") from None  # fmt: skip
                if any(net.overlaps(t) for t in taken):
                    raise Conflict(f"subnet {net} overlaps with another network or a host route",
                                   hint="choose another --subnet")  # fmt: skip
            else:
                net = self._pick_subnet(taken)
            gw = gateway or str(next(net.hosts()))
            used = {n.bridge for n in existing}
            index = next(i for i in range(256) if self._bridge_name(i) not in used)
            rec = Network(name=name, id=os.urandom(32).hex(), driver="bridge",
                          bridge=self._bridge_name(index), subnet=str(net), gateway=gw,
                          internal=internal, labels=labels or {}, created=time.time())  # fmt: skip
            conn.execute(
                "INSERT INTO networks VALUES (?,?,?,?,?,?,?,?,?)",
                (rec.name, rec.id, rec.driver, rec.bridge, rec.subnet, rec.gateway,
                 int(rec.internal), json.dumps(rec.labels), rec.created),
            )  # fmt: skip
        self.write_conflist(rec)
        return rec

    def remove(self, name: str) -> Network:
        net = self.get(name)
        if not net.user_defined:
            raise Conflict("bridge is a pre-defined network and cannot be removed",
                           hint="remove only networks made with `network create`")  # fmt: skip
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM networks WHERE name = ?", (net.name,))
        (self.conf_dir / f"{net.name}.conflist").unlink(missing_ok=True)
        delete_bridge(net.bridge)
        firewall.remove(net.bridge, net.subnet, net.internal)
        return net

    # -- CNI -----------------------------------------------------------------------------
    def conflist(self, net: Network) -> dict[str, Any]:
        """The network's CNI conflist: `bridge` (+ host-local IPAM).

        Outbound NAT and forwarding are the network's own iptables rules (network/firewall.py),
        put in place here on first use, instead of the bridge plugin's ipMasq and the
        `firewall` plugin, which add and remove rules for every container. Published ports
        are dockyard's own DNAT rules too (network/portrules.py), not the `portmap` plugin's.
        """
        firewall.ensure(net.bridge, net.subnet, net.internal)
        ipam: dict[str, Any] = {
            "type": "host-local",
            "ranges": [[{"subnet": net.subnet, "gateway": net.gateway}]],
            "dataDir": str(self.ipam_dir),
        }
        if not net.internal:
            ipam["routes"] = [{"dst": "0.0.0.0/0"}]
        return {
            "cniVersion": cni.CNI_VERSION,
            "name": f"dockyard-{net.name}-{net.id[:8]}",
            "plugins": [
                {"type": "bridge", "bridge": net.bridge, "isGateway": True,
                 "ipMasq": False, "hairpinMode": True, "ipam": ipam},
            ],
        }  # fmt: skip

    def write_conflist(self, net: Network) -> Path:
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        path = self.conf_dir / f"{net.name}.conflist"
        path.write_text(json.dumps(self.conflist(net), indent=2))
        return path

    def release_devices(self) -> None:
        """Delete the bridges of every network of this root (tests and `system reset`)."""
        for row in self.db.query("SELECT * FROM networks"):
            delete_bridge(row["bridge"])
            firewall.remove(row["bridge"], row["subnet"], bool(row["internal"]))


def delete_bridge(name: str) -> None:
    subprocess.run(["ip", "link", "delete", name, "type", "bridge"], capture_output=True)
