"""`-p` parsing as Docker does it."""

from __future__ import annotations

import pytest

from dockyard.errors import InvalidArgument
from dockyard.network.ports import PortMapping, parse_publish


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        ("80", [PortMapping("", 0, 80, "tcp")]),
        ("8080:80", [PortMapping("", 8080, 80, "tcp")]),
        ("127.0.0.1:8080:80/udp", [PortMapping("127.0.0.1", 8080, 80, "udp")]),
        ("127.0.0.1::80", [PortMapping("127.0.0.1", 0, 80, "tcp")]),
        ("8000-8001:9000-9001", [PortMapping("", 8000, 9000), PortMapping("", 8001, 9001)]),
    ],
)
def test_parse_publish(spec: str, want: list[PortMapping]) -> None:
    assert parse_publish(spec) == want


@pytest.mark.parametrize("spec", ["99999:80", "a:b", "1:2:3:4", "80/icmp", "300.1.1.1:80:80", "8000-8002:80-81"])
def test_bad_specs(spec: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid port spec"):
        parse_publish(spec)


def test_display() -> None:
    assert PortMapping("", 8080, 80).display() == "0.0.0.0:8080->80/tcp"
