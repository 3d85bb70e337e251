"""OCI image layouts (`oci-layout`, `index.json`, `blobs/sha256/`): the documents to write, and reading one.

Writing: `manifest_for(image)` gives the OCI manifest a layout lists and `index_json()` the
index with Docker 25's name annotations. Reading: `read_plans(spool)` turns a spooled
layout (a directory, an oci-archive or a Docker 25+ save) into `ImagePlan`s for the loader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from dockyard import reference
from dockyard.errors import DockyardError, InvalidArgument
from dockyard.oci import mediatypes as mt
from dockyard.oci._json import go_dumps, loads_object
from dockyard.oci.config import ImageConfig
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.oci.index import CONTAINERD_IMAGE_NAME, REF_NAME, Index
from dockyard.oci.manifest import Manifest

if TYPE_CHECKING:
    from dockyard.image import Image
    from dockyard.transports.spool import Spool, SpooledFile

LAYOUT_VERSION = "1.0.0"
LAYOUT_BYTES = go_dumps({"imageLayoutVersion": LAYOUT_VERSION})


@dataclass
class ImagePlan:
    """One image found in an archive, checked enough to be stored (layers not committed yet)."""

    config_bytes: bytes
    diff_ids: list[str]
    layers: list[SpooledFile]
    names: list[str] = field(default_factory=list)  # normalized "repo:tag"
    manifest_bytes: bytes | None = None  # a manifest to keep as is (uncompressed layers only)
    docker: bool = True  # media types of a manifest made for it

    @cached_property
    def image_id(self) -> str:
        return str(Digest.from_bytes(self.config_bytes))


# -- writing ----------------------------------------------------------------------------------


def manifest_for(image: Image) -> bytes:
    """The OCI manifest of a stored image: its own when already OCI, else one made from it."""
    manifest = image.manifest
    if manifest.effective_media_type == mt.OCI_MANIFEST and all(
        mt.layer_compression(d.media_type) == "" and str(d.digest) == diff
        for d, diff in zip(manifest.layers, image.diff_ids, strict=False)
    ) and len(manifest.layers) == len(image.diff_ids):
        return image.manifest_bytes
    layers = []
    for desc, diff_id in zip(manifest.layers, image.diff_ids, strict=True):
        if str(desc.digest) != diff_id:
            raise InvalidArgument(
                f"image {image.id}: layer {desc.digest} is not stored uncompressed",
                hint="the store is inconsistent; pull or load the image again",
            )
        layers.append(Descriptor(mt.OCI_LAYER, desc.digest, desc.size))
    config = Descriptor(mt.OCI_CONFIG, Digest(image.id), len(image.config_bytes))
    return Manifest(config=config, layers=tuple(layers)).to_json()


def index_json(entries: list[tuple[bytes, list[str]]]) -> bytes:
    """index.json for (manifest bytes, normalized names) pairs, one entry per name."""
    manifests: list[Descriptor] = []
    for manifest_bytes, names in entries:
        desc = Descriptor.of(mt.OCI_MANIFEST, manifest_bytes)
        if not names:
            manifests.append(desc)
        for name in names:
            ref = reference.parse_reference(name)
            manifests.append(desc.with_annotations(
                **{CONTAINERD_IMAGE_NAME: str(ref), REF_NAME: ref.tag or "latest"}
            ))
    return Index(manifests=tuple(manifests)).to_json()


# -- reading ----------------------------------------------------------------------------------


def is_layout(spool: Spool) -> bool:
    return spool.has("index.json")


def read_plans(spool: Spool) -> list[ImagePlan]:
    """The images an OCI layout's index.json lists (index entries naming the same manifest merge)."""
    if spool.has("oci-layout"):
        version = loads_object(spool.read_bytes("oci-layout"), "oci-layout").get("imageLayoutVersion")
        if version != LAYOUT_VERSION:
            raise InvalidArgument(
                f"unsupported OCI layout version {version!r} (want {LAYOUT_VERSION})"
            )
    index = _parse(lambda: Index.from_json(spool.read_bytes("index.json", "index.json")))
    plans: dict[str, ImagePlan] = {}
    for desc, names in _manifests(spool, index, depth=0):
        key = str(desc.digest)
        if key not in plans:
            plans[key] = plan_for_manifest(spool, desc)
        plans[key].names.extend(n for n in names if n not in plans[key].names)
    return list(plans.values())


