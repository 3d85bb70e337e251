"""Pull an image from a registry into the store: layers stored uncompressed, every digest verified.

Layers are decompressed while they download (the compressed digest and the diff ID are
both checked before anything is published), several at a time, resuming with a Range
request when a connection drops.
"""

from __future__ import annotations

import functools
import hashlib

from dockyard import reference
from dockyard.bigbuffers import reuse_big_buffers
from dockyard.errors import InvalidArgument, NotFound
from dockyard.oci import mediatypes as mt
from dockyard.oci._json import loads_object
from dockyard.oci.config import ImageConfig
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.oci.index import Index, parse_document
from dockyard.oci.manifest import Manifest
from dockyard.oci.platform import Platform
from dockyard.records import FrozenRecord
from dockyard.store import Store
from dockyard.transports.registry import blobinfo
from dockyard.transports.registry.client import RegistryClient, registry_error
from dockyard.transports.registry.layerfetch import download_layer
from dockyard.transports.registry.parallel import run_all
from dockyard.transports.registry.progress import Progress

ACCEPT = ", ".join([mt.OCI_INDEX, mt.OCI_MANIFEST, mt.DOCKER_MANIFEST_LIST, mt.DOCKER_MANIFEST])
MAX_MANIFEST = 4 << 20
MAX_CONFIG = 32 << 20
PARALLEL = 3


class Pulled(FrozenRecord):
    """What a pull stored."""

    def __init__(self, image_id: str, remote_digest: str, name: str | None, new: bool) -> None:
        self.image_id = image_id
        self.remote_digest = remote_digest  # the digest of what the reference named (index or manifest)
        self.name = name  # the tag name stored, if any
        self.new = new


def _fetch_manifest(
    client: RegistryClient, path: str, ref: str, scope: str, expected: str | None
) -> tuple[bytes, str, str]:
    """(bytes, media type, digest) of a manifest, verified against `expected` if given."""
    resp = client.request(
        "GET", f"/v2/{path}/manifests/{ref}", scope=scope, headers={"Accept": ACCEPT}
    )
    if resp.status_code != 200:
        raise registry_error(resp, f"manifest {path}:{ref}")
    data = resp.content
    if len(data) > MAX_MANIFEST:
        raise InvalidArgument(f"manifest {path}:{ref} is larger than {MAX_MANIFEST} bytes")
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    if expected is not None and digest != expected:
        raise InvalidArgument(
            f"manifest {path}@{expected} does not match its digest (got {digest})",
            hint="the registry served corrupt content; nothing was stored",
        )
    return data, mt.base(resp.headers.get("content-type", "")), digest


def _fetch_small_blob(client: RegistryClient, path: str, desc: Descriptor, scope: str) -> bytes:
    if desc.size > MAX_CONFIG:
        raise InvalidArgument(f"config blob {desc.digest} is too large ({desc.size} bytes)")
    resp = client.request("GET", f"/v2/{path}/blobs/{desc.digest}", scope=scope)
    if resp.status_code != 200:
        raise registry_error(resp, f"blob {desc.digest} of {path}")
    data = resp.content
    try:
        desc.verify(data)
    except InvalidArgument as exc:
        raise InvalidArgument(
            f"{exc.message} (from {path})",
            hint="the registry served corrupt content; nothing was stored",
        ) from exc
    return data


def _pick_manifest(
    client: RegistryClient, path: str, ref: str, scope: str, platform: str | None
) -> tuple[Manifest, str]:
    """(the manifest for `platform`, the digest the reference named: its index or itself)."""
    expected = ref if ":" in ref else None
    data, content_type, digest = _fetch_manifest(client, path, ref, scope, expected)
    named = digest
    doc = parse_document(data, content_type or None)
    if isinstance(doc, Index):
        want = Platform.parse(platform) if platform else None
        chosen = doc.select(want)
        data, content_type, _ = _fetch_manifest(
            client, path, str(chosen.digest), scope, str(chosen.digest)
        )
        doc = parse_document(data, content_type or None)
        if not isinstance(doc, Manifest):
            raise InvalidArgument(f"{path}: nested image indexes are not supported")
    return doc, named


