"""Named network namespaces under /run/netns (as `ip netns add` makes them), made in-process.

`ip netns add NAME` + the CNI loopback plugin cost two execs per container; the same work is
three syscalls: a short-lived thread unshares a new network namespace (only that thread
moves), brings its `lo` up with an ioctl, and bind-mounts its namespace file on
/run/netns/NAME so it outlives the thread. Where that cannot be done (no /run/netns yet,
an unusual kernel), `ip netns add` and `ip link set lo up` do it instead.
"""

from __future__ import annotations

import os
import subprocess
import threading
from typing import Any

from dockyard.errors import Unavailable

NETNS_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000
MS_BIND = 0x1000
MNT_DETACH = 0x2
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1

_libc: Any = None


def _c() -> Any:
    global _libc
    if _libc is None:
        import ctypes

        _libc = ctypes.CDLL(None, use_errno=True)  # libc is already in the process
    return _libc


def _errno() -> int:
    import ctypes

    return ctypes.get_errno()


def path_of(name: str) -> str:
    return f"{NETNS_DIR}/{name}"


def _lo_up() -> None:
    import fcntl
    import socket
    import struct

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s, SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def _in_thread(target: str, errors: list[BaseException]) -> None:
    try:
        libc = _c()
        if libc.unshare(CLONE_NEWNET) != 0:
            raise OSError(_errno(), "unshare(CLONE_NEWNET)")
        _lo_up()
        source = f"/proc/self/task/{threading.get_native_id()}/ns/net".encode()
        if libc.mount(source, target.encode(), None, MS_BIND, None) != 0:
            raise OSError(_errno(), f"bind mount on {target}")
    except BaseException as exc:  # reported to the caller's thread
        errors.append(exc)


def _create_fast(name: str) -> bool:
    if not os.path.isdir(NETNS_DIR):  # `ip netns add` sets the directory up the first time
        return False
    target = path_of(name)
    fd = os.open(target, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o444)
    os.close(fd)
    errors: list[BaseException] = []
    worker = threading.Thread(target=_in_thread, args=(target, errors), daemon=True)
    worker.start()
    worker.join()
    if errors:
        os.unlink(target)
        return False
    return True


def create(name: str) -> str:
    """A persistent network namespace with `lo` up; its path."""
    try:
        if _create_fast(name):
            return path_of(name)
    except FileExistsError:
        delete(name)  # a stale one from a killed run of the same container
        if _create_fast(name):
            return path_of(name)
    except OSError:
        pass
    proc = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if proc.returncode != 0:
        raise Unavailable(f"cannot create network namespace {name}: {proc.stderr.strip()}")
    subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], capture_output=True)
    return path_of(name)


def delete(name: str) -> None:
    """Unmount and remove /run/netns/NAME (the namespace goes when nothing else holds it)."""
    target = path_of(name)
    if not os.path.lexists(target):
        return
    _c().umount2(target.encode(), MNT_DETACH)
    try:
        os.unlink(target)
    except FileNotFoundError:
        pass
    except OSError:
        subprocess.run(["ip", "netns", "delete", name], capture_output=True)
