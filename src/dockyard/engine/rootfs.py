"""Where a container's root filesystem comes from: the store's snapshots, mounted with overlayfs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

from dockyard.records import FrozenRecord


class ImageInfo(FrozenRecord):
    """The image a container is made from: its ID, the name asked for, and its run config."""

    def __init__(
        self, id: str, name: str,
        config: dict[str, Any],  # the image config's "config" object (Env, Cmd, ...)
        architecture: str = "",  # the image config's "architecture" (amd64, 386, ...)
    ) -> None:  # fmt: skip
        self.id = id
        self.name = name
        self.config = config
        self.architecture = architecture


class ImageSource(Protocol):
    """Where root filesystems come from: the store's snapshots (or a test's directory)."""

    def resolve(self, ref: str) -> ImageInfo: ...
    def prepare(self, key: str, image_id: str) -> None: ...
    def mount(self, key: str, target: Path) -> None: ...
    def unmount(self, key: str, target: Path) -> None: ...
    def remove(self, key: str) -> None: ...


class StoreImages:
    """ImageSource over dockyard.store.Store: snapshots.prepare + mount (overlayfs)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self._diff_ids: dict[str, list[str]] = {}

    def resolve(self, ref: str) -> ImageInfo:
        record = self.store.images.resolve(ref)
        doc = json.loads(self.store.content.read_bytes(record.id))
        self._diff_ids[record.id] = list((doc.get("rootfs") or {}).get("diff_ids") or [])
        return ImageInfo(record.id, ref, dict(doc.get("config") or {}), str(doc.get("architecture", "")))

    def prepare(self, key: str, image_id: str) -> None:
        snapshots = self.store.snapshots
        chain = _top_chain(self._diff_ids.get(image_id))
        if chain is None or not snapshots.has(chain):  # not unpacked yet: the full path
            chain = snapshots.ensure_unpacked(self.store.image(image_id))
        snapshots.prepare(key, chain)

    def mount(self, key: str, target: Path) -> None:
        self.store.snapshots.mount(key, target)

    def unmount(self, key: str, target: Path) -> None:
        self.store.snapshots.unmount(target)

    def remove(self, key: str) -> None:
        self.store.snapshots.remove(key)


def link_rootfs(images: ImageSource, key: str, target: Path) -> Path:
    """Rootless: no mount(2). `target` becomes a symlink to snapshot `key`'s whole tree (the
    copy driver keeps one per container), for exec and health checks to read; the resolved
    directory comes back for config.json (runc refuses a symlinked root)."""
    from dockyard.errors import Unavailable

    store = getattr(images, "store", None)
    if store is None or store.snapshots.driver != "copy":
        raise Unavailable(
            "rootless containers need a store that uses the copy snapshotter",
            hint="use a store root of your own (the default ~/.local/share/dockyard) or run as root",
        )
    tree = store.snapshots.path(key).resolve()
    if target.is_symlink():
        target.unlink()
    elif target.is_dir():
        target.rmdir()
    target.symlink_to(tree)
    return tree


def _top_chain(diff_ids: list[str] | None) -> str | None:
    """The chain ID of an image's top layer (as snapshots key committed layers)."""
    if not diff_ids:
        return None
    from dockyard.smallhash import sha256  # a few short strings: no OpenSSL load on `run`

    chain = diff_ids[0]
    for diff_id in diff_ids[1:]:
        chain = "sha256:" + sha256(f"{chain} {diff_id}".encode()).hexdigest()
    return chain


def snapshot_key(cid: str) -> str:
    return f"container-{cid}"
