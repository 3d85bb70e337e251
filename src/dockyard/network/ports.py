"""`-p`/`-P` parsing as Docker does it, and checks that a host port is free."""

from __future__ import annotations

import ipaddress
import socket

from dockyard.errors import Conflict, InvalidArgument
from dockyard.records import FrozenRecord


class PortMapping(FrozenRecord):
    """One published port: host_ip ("" = all addresses), host_port, container_port, protocol."""

    def __init__(self, host_ip: str, host_port: int, container_port: int, protocol: str = "tcp") -> None:
        self.host_ip = host_ip
        self.host_port = host_port
        self.container_port = container_port
        self.protocol = protocol

    def to_json(self) -> dict[str, object]:
        return {"hostIP": self.host_ip, "hostPort": self.host_port,
                "containerPort": self.container_port, "protocol": self.protocol}  # fmt: skip

    @classmethod
    def from_json(cls, d: dict[str, object]) -> PortMapping:
        return cls(str(d["hostIP"]), int(str(d["hostPort"])), int(str(d["containerPort"])),
                   str(d["protocol"]))  # fmt: skip

    def cni(self) -> dict[str, object]:
        """The portmap plugin's runtimeConfig entry."""
        out: dict[str, object] = {"hostPort": self.host_port, "containerPort": self.container_port,
                                  "protocol": self.protocol}  # fmt: skip
        if self.host_ip:
            out["hostIP"] = self.host_ip
        return out

    def display(self) -> str:
        """`0.0.0.0:8080->80/tcp`, as `docker ps` shows it."""
        ip = self.host_ip or "0.0.0.0"
        return f"{ip}:{self.host_port}->{self.container_port}/{self.protocol}"


def _bad(spec: str, why: str) -> InvalidArgument:
    return InvalidArgument(
        f"invalid port spec {spec!r}: {why}",
        hint="use [ip:][hostPort:]containerPort[/tcp|udp], e.g. -p 8080:80 or -p 127.0.0.1:8080:80/udp",
    )


def _port_range(text: str, spec: str, allow_empty: bool) -> list[int]:
    if text == "" and allow_empty:
        return []
    lo_s, sep, hi_s = text.partition("-")
    try:
        lo = int(lo_s)
        hi = int(hi_s) if sep else lo
    except ValueError:
        raise _bad(spec, f"invalid port {text!r}") from None
    if not (0 < lo <= hi <= 65535):
        raise _bad(spec, f"port {text!r} out of range 1-65535")
    return list(range(lo, hi + 1))


def parse_publish(spec: str) -> list[PortMapping]:
    """Parse one `-p` value; host port 0 means 'pick a free one'."""
    text, _, proto = spec.strip().partition("/")
    proto = (proto or "tcp").lower()
    if proto not in ("tcp", "udp", "sctp"):
        raise _bad(spec, f"unknown protocol {proto!r}")
    host_ip = ""
    if text.startswith("["):  # [::1]:8080:80
        end = text.find("]")
        host_ip, text = text[1:end], text[end + 2 :]
    parts = text.split(":")
    if len(parts) == 3 and not host_ip:
        host_ip, host_s, ctr_s = parts
    elif len(parts) == 2:
        host_s, ctr_s = parts
    elif len(parts) == 1:
        host_s, ctr_s = "", parts[0]
    else:
        raise _bad(spec, "too many colons")
    if host_ip:
        try:
            ipaddress.ip_address(host_ip)
        except ValueError:
            raise _bad(spec, f"invalid IP address {host_ip!r}") from None
    ctr_ports = _port_range(ctr_s, spec, allow_empty=False)
    host_ports = _port_range(host_s, spec, allow_empty=True)
    if host_ports and len(host_ports) != len(ctr_ports):
        if len(ctr_ports) == 1 and len(host_ports) > 1:
            host_ports = host_ports[:1]  # docker picks one port of the range
        else:
            raise _bad(spec, "host and container port ranges differ in size")
    if not host_ports:
        host_ports = [0] * len(ctr_ports)
    return [PortMapping(host_ip, h, c, proto) for h, c in zip(host_ports, ctr_ports, strict=True)]


def parse_exposed(key: str) -> tuple[int, str]:
    """An image's ExposedPorts key `80/tcp` -> (80, "tcp")."""
    port, _, proto = key.partition("/")
    return int(port), (proto or "tcp")


def _family(ip: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ip and ":" in ip else socket.AF_INET


def port_is_free(host_ip: str, port: int, protocol: str) -> bool:
    kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
    with socket.socket(_family(host_ip), kind) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host_ip or "0.0.0.0", port))
        except OSError:
            return False
    return True


def pick_free_port(host_ip: str, protocol: str, taken: set[int]) -> int:
    kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
    for _ in range(100):
        with socket.socket(_family(host_ip), kind) as s:
            s.bind((host_ip or "0.0.0.0", 0))
            port = int(s.getsockname()[1])
        if port not in taken:
            return port
    raise Conflict("no free host port found", hint="publish an explicit port with -p HOST:CTR")


def already_allocated(m: PortMapping) -> Conflict:
    ip = m.host_ip or "0.0.0.0"
    return Conflict(
        f"Bind for {ip}:{m.host_port} failed: port is already allocated",
        hint="choose another host port, or stop what uses it",
    )


def resolve_ports(mappings: list[PortMapping], reserved: set[tuple[int, str]]) -> list[PortMapping]:
    """Fill in host port 0 and check every host port is free (bound by nothing, reserved by no one)."""
    out: list[PortMapping] = []
    taken = {p for p, _ in reserved}
    for m in mappings:
        if m.host_port == 0:
            port = pick_free_port(m.host_ip, m.protocol, taken)
            m = PortMapping(m.host_ip, port, m.container_port, m.protocol)
        elif (m.host_port, m.protocol) in reserved or not port_is_free(
            m.host_ip, m.host_port, m.protocol
        ):
            raise already_allocated(m)
        if any(o.host_port == m.host_port and o.protocol == m.protocol for o in out):
            raise already_allocated(m)
        taken.add(m.host_port)
        out.append(m)
    return out