def pull_image(
    store: Store,
    client: RegistryClient,
    ref: reference.Reference,
    progress: Progress,
    platform: str | None = None,
) -> Pulled:
    """Pull one reference (tag or digest) into the store; returns what was stored."""
    path = ref.path
    scope = f"repository:{path}:pull"
    tag_or_digest = str(ref.digest) if ref.digest else (ref.tag or "latest")
    store.db.ensure()
    manifest, named = _pick_manifest(client, path, tag_or_digest, scope, platform)
    progress.message(f"{ref.digest or ref.tag}: Pulling from {_familiar_repo(ref)}")
    config_bytes = _fetch_small_blob(client, path, manifest.config, scope)
    config = ImageConfig.from_json(config_bytes)
    diff_ids = [str(d) for d in config.rootfs.diff_ids]
    layers = list(manifest.layers)
    if len(diff_ids) != len(layers):
        raise InvalidArgument(
            f"{path}: the manifest has {len(layers)} layers but the config lists"
            f" {len(diff_ids)} diff IDs",
            hint="the image is corrupt",
        )
    with store.lease():
        _fetch_layers(store, client, path, scope, layers, diff_ids, progress)
        return _record(store, client, ref, manifest, config_bytes, diff_ids, named)


def _fetch_layers(
    store: Store,
    client: RegistryClient,
    path: str,
    scope: str,
    layers: list[Descriptor],
    diff_ids: list[str],
    progress: Progress,
) -> None:
    todo = []
    for desc, diff_id in zip(layers, diff_ids, strict=True):
        key = desc.digest.hex[:12]
        if store.content.has(diff_id):
            progress.status(key, "Already exists")
        else:
            progress.status(key, "Pulling fs layer")
            todo.append((desc, diff_id, key))
    if todo:
        reuse_big_buffers()
        run_all(
            [
                functools.partial(
                    download_layer, store, client, path, scope, desc, diff_id, key, progress
                )
                # the biggest first: the longest download starts at once, small ones fill in
                for desc, diff_id, key in sorted(todo, key=lambda t: -t[0].size)
            ],
            PARALLEL,
        )
        for _, _, key in todo:
            progress.status(key, "Pull complete")
    for desc, diff_id in zip(layers, diff_ids, strict=True):
        if mt.layer_compression(desc.media_type) is not None:
            blobinfo.record(
                store.db,
                blobinfo.BlobSource(
                    diff_id, str(desc.digest), desc.size, desc.media_type, client.host, path
                ),
            )


def _record(
    store: Store,
    client: RegistryClient,
    ref: reference.Reference,
    manifest: Manifest,
    config_bytes: bytes,
    diff_ids: list[str],
    named: str,
) -> Pulled:
    config_digest = store.content.write_bytes(config_bytes, expected=str(manifest.config.digest))
    docker = manifest.is_docker
    local = Manifest(
        config=manifest.config,
        layers=tuple(
            Descriptor(mt.layer_media_type("", docker), Digest(d), store.content.size(d))
            for d in diff_ids
        ),
        media_type=mt.DOCKER_MANIFEST if docker else mt.OCI_MANIFEST,
        annotations=manifest.annotations,
    )
    local_digest = store.content.write_bytes(local.to_json())
    name = f"{ref.name}:{ref.tag}" if ref.tag and not ref.digest else None
    repo_digest = f"{ref.name}@{named}"
    before = _existing(store, name, config_digest)
    store.images.add(
        local_digest, config_digest, [name] if name else [], repo_digests=[repo_digest]
    )
    return Pulled(config_digest, named, name, new=not before)


def _existing(store: Store, name: str | None, image_id: str) -> bool:
    if name is None:
        return bool(store.db.query("SELECT 1 FROM images WHERE id = ?", (image_id,)))
    rows = store.db.query(
        "SELECT m.image_id FROM image_names n JOIN image_manifests m"
        " ON n.manifest_digest = m.digest WHERE n.name = ?",
        (name,),
    )
    return bool(rows) and rows[0]["image_id"] == image_id


def _familiar_repo(ref: reference.Reference) -> str:
    return ref.path if ref.domain == reference.DEFAULT_DOMAIN else ref.name


def list_tags(client: RegistryClient, path: str) -> list[str]:
    """Every tag of a repository (following `Link` pagination)."""
    scope = f"repository:{path}:pull"
    url = f"/v2/{path}/tags/list"
    tags: list[str] = []
    while url:
        resp = client.request("GET", url, scope=scope)
        if resp.status_code != 200:
            raise registry_error(resp, f"tags of {path}")
        tags += [
            str(t) for t in (loads_object(resp.content, f"tag list of {path}").get("tags") or [])
        ]
        link = resp.headers.get("link", "")
        url = link[link.find("<") + 1 : link.find(">")] if 'rel="next"' in link else ""
    if not tags:
        raise NotFound(f"repository {path} has no tags")
    return tags
