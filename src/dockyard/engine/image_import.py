"""`import`: a rootfs tarball (plain, gzip, zstd, xz, bzip2) becomes a one-layer image."""

from __future__ import annotations

import platform as host_platform
from typing import BinaryIO

from dockyard.errors import InvalidArgument
from dockyard.image import mutate
from dockyard.image.changes import apply_changes
from dockyard.image.tarimport import ingest_rootfs_tar
from dockyard.oci import mediatypes as mt
from dockyard.oci.config import History, ImageConfig, RootFS, now
from dockyard.oci.container_config import ContainerConfig
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.store import Store
from dockyard.store.images import normalize_name

_MACHINES = {"x86_64": ("amd64", ""), "amd64": ("amd64", ""), "aarch64": ("arm64", ""),
             "arm64": ("arm64", ""), "armv7l": ("arm", "v7"), "armv6l": ("arm", "v6"),
             "i686": ("386", ""), "i386": ("386", ""), "ppc64le": ("ppc64le", ""),
             "s390x": ("s390x", ""), "riscv64": ("riscv64", "")}


def host_os_arch() -> tuple[str, str, str]:
    """(os, architecture, variant) of this machine, in OCI's words."""
    arch, variant = _MACHINES.get(host_platform.machine(), (host_platform.machine(), ""))
    return "linux", arch, variant


def parse_platform(text: str | None) -> tuple[str, str, str]:
    """`linux/arm64/v8` -> ("linux", "arm64", "v8"); None -> the host's."""
    if not text:
        return host_os_arch()
    parts = text.lower().split("/")
    if len(parts) < 2 or len(parts) > 3 or not all(parts):
        raise InvalidArgument(
            f"invalid platform {text!r}", hint="use os/arch[/variant], e.g. linux/amd64"
        )
    return parts[0], parts[1], parts[2] if len(parts) == 3 else ""


def import_image(
    store: Store,
    source: BinaryIO,
    ref: str | None = None,
    *,
    changes: list[str] | tuple[str, ...] = (),
    message: str = "",
    platform: str | None = None,
    source_name: str = "-",
) -> str:
    """Store `source` as a one-layer image (named `ref` if given); returns the image ID."""
    name = normalize_name(ref) if ref else None  # refuse a bad name before reading anything
    os_name, arch, variant = parse_platform(platform)
    container = ContainerConfig.from_dict(apply_changes({}, list(changes))) if changes else None
    comment = message or f"Imported from {source_name}"
    with store.lease():
        digest, size = ingest_rootfs_tar(store.content, source)
        created = now()
        config = ImageConfig(
            architecture=arch,
            os=os_name,
            variant=variant,
            created=created,
            config=container,
            rootfs=RootFS("layers", (Digest(digest),)),
            history=(History(created=created, comment=comment),),
            extra={"comment": comment, "docker_version": _docker_version()},
        )
        layer = Descriptor(mt.DOCKER_LAYER, Digest(digest), size)
        image = mutate.write_image(store, config, [layer], docker=True)
        mutate.register(image, [name] if name else [])
    return image.id


def _docker_version() -> str:
    from dockyard import __version__

    return f"dockyard-{__version__}"
