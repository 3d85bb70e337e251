"""Image values a build passes between steps: start configs (BuildKit's view of a base image or
`scratch`), and step results written to the content store only when they are new."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from dockyard.dockerfile.expand import host_platform
from dockyard.image import StoredImage
from dockyard.oci import mediatypes as mt
from dockyard.oci.config import History, ImageConfig, RootFS
from dockyard.oci.container_config import ContainerConfig
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.oci.manifest import Manifest
from dockyard.store.images import ImageRecord

if TYPE_CHECKING:
    from dockyard.store import Store

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HISTORY_COMMENT = "buildkit.dockerfile.v0"


def _put(store: Store, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    if not store.content.has(digest):
        store.content.write_bytes(data)
    return digest


def store_image(store: Store, config: ImageConfig, layers: list[Descriptor]) -> StoredImage:
    """Write config + Docker schema2 manifest (skipping blobs already present); unnamed image."""
    config_bytes = config.to_json()
    config_digest = _put(store, config_bytes)
    manifest = Manifest(
        config=Descriptor(mt.DOCKER_CONFIG, Digest(config_digest), len(config_bytes)),
        layers=tuple(d.replace(media_type=mt.DOCKER_LAYER) for d in layers),
        media_type=mt.DOCKER_MANIFEST,
    )
    manifest_digest = _put(store, manifest.to_json())
    return StoredImage(store, ImageRecord(id=config_digest, manifest_digest=manifest_digest))


def _with_path(cfg: ContainerConfig) -> ContainerConfig:
    if any(e.partition("=")[0] == "PATH" for e in cfg.env or ()):
        return cfg
    return cfg.replace(env=(*(cfg.env or ()), DEFAULT_PATH))


def start_from_image(store: Store, base: StoredImage) -> StoredImage:
    """BuildKit's starting point for `FROM image`: the config with docker-only fields dropped,
    no `created`, PATH always set; same layers."""
    source = base.config
    cfg = source.cfg.to_oci_style().replace(extra={})
    config = ImageConfig(
        architecture=source.architecture, os=source.os or "linux", variant=source.variant,
        os_version=source.os_version, os_features=source.os_features, created=None,
        author=source.author, config=_with_path(cfg), rootfs=RootFS("layers", source.diff_ids),
        history=source.history,
    )  # fmt: skip
    return store_image(store, config, base.layers)


def start_from_stage(store: Store, base: StoredImage) -> StoredImage:
    """A stage built on an earlier stage starts from its image, without its ONBUILD triggers."""
    cfg = base.config.cfg
    if not cfg.on_build:
        return base
    config = base.config.replace(config=cfg.replace(on_build=None))
    return store_image(store, config, base.layers)


def scratch(store: Store) -> StoredImage:
    """BuildKit's emptyImage: host platform, WorkingDir /, Env PATH, no layers."""
    parts = host_platform().split("/")
    cfg = ContainerConfig(env=(DEFAULT_PATH,), working_dir="/", style="oci")
    config = ImageConfig(
        architecture=parts[1], os=parts[0], variant=parts[2] if len(parts) > 2 else "",
        created=None, config=cfg, rootfs=RootFS("layers", ()),
    )  # fmt: skip
    return store_image(store, config, [])


def history(created: str, created_by: str, empty: bool) -> History:
    return History(created=created, created_by=created_by, comment=HISTORY_COMMENT,
                   empty_layer=empty)  # fmt: skip


def with_entry(config: ImageConfig, entry: History | None) -> ImageConfig:
    """`config` after a step without a layer: its history entry appended, `created` set."""
    if entry is None:
        return config
    config = config.with_history(entry)
    return config.replace(created=entry.created) if entry.created else config


def add_step(
    store: Store, parent: StoredImage, config: ImageConfig, entry: History | None,
    layer: tuple[str, int] | None,
) -> StoredImage:  # fmt: skip
    """The image after one step: `config` (+ history entry, + layer (diff ID, size))."""
    layers = list(parent.layers)
    if layer is None:
        return store_image(store, with_entry(config, entry), layers)
    digest, size = layer
    config = config.with_layer(digest, entry)
    layers.append(Descriptor(mt.DOCKER_LAYER, Digest(digest), size))
    if entry is not None and entry.created:
        config = config.replace(created=entry.created)
    return store_image(store, config, layers)
