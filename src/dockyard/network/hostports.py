"""Machine-wide host port reservations, across every dockyard root: /run/dockyard/ports.

A port is published with iptables DNAT rules (network/portrules.py) and binds nothing, so neither
a bind test nor one root's database sees a port that a container of another root (another
user's store, a test's temporary root) already publishes. Each published host port gets a
file `<proto>-<port>` here, created with O_EXCL (the reservation is atomic without a lock),
holding the owner's root and container ID; it is removed when the container stops. A file
whose owner's container directory is gone (a killed process, a deleted root) is stale and
taken over.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from dockyard.paths import run_dir

PORTS_DIR = run_dir() / "ports"  # /run/dockyard/ports for root (dockyard.paths)


def _path(port: int, protocol: str) -> Path:
    return PORTS_DIR / f"{protocol}-{port}"


def _owner(text: str) -> tuple[str, str]:
    root, _, cid = text.strip().partition("\n")
    return root, cid.strip()


def _stale(path: Path, root: str, cid: str) -> bool:
    if not root or not cid:  # being written right now, or left half-written long ago
        try:
            return time.time() - path.stat().st_mtime > 10
        except FileNotFoundError:
            return True
    return not (Path(root) / "containers" / cid).is_dir()


def reserve(root: Path, cid: str, ports: list[tuple[int, str]]) -> tuple[int, str] | None:
    """Reserve every (port, protocol) for container `cid` of `root`; on a clash, the clashing
    port (and nothing stays reserved by this call)."""
    PORTS_DIR.mkdir(parents=True, exist_ok=True)
    me = f"{root}\n{cid}\n"
    done: list[tuple[int, str]] = []
    for port, proto in ports:
        path = _path(port, proto)
        for _attempt in range(3):
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                try:
                    owner = _owner(path.read_text())
                except FileNotFoundError:
                    continue  # released meanwhile: try again
                if owner == (str(root), cid):
                    break
                if not _stale(path, *owner):
                    release(root, cid, done)
                    return port, proto
                path.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as fh:
                fh.write(me)
            done.append((port, proto))
            break
    return None


def release(root: Path, cid: str, ports: list[tuple[int, str]]) -> None:
    """Drop the reservations `cid` of `root` holds among `ports`."""
    for port, proto in ports:
        path = _path(port, proto)
        try:
            if _owner(path.read_text()) == (str(root), cid):
                path.unlink(missing_ok=True)
        except FileNotFoundError:
            pass
