"""Derive new images in the store: append layers, add history, change the config.

Each function writes the new config and manifest blobs to the content store and
returns an unnamed StoredImage; `register()` puts it in the image index.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Protocol

from dockyard.image import StoredImage
from dockyard.oci import mediatypes as mt
from dockyard.oci.config import History, ImageConfig, RootFS, now
from dockyard.oci.container_config import ContainerConfig
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.oci.manifest import Manifest
from dockyard.store.images import ImageRecord

if TYPE_CHECKING:
    from dockyard.store import Store


class LayerLike(Protocol):
    """A committed layer blob: uncompressed tar, digest == diff ID (snapshots' LayerBlob)."""

    @property
    def digest(self) -> str: ...

    @property
    def size(self) -> int: ...


def write_image(
    store: Store, config: ImageConfig, layers: list[Descriptor], *, docker: bool = True
) -> StoredImage:
    """Write a config and its manifest (Docker schema2 or OCI) to the store; the unnamed image."""
    config_bytes = config.to_json()
    config_digest = store.content.write_bytes(config_bytes)
    layer_type = mt.DOCKER_LAYER if docker else mt.OCI_LAYER
    manifest = Manifest(
        config=Descriptor(
            mt.DOCKER_CONFIG if docker else mt.OCI_CONFIG, Digest(config_digest), len(config_bytes)
        ),
        layers=tuple(d.replace(media_type=layer_type) for d in layers),
        media_type=mt.DOCKER_MANIFEST if docker else mt.OCI_MANIFEST,
    )
    manifest_digest = store.content.write_bytes(manifest.to_json())
    record = ImageRecord(id=config_digest, manifest_digest=manifest_digest, created=time.time())
    return StoredImage(store, record)


def scratch(
    store: Store, os: str = "linux", architecture: str = "amd64", variant: str = "",
    *, docker: bool = True,
) -> StoredImage:
    """An empty image (no layers), where `FROM scratch` starts."""
    config = ImageConfig(
        architecture=architecture, os=os, variant=variant, created=now(),
        config=ContainerConfig(style="moby" if docker else "oci"), rootfs=RootFS("layers", ()),
    )
    return write_image(store, config, [], docker=docker)


def _is_docker(image: StoredImage) -> bool:
    return image.manifest.effective_media_type == mt.DOCKER_MANIFEST


def append_layer(
    image: StoredImage, layer: LayerLike, history: History | None = None
) -> StoredImage:
    """`image` plus one uncompressed layer on top, with its history entry (created now)."""
    entry = history or History()
    if entry.created is None:
        entry = History(now(), entry.created_by, entry.author, entry.comment, False, entry.extra)
    config = image.config.with_layer(str(layer.digest), entry).replace(created=entry.created)
    desc = Descriptor(mt.OCI_LAYER, Digest(str(layer.digest)), int(layer.size))
    return write_image(image.store, config, [*image.layers, desc], docker=_is_docker(image))


def add_history(
    image: StoredImage, created_by: str, comment: str = "", *, created: str | None = None
) -> StoredImage:
    """`image` with an empty-layer history entry (a metadata-only build step)."""
    stamp = created or now()
    entry = History(created=stamp, created_by=created_by, comment=comment, empty_layer=True)
    config = image.config.with_history(entry).replace(created=stamp)
    return write_image(image.store, config, image.layers, docker=_is_docker(image))


def with_config(image: StoredImage, config: ImageConfig | None = None, **changes: Any) -> StoredImage:
    """`image` with a new config: a whole ImageConfig, or ImageConfig fields to replace.

    The layers stay; `rootfs` must still list their diff IDs.
    """
    new = config if config is not None else image.config
    if changes:
        new = new.replace(**changes)
    return write_image(image.store, new, image.layers, docker=_is_docker(image))


def with_container_config(image: StoredImage, **changes: Any) -> StoredImage:
    """`image` with ContainerConfig fields replaced (`cmd=("sh",)`, `env=(...)`, ...)."""
    return write_image(
        image.store, image.config.with_config(**changes), image.layers, docker=_is_docker(image)
    )


def register(
    image: StoredImage, names: list[str] | tuple[str, ...] = (), *, parent: str | None = None
) -> StoredImage:
    """Record `image` in the index under `names`; returns it as stored."""
    record = image.store.images.add(image.manifest_digest, image.id, list(names), parent=parent)
    return StoredImage(image.store, record)