def _manifests(spool: Spool, index: Index, depth: int) -> list[tuple[Descriptor, list[str]]]:
    out: list[tuple[Descriptor, list[str]]] = []
    for desc in index.images():
        names = names_of(desc)
        if mt.is_index(desc.media_type):
            if depth > 4:
                raise InvalidArgument("the OCI layout nests indexes too deeply")
            blob = spool.blob(str(desc.digest), "index")
            nested = _parse(lambda b=blob: Index.from_json(spool.read_bytes(b.name)))
            try:
                chosen = nested.select()
            except DockyardError as exc:
                raise InvalidArgument(f"image index {desc.digest}: {exc.message}",
                                      hint=exc.hint) from exc
            out.append((chosen, names))
        else:
            out.append((desc, names))
    return out


def names_of(desc: Descriptor) -> list[str]:
    """The names an index entry carries: containerd's full name, or a full ref.name."""
    full = desc.annotation(CONTAINERD_IMAGE_NAME)
    ref_name = desc.annotation(REF_NAME)
    if full:
        return [normalize_tag(full, "io.containerd.image.name annotation")]
    if ref_name and ("/" in ref_name or ":" in ref_name):
        return [normalize_tag(ref_name, "org.opencontainers.image.ref.name annotation")]
    return []  # a bare tag names no repository: the image stays untagged, as docker does


def normalize_tag(text: str, where: str) -> str:
    """`name:tag` -> "docker.io/library/name:tag"; InvalidArgument for anything else."""
    try:
        ref = reference.parse_reference(text, default_tag=False)
    except InvalidArgument as exc:
        raise InvalidArgument(f"invalid image reference {text!r} in {where}: {exc.message}",
                              hint="the archive is malformed; nothing was loaded") from exc
    if ref.digest is not None or ref.tag is None:
        raise InvalidArgument(f"invalid tag {text!r} in {where}: want name:tag",
                              hint="the archive is malformed; nothing was loaded")
    return str(ref)


def plan_for_manifest(spool: Spool, desc: Descriptor) -> ImagePlan:
    blob = spool.blob(str(desc.digest), "manifest")
    raw = spool.read_bytes(blob.name)
    manifest = _parse(lambda: Manifest.from_json(raw, desc.media_type))
    config_blob = spool.blob(str(manifest.config.digest), "config")
    config_bytes = spool.read_bytes(config_blob.name)
    diff_ids = config_diff_ids(config_bytes)
    layer_descs = [d for d in manifest.layers if mt.is_layer(d.media_type) or d.media_type == ""]
    if len(layer_descs) != len(diff_ids):
        raise InvalidArgument(
            f"manifest {desc.digest} lists {len(layer_descs)} layers but its config has"
            f" {len(diff_ids)} diff IDs", hint="the archive is malformed; nothing was loaded",
        )
    layers = [spool.blob(str(d.digest), "layer") for d in layer_descs]
    keep = all(
        mt.layer_compression(d.media_type) == "" and str(d.digest) == diff
        for d, diff in zip(layer_descs, diff_ids, strict=True)
    ) and len(layer_descs) == len(manifest.layers)
    return ImagePlan(config_bytes, diff_ids, layers, manifest_bytes=raw if keep else None,
                     docker=manifest.is_docker)


def config_diff_ids(config_bytes: bytes) -> list[str]:
    config = _parse(lambda: ImageConfig.from_json(config_bytes))
    if config.rootfs.type not in ("layers", ""):
        raise InvalidArgument(f"image config: unsupported rootfs type {config.rootfs.type!r}")
    return [str(d) for d in config.diff_ids]


def _parse(fn: Any) -> Any:
    """Run a document parser; any non-dockyard error becomes one InvalidArgument line."""
    try:
        return fn()
    except DockyardError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidArgument(f"malformed document in the archive: {exc}",
                              hint="the archive is corrupt; nothing was loaded") from exc
