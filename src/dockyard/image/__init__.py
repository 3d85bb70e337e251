"""The source-independent image: a manifest, a config and layer blobs, wherever they live.

Every source and sink (the local store, OCI layouts, docker archives, registries)
speaks `Image`; `StoredImage` is the one backed by the local store.
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol, runtime_checkable

from dockyard.oci._json import keep_raw, loads_object
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.manifest import Manifest

if TYPE_CHECKING:
    from dockyard.oci.config import ImageConfig
    from dockyard.store import Store
    from dockyard.store.images import ImageRecord


def chain_ids(diff_ids: list[str]) -> list[str]:
    """OCI chain IDs: ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))."""
    out: list[str] = []
    for diff_id in diff_ids:
        if not out:
            out.append(diff_id)
        else:
            out.append("sha256:" + hashlib.sha256(f"{out[-1]} {diff_id}".encode()).hexdigest())
    return out


@runtime_checkable
class Image(Protocol):
    """What every image source provides; blobs are read on demand and streamed."""

    @property
    def id(self) -> str: ...  # the config digest, "sha256:..."

    @property
    def manifest(self) -> Manifest: ...

    @property
    def manifest_bytes(self) -> bytes: ...

    @property
    def config(self) -> ImageConfig: ...

    @property
    def config_bytes(self) -> bytes: ...

    @property
    def layers(self) -> list[Descriptor]: ...

    @property
    def diff_ids(self) -> list[str]: ...

    def open_layer(self, desc: Descriptor) -> BinaryIO: ...


class StoredImage:
    """An image in the local store (`Store.image(ref)`); layers are uncompressed tar blobs."""

    def __init__(self, store: Store, record: ImageRecord) -> None:
        self.store = store
        self.record = record

    def __repr__(self) -> str:
        return f"StoredImage({self.id!r}, names={self.names!r})"

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def short_id(self) -> str:
        return self.record.short_id

    @property
    def names(self) -> list[str]:
        return list(self.record.names)

    @property
    def manifest_digest(self) -> str:
        return self.record.manifest_digest

    @cached_property
    def manifest_bytes(self) -> bytes:
        return self.store.content.read_bytes(self.record.manifest_digest)

    @cached_property
    def manifest(self) -> Manifest:
        return Manifest.from_json(self.manifest_bytes)

    @cached_property
    def config_bytes(self) -> bytes:
        return self.store.content.read_bytes(self.record.id)

    @cached_property
    def config_dict(self) -> dict[str, Any]:
        """The config as plain JSON (keeps every field, for inspect and history); read-only."""
        return loads_object(self.config_bytes, f"image config {self.id}")

    @cached_property
    def config(self) -> ImageConfig:
        """The typed config, built from the same parse as `config_dict` (the JSON is read once)."""
        from dockyard.oci.config import ImageConfig

        return keep_raw(ImageConfig.from_dict(self.config_dict), self.config_bytes)

    @property
    def layers(self) -> list[Descriptor]:
        return list(self.manifest.layers)

    @property
    def diff_ids(self) -> list[str]:
        rootfs = self.config_dict.get("rootfs") or {}
        return [str(d) for d in rootfs.get("diff_ids") or []]

    def chain_ids(self) -> list[str]:
        return chain_ids(self.diff_ids)

    def open_layer(self, desc: Descriptor) -> BinaryIO:
        return self.store.content.open(str(desc.digest))

    @property
    def size(self) -> int:
        """Docker's image Size: the sum of the uncompressed layer sizes."""
        return sum(d.size for d in self.manifest.layers)
