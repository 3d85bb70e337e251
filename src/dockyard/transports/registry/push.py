"""Push an image from the store to a registry: HEAD first, mount across repositories, manifest last.

Layers are compressed once, while they upload the first time (the content store keeps the
gzip variant), or not at all when the store already holds a compressed form (made by an
earlier push, or the registry's own blob kept by a pull) or the registry has it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from urllib.parse import urlencode, urljoin

from dockyard import reference
from dockyard.errors import InvalidArgument, NotFound
from dockyard.image import StoredImage
from dockyard.oci import mediatypes as mt
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.oci.manifest import Manifest
from dockyard.records import FrozenRecord
from dockyard.store import Store
from dockyard.transports.registry import blobinfo, upload
from dockyard.transports.registry.client import RegistryClient, registry_error
from dockyard.transports.registry.parallel import run_all
from dockyard.transports.registry.progress import Progress

PARALLEL = 3
READ_CHUNK = 1 << 20


class Pushed(FrozenRecord):
    """What a push stored: the tag, and the manifest's digest and size."""

    def __init__(self, tag: str, digest: str, size: int) -> None:
        self.tag = tag
        self.digest = digest
        self.size = size


def _exists(client: RegistryClient, path: str, digest: str, scope: str) -> bool:
    resp = client.request("HEAD", f"/v2/{path}/blobs/{digest}", scope=scope)
    resp.close()
    if resp.status_code == 200:
        return True
    if resp.status_code == 404:
        return False
    raise registry_error(resp, f"checking blob {digest} in {path}")


def _mount(client: RegistryClient, path: str, digest: str, source: str) -> bool:
    scope = f"repository:{path}:pull,push repository:{source}:pull"
    query = urlencode({"mount": digest, "from": source})
    resp = client.request("POST", f"/v2/{path}/blobs/uploads/?{query}", scope=scope)
    resp.close()
    if resp.status_code == 201:
        return True
    if resp.status_code == 202:  # the registry started an upload instead: cancel it
        location = resp.headers.get("location")
        if location:
            url = urljoin(client.base_url() + f"/v2/{path}/blobs/uploads/", location)
            client.request("DELETE", url, scope=scope).close()
        return False
    if resp.status_code in (401, 403, 404):
        return False
    raise registry_error(resp, f"mounting blob {digest} into {path}")


class _Checked:
    """Blob digests already found missing in the target during this push (no second HEAD)."""

    def __init__(self) -> None:
        self.missing: set[str] = set()

    def exists(self, client: RegistryClient, path: str, digest: str, scope: str) -> bool:
        if digest in self.missing:
            return False
        found = _exists(client, path, digest, scope)
        if not found:
            self.missing.add(digest)
        return found


def _stored_variant(store: Store, diff_id: str, docker: bool) -> tuple[str, str, int] | None:
    """(compression, digest, size) of a compressed form the store holds (gzip first)."""
    for compression in ("gzip",) if docker else ("gzip", "zstd"):
        known = store.content.variant(diff_id, compression)
        if known is not None:
            return compression, known[0], known[1]
    return None


