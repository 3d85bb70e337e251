"""The DNAT rules a container's published ports become (network/portrules.py)."""

from __future__ import annotations

from dockyard.network.portrules import chain_of, port_rules
from dockyard.network.ports import PortMapping

CID = "ab" * 32


def test_every_port_gets_hairpin_and_localhost_masquerade_then_dnat() -> None:
    lines = port_rules(CID, "10.200.1.0/24", "10.200.1.5", [PortMapping("", 8080, 80)])
    chain = chain_of(CID)
    assert len(chain) <= 28 and lines[0] == f":{chain} - [0:0]"
    assert lines[1:4] == [
        f"-A {chain} -s 10.200.1.0/24 -p tcp -m tcp --dport 8080 -j MARK --set-xmark 0x2000/0x2000",
        f"-A {chain} -s 127.0.0.1/32 -p tcp -m tcp --dport 8080 -j MARK --set-xmark 0x2000/0x2000",
        f"-A {chain} -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.200.1.5:80",
    ]
    assert lines[-1] == f'-A DOCKYARD-HOSTPORTS -m comment --comment "dockyard container {CID}" -j {chain}'


def test_host_ip_restricts_every_rule_and_ipv6_host_ips_are_skipped() -> None:
    ports = [PortMapping("127.0.0.1", 53, 5353, "udp"), PortMapping("::1", 9000, 90)]
    lines = port_rules(CID, "10.200.1.0/24", "10.200.1.5", ports)
    rules = lines[1:-1]
    assert len(rules) == 3
    assert all("-d 127.0.0.1/32 -p udp -m udp --dport 53" in r for r in rules)
    assert rules[-1].endswith("--to-destination 10.200.1.5:5353")
