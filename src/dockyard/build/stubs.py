"""Mount points a RUN step's runtime creates in the root filesystem (its RUN --mount targets,
/etc/hosts, /etc/resolv.conf, /etc/hostname): found before the step, removed after it with their
parent's mtime restored; the parent directories overlay copied up only for them are then dropped
from the layer (build/layers.py). So, as with BuildKit's stub cleaner, a step that writes only
into mounts commits no layer, and no layer carries empty mount point files."""

from __future__ import annotations

import os
import posixpath
import stat
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockyard.runtime.users import resolve_in_root

_RUNTIME_OWNED = ("/proc/", "/dev/", "/sys/")  # below the runtime's own mounts


@dataclass
class Stub:
    """A mount point the runtime creates: `top` is the first missing path on the way to
    `target`; `parent` (real, rootfs-relative) had `times` before; `ancestors` are the existing
    directories from `parent` up (rootfs-relative, with mode, uid, gid, mtime_ns)."""

    target: str
    top: str
    parent: str
    times: tuple[int, int]
    ancestors: list[tuple[str, int, int, int, int]]


def _rel(rootfs: Path, real: Path) -> str:
    return os.path.relpath(real, rootfs)


def _stub_for(rootfs: Path, target: str) -> Stub | None:
    current = ""
    for part in [p for p in target.split("/") if p]:
        nxt = f"{current}/{part}"
        if not os.path.lexists(resolve_in_root(rootfs, nxt)):
            parent_real = resolve_in_root(rootfs, current or "/")
            try:
                st = os.stat(parent_real)
            except OSError:
                return None
            ancestors = []
            walk = parent_real
            while walk != rootfs and rootfs in walk.parents:
                ast = os.lstat(walk)
                ancestors.append((_rel(rootfs, walk), ast.st_mode, ast.st_uid, ast.st_gid,
                                  ast.st_mtime_ns))  # fmt: skip
                walk = walk.parent
            return Stub(target, nxt, _rel(rootfs, parent_real),
                        (st.st_atime_ns, st.st_mtime_ns), ancestors)  # fmt: skip
        current = nxt
    return None


def remove(rootfs: Path, stubs: list[Stub]) -> None:
    """Remove the mount points the runtime created (empty directories and files only)."""
    for stub in stubs:
        path = stub.target
        while True:
            real = resolve_in_root(rootfs, path)
            try:
                st = os.lstat(real)
                if stat.S_ISDIR(st.st_mode) and not any(os.scandir(real)):
                    os.rmdir(real)
                elif stat.S_ISREG(st.st_mode) and st.st_size == 0:
                    os.unlink(real)
                elif path != stub.top:
                    break
            except OSError:
                pass
            if path == stub.top or path in ("/", ""):
                break
            path = posixpath.dirname(path)
    for stub in reversed(stubs):
        with suppress(OSError):
            os.utime(rootfs / stub.parent, ns=stub.times)


def find(rootfs: Path, mounts: list[dict[str, Any]]) -> list[Stub]:
    """The mount points of `mounts` that do not exist yet in `rootfs`."""
    out = []
    for mount in mounts:
        dest = posixpath.normpath(mount.get("destination") or "/")
        if dest == "/" or dest.startswith(_RUNTIME_OWNED):
            continue
        stub = _stub_for(rootfs, dest)
        if stub is not None:
            out.append(stub)
    return out


def prunable(stubs: list[Stub]) -> list[tuple[str, int, int, int, int]]:
    """Directories overlay may have copied up only for these mount points."""
    seen: dict[str, tuple[str, int, int, int, int]] = {}
    for stub in stubs:
        for entry in stub.ancestors:
            seen.setdefault(entry[0], entry)
    return list(seen.values())