def _push_layer(
    client: RegistryClient,
    store: Store,
    path: str,
    diff_id: str,
    docker: bool,
    progress: Progress,
    chunk_size: int | None,
    checked: _Checked,
) -> Descriptor:
    """Make the layer present in the target repository; its descriptor for the manifest."""
    key = Digest(diff_id).hex[:12]
    scope = f"repository:{path}:pull,push"
    known = blobinfo.sources(store.db, diff_id, client.host)
    for src in reversed(known):  # compressed forms the registry may already hold
        compression = mt.layer_compression(src.media_type) or ""
        if docker and compression == "zstd":
            continue
        desc = Descriptor(mt.layer_media_type(compression, docker), Digest(src.digest), src.size)
        if src.repository == path:
            if checked.exists(client, path, src.digest, scope):
                progress.status(key, "Layer already exists")
                return desc
            blobinfo.forget(store.db, src.digest, src.registry, src.repository)
        elif _mount(client, path, src.digest, src.repository):
            progress.status(key, f"Mounted from {src.repository}")
            _remember(store, diff_id, desc, client.host, path)
            return desc
    total = store.content.size(diff_id)

    def report(done: int) -> None:
        progress.advance(key, "Pushing", done, total)

    stored = _stored_variant(store, diff_id, docker)
    if stored is None and not chunk_size:
        try:
            digest, size = upload.upload_compressing(client, store, path, diff_id, report)
            desc = Descriptor(mt.layer_media_type("gzip", docker), Digest(digest), size)
            progress.status(key, "Pushed")
            _remember(store, diff_id, desc, client.host, path)
            return desc
        except upload.StreamFailed:
            progress.status(key, "Retrying")
    if stored is None:
        digest, size = store.content.compressed(diff_id, "gzip")
        stored = ("gzip", digest, size)
    compression, digest, size = stored
    desc = Descriptor(mt.layer_media_type(compression, docker), Digest(digest), size)
    if checked.exists(client, path, digest, scope):
        progress.status(key, "Layer already exists")
    else:
        upload.upload_blob(
            client,
            store,
            path,
            digest,
            size,
            lambda done: progress.advance(key, "Pushing", done, size),
            chunk_size,
        )
        progress.status(key, "Pushed")
    _remember(store, diff_id, desc, client.host, path)
    return desc


def _size(store: Store, digest: str) -> int:
    try:
        return store.content.size(digest)
    except NotFound:
        return 0


def _remember(store: Store, diff_id: str, desc: Descriptor, registry: str, path: str) -> None:
    blobinfo.record(
        store.db,
        blobinfo.BlobSource(diff_id, str(desc.digest), desc.size, desc.media_type, registry, path),
    )


def push_image(
    store: Store,
    client: RegistryClient,
    image: StoredImage,
    ref: reference.Reference,
    progress: Progress,
    chunk_size: int | None = None,
) -> Pushed:
    """Push `image` as `ref` (a tag); layers in parallel, the config, then the manifest."""
    if ref.tag is None:
        raise InvalidArgument(f"cannot push {ref}: no tag", hint="push NAME:TAG")
    store.db.ensure()
    path = ref.path
    scope = f"repository:{path}:pull,push"
    docker = image.manifest.media_type != mt.OCI_MANIFEST
    diff_ids = image.diff_ids
    if len(diff_ids) != len(image.layers):
        raise InvalidArgument(f"image {image.id} is inconsistent: layers and diff IDs differ")
    for diff_id in diff_ids:
        progress.status(Digest(diff_id).hex[:12], "Preparing")
    config = image.manifest.config
    checked = _Checked()

    def push_config() -> Descriptor:
        if not checked.exists(client, path, str(config.digest), scope):
            upload.upload_blob(client, store, path, str(config.digest), config.size)
        return config

    # the biggest layer first: the longest upload starts at once, small ones fill in
    order = sorted(range(len(diff_ids)), key=lambda i: -_size(store, diff_ids[i]))
    with store.lease():
        calls: list[Callable[[], Descriptor]] = [push_config]
        calls += [
            functools.partial(
                _push_layer,
                client,
                store,
                path,
                diff_ids[i],
                docker,
                progress,
                chunk_size,
                checked,
            )
            for i in order
        ]
        done = run_all(calls, PARALLEL + 1)[1:]
    layers = [done[order.index(i)] for i in range(len(diff_ids))]
    manifest = Manifest(
        config=config.replace(media_type=mt.DOCKER_CONFIG if docker else mt.OCI_CONFIG),
        layers=tuple(layers),
        media_type=mt.DOCKER_MANIFEST if docker else mt.OCI_MANIFEST,
        annotations=image.manifest.annotations,
    )
    data = manifest.to_json()
    digest = str(manifest.digest)
    resp = client.request(
        "PUT",
        f"/v2/{path}/manifests/{ref.tag}",
        scope=scope,
        body=data,
        headers={"Content-Type": manifest.media_type},
    )
    resp.close()
    if resp.status_code not in (200, 201):
        raise registry_error(resp, f"pushing the manifest of {ref}")
    store.images.add_repo_digest(image.id, f"{ref.name}@{digest}")
    return Pushed(ref.tag, digest, len(data))
