"""`save` and `load`: images from the store to one tar (OCI layout + docker-archive) and back.

Both stream: save copies stored blobs into the tar (sendfile where it can), load spools
every file of the archive into the store's ingest area as it passes, checks the images
and only then publishes their blobs and names. A failed load stores nothing.
"""

from __future__ import annotations

import lzma
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

from zstandard import ZstdError

from dockyard import reference
from dockyard.errors import DockyardError, InvalidArgument, NotFound
from dockyard.image.compression import open_archive
from dockyard.oci import mediatypes as mt
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.oci.manifest import Manifest
from dockyard.store import Store
from dockyard.transports import docker_archive, oci_layout
from dockyard.transports.docker_archive import SaveItem
from dockyard.transports.oci_layout import ImagePlan
from dockyard.transports.spool import Spool

Progress = Callable[[int], None]


# -- save -------------------------------------------------------------------------------------


def save_items(store: Store, refs: list[str] | tuple[str, ...]) -> list[SaveItem]:
    """The images `refs` name, each once, with the tags to list it under (docker's rules).

    `name:tag` lists that tag; a bare repository name every tag it has; an ID or a digest
    reference lists the image untagged.
    """
    if not refs:
        raise InvalidArgument("save needs at least one image", hint="dockyard save -o FILE IMAGE...")
    items: dict[str, SaveItem] = {}
    for ref in refs:
        for record_id, name in _save_targets(store, ref):
            item = items.get(record_id)
            if item is None:
                item = items[record_id] = SaveItem(store.image(record_id), [])
            if name is not None and name not in item.names:
                item.names.append(name)
    return list(items.values())


def _save_targets(store: Store, ref: str) -> list[tuple[str, str | None]]:
    parsed = None if reference.is_image_id(ref) else reference.try_parse_reference(
        ref, default_tag=False)
    if parsed is not None and parsed.is_name_only:
        prefix = parsed.name + ":"
        tagged = sorted(
            ((r.id, n) for r in store.images.list() for n in r.names if n.startswith(prefix)),
            key=lambda t: t[1],
        )
        if tagged:
            return list(tagged)
    record = store.images.resolve(ref)
    if parsed is not None and parsed.digest is None:
        name = str(parsed.tag_name_only())
        if name in record.names:  # not a short ID that happens to parse as a name
            return [(record.id, name)]
    return [(record.id, None)]


def save_size(items: list[SaveItem]) -> int:
    """Roughly the bytes a save writes (for a progress bar)."""
    seen: dict[str, int] = {}
    for item in items:
        for desc in item.image.layers:
            seen[str(desc.digest)] = desc.size
    return sum(seen.values())


def save(store: Store, refs: list[str] | tuple[str, ...], out: BinaryIO,
         progress: Progress | None = None) -> int:
    """Write the archive of `refs` to `out`; returns its size in bytes."""
    return write_archive(save_items(store, refs), out, progress)


def write_archive(items: list[SaveItem], out: BinaryIO, progress: Progress | None = None) -> int:
    """Write the archive of images already resolved by `save_items` to `out` (its size)."""
    return docker_archive.write(items, out, progress)


def save_to_file(items: list[SaveItem], path: Path, progress: Progress | None = None) -> int:
    """Save into `path` through a temporary file renamed at the end (no half archive is left).

    A device or FIFO (`-o /dev/stdout`) is written to directly: it is never replaced.
    """
    if path.is_dir():
        raise InvalidArgument(f"{path} is a directory", hint="give -o a file name")
    if not path.parent.is_dir():
        raise InvalidArgument(f"failed to save image: directory {path.parent} does not exist",
                              hint="create it first or choose another -o path")
    special = path.exists() and not path.is_file()
    tmp = path if special else path.parent / f".{path.name}.dockyard-tmp-{os.getpid()}"
    try:
        with open(tmp, "wb", buffering=1 << 20) as f:
            size = write_archive(items, cast(BinaryIO, f), progress)
        if not special:
            os.replace(tmp, path)
    except OSError as exc:
        raise DockyardError(f"failed to save image: cannot write {path}: {exc.strerror or exc}",
                            hint="choose another -o path, or free some space") from exc
    finally:
        if not special:
            tmp.unlink(missing_ok=True)
    return size


