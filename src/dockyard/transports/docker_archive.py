"""Docker archives (`docker save` / `docker load`): write Docker 25's combined layout, read every layout.

`write(items, out)` streams one tar that is both an OCI image layout and a docker-archive
(`manifest.json` + `repositories`), layers as stored (uncompressed, named by diff ID).
`read_plans(spool)` reads `manifest.json` of any Docker version (`blobs/sha256/<hex>` or the
older `<id>/layer.tar` + `<hex>.json`) into `ImagePlan`s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from dockyard import reference
from dockyard.errors import InvalidArgument
from dockyard.oci import mediatypes as mt
from dockyard.oci._json import go_dumps
from dockyard.oci.config import parse_time
from dockyard.oci.digest import Digest
from dockyard.transports import oci_layout
from dockyard.transports.oci_layout import ImagePlan, config_diff_ids, normalize_tag
from dockyard.transports.tarstream import Progress, TarWriter

if TYPE_CHECKING:
    from dockyard.image import Image
    from dockyard.transports.spool import Spool


@dataclass
class SaveItem:
    """One image to save and the normalized names ("docker.io/library/x:tag") to list it under."""

    image: Image
    names: list[str]


def _hex(digest: str) -> str:
    return digest.split(":", 1)[1]


def _blob_path(digest: str) -> str:
    return f"blobs/sha256/{_hex(digest)}"


def _mtime(image: Image) -> int:
    try:
        created = image.config.created
        return max(0, int(parse_time(created).timestamp())) if created else 0
    except (ValueError, InvalidArgument):
        return 0


def manifest_json(items: list[SaveItem]) -> bytes:
    """Docker's manifest.json: Config, RepoTags (familiar), Layers and LayerSources."""
    entries: list[dict[str, Any]] = []
    for item in items:
        image = item.image
        tags = [reference.familiar(n) for n in item.names]
        sources = {
            diff: {"mediaType": mt.OCI_LAYER, "size": desc.size, "digest": diff}
            for desc, diff in zip(image.layers, image.diff_ids, strict=True)
        }
        entry: dict[str, Any] = {
            "Config": _blob_path(image.id),
            "RepoTags": tags or None,
            "Layers": [_blob_path(d) for d in image.diff_ids],
        }
        if sources:
            entry["LayerSources"] = dict(sorted(sources.items()))
        entries.append(entry)
    return go_dumps(entries)


def repositories_json(items: list[SaveItem]) -> bytes | None:
    """The legacy `repositories` file {repo: {tag: top layer hex}} (None when nothing is tagged)."""
    repos: dict[str, dict[str, str]] = {}
    for item in items:
        if not item.image.diff_ids:
            continue
        for name in item.names:
            ref = reference.parse_reference(name)
            repos.setdefault(ref.familiar_name(), {})[ref.tag or "latest"] = _hex(
                item.image.diff_ids[-1]
            )
    return go_dumps(repos) if repos else None


def write(items: list[SaveItem], out: BinaryIO, progress: Progress | None = None) -> int:
    """Stream the archive of `items` to `out`; returns the bytes written."""
    tar = TarWriter(out, progress)
    manifests = [oci_layout.manifest_for(item.image) for item in items]
    newest = max((_mtime(i.image) for i in items), default=0)
    tar.add_bytes("oci-layout", oci_layout.LAYOUT_BYTES, newest)
    tar.add_bytes("index.json", oci_layout.index_json(
        [(m, i.names) for m, i in zip(manifests, items, strict=True)]), newest)
    tar.add_bytes("manifest.json", manifest_json(items), newest)
    repositories = repositories_json(items)
    if repositories is not None:
        tar.add_bytes("repositories", repositories, newest)
    tar.add_dir("blobs", newest)
    tar.add_dir("blobs/sha256", newest)
    written: set[str] = set()
    for item, manifest in zip(items, manifests, strict=True):
        mtime = _mtime(item.image)
        for digest, data in ((item.image.id, item.image.config_bytes),
                             (str(Digest.from_bytes(manifest)), manifest)):
            if digest not in written:
                written.add(digest)
                tar.add_bytes(_blob_path(digest), data, mtime)
    for item in items:
        mtime = _mtime(item.image)
        for desc in item.image.layers:
            digest = str(desc.digest)
            if digest in written:
                continue
            written.add(digest)
            with item.image.open_layer(desc) as layer:
                tar.add_file(_blob_path(digest), layer, desc.size, mtime)
    tar.close()
    return tar.written


# -- reading ----------------------------------------------------------------------------------


def is_archive(spool: Spool) -> bool:
    return spool.has("manifest.json")


def read_plans(spool: Spool) -> list[ImagePlan]:
    """The images manifest.json lists, checked as docker load checks them."""
    try:
        entries = json.loads(spool.read_bytes("manifest.json"))
    except ValueError as exc:
        raise InvalidArgument(f"manifest.json is not valid JSON: {exc}",
                              hint="the archive is corrupt; nothing was loaded") from exc
    if entries is None:
        raise InvalidArgument("invalid manifest, manifest cannot be null (but can be [])")
    if not isinstance(entries, list):
        raise InvalidArgument("invalid manifest.json: want a JSON array of images")
    known = _layout_manifests(spool)
    return [_plan(spool, entry, i, known) for i, entry in enumerate(entries)]


def _plan(spool: Spool, entry: Any, i: int, known: dict[str, bytes]) -> ImagePlan:
    where = f"manifest.json entry {i}"
    if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
        raise InvalidArgument(f"invalid {where}: want an object with Config, RepoTags, Layers")
    layers = entry.get("Layers") or []
    tags = entry.get("RepoTags") or []
    if not isinstance(layers, list) or not all(isinstance(p, str) for p in layers):
        raise InvalidArgument(f"invalid {where}: Layers must be a list of paths")
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise InvalidArgument(f"invalid {where}: RepoTags must be a list of strings")
    names = [normalize_tag(t, f"RepoTags of {where}") for t in tags]
    config_bytes = spool.read_bytes(entry["Config"], "image config")
    diff_ids = config_diff_ids(config_bytes)
    if len(diff_ids) != len(layers):
        raise InvalidArgument(
            f"invalid manifest, layers length mismatch: expected {len(diff_ids)}, got {len(layers)}",
            hint="the archive is malformed; nothing was loaded",
        )
    files = [spool.resolve(p, "layer") for p in layers]
    plan = ImagePlan(config_bytes, diff_ids, files, names)
    plan.manifest_bytes = known.get(plan.image_id)
    return plan


def _layout_manifests(spool: Spool) -> dict[str, bytes]:
    """Manifests of the OCI layout beside manifest.json that can be kept as is, by image ID."""
    if not oci_layout.is_layout(spool):
        return {}
    try:
        plans = oci_layout.read_plans(spool)
    except InvalidArgument:
        return {}  # docker load reads manifest.json only; a bad index.json is not its business
    # A plan keeps its manifest only when every layer is stored uncompressed under its diff ID.
    return {plan.image_id: plan.manifest_bytes for plan in plans if plan.manifest_bytes is not None}