# -- load -------------------------------------------------------------------------------------


@dataclass
class Loaded:
    """One image a load stored, and the names it got."""

    id: str
    names: list[str]

    def messages(self) -> list[str]:
        """Docker's lines: `Loaded image: NAME:TAG` per name, or `Loaded image ID: sha256:...`."""
        if not self.names:
            return [f"Loaded image ID: {self.id}"]
        return [f"Loaded image: {reference.familiar(n)}" for n in self.names]


def load(store: Store, source: BinaryIO | Path, progress: Progress | None = None) -> list[Loaded]:
    """Load every image of a docker archive, oci-archive or OCI layout directory."""
    with store.lease(), Spool(store.content, progress) as spool:
        _fill(spool, source)
        if not spool.files and not spool.links:
            raise InvalidArgument("the archive is empty (no files in it)",
                                  hint="give a file written by docker/podman save or skopeo")
        if docker_archive.is_archive(spool):
            plans = docker_archive.read_plans(spool)
        elif oci_layout.is_layout(spool):
            plans = oci_layout.read_plans(spool)
        else:
            raise InvalidArgument(
                "unrecognized image format: the archive has neither manifest.json nor index.json",
                hint="give a docker-archive, an oci-archive or an OCI layout directory",
            )
        for plan in plans:
            _verify(spool, plan)
        return [_store_plan(store, spool, plan) for plan in plans]


def _fill(spool: Spool, source: BinaryIO | Path) -> None:
    if isinstance(source, Path):
        if source.is_dir():
            spool.add_directory(source)
            return
        try:
            f = open(source, "rb", buffering=1 << 20)
        except FileNotFoundError as exc:
            raise NotFound(f"open {source}: no such file or directory") from exc
        except OSError as exc:
            raise InvalidArgument(f"open {source}: {exc.strerror or exc}") from exc
        with f:
            _fill(spool, cast(BinaryIO, f))
        return
    try:
        spool.add_tar(open_archive(source))
    except InvalidArgument:
        raise
    except (OSError, EOFError, ValueError, ZstdError, lzma.LZMAError) as exc:
        raise InvalidArgument(f"cannot read the archive: {exc}",
                              hint="the file is corrupt or truncated; nothing was loaded") from exc


def _verify(spool: Spool, plan: ImagePlan) -> None:
    for i, (found, diff_id) in enumerate(zip(plan.layers, plan.diff_ids, strict=True)):
        digest, _ = spool.uncompressed(found)
        if digest != diff_id:
            raise InvalidArgument(
                f"invalid diffID for layer {i}: expected {diff_id!r}, got {digest!r}"
                f" ({found.name})",
                hint="the layer does not match the image config; nothing was loaded",
            )


def _store_plan(store: Store, spool: Spool, plan: ImagePlan) -> Loaded:
    layers = []
    for found, diff_id in zip(plan.layers, plan.diff_ids, strict=True):
        digest, size = spool.commit_layer(found, diff_id)
        layers.append(Descriptor(mt.DOCKER_LAYER if plan.docker else mt.OCI_LAYER,
                                 Digest(digest), size))
    config_digest = store.content.write_bytes(plan.config_bytes)
    manifest_bytes = plan.manifest_bytes
    if manifest_bytes is None:
        config = Descriptor(mt.DOCKER_CONFIG if plan.docker else mt.OCI_CONFIG,
                            Digest(config_digest), len(plan.config_bytes))
        manifest_bytes = Manifest(
            config=config, layers=tuple(layers),
            media_type=mt.DOCKER_MANIFEST if plan.docker else mt.OCI_MANIFEST,
        ).to_json()
    manifest_digest = store.content.write_bytes(manifest_bytes)
    record = store.images.add(manifest_digest, config_digest, plan.names)
    return Loaded(record.id, list(plan.names))
