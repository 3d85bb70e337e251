"""Push an image from the store to a registry: HEAD first, mount across repositories, manifest last.

Layers are compressed once (the content store remembers the gzip variant), or not at all
when the registry already holds a compressed form the store knows about from a pull.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlencode, urljoin

from dockyard import reference
from dockyard.errors import InvalidArgument
from dockyard.image import StoredImage
from dockyard.oci import mediatypes as mt
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.oci.manifest import Manifest
from dockyard.store import Store
from dockyard.transports.registry import blobinfo
from dockyard.transports.registry.client import RegistryClient, registry_error
from dockyard.transports.registry.progress import Progress

PARALLEL = 3
READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class Pushed:
    tag: str
    digest: str
    size: int


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


def _file_body(store: Store, digest: str, start: int = 0, length: int | None = None,
               on_progress: object = None) -> Iterator[bytes]:
    sent = 0
    with store.content.open(digest) as f:
        f.seek(start)
        left = length if length is not None else -1
        while left != 0:
            chunk = f.read(READ_CHUNK if left < 0 else min(READ_CHUNK, left))
            if not chunk:
                break
            if left > 0:
                left -= len(chunk)
            sent += len(chunk)
            if callable(on_progress):
                on_progress(sent)
            yield chunk


def _chunk_body(store: Store, digest: str, start: int, length: int,
                report: Callable[[int, int], None]) -> Callable[[], Iterator[bytes]]:
    def body() -> Iterator[bytes]:
        return _file_body(store, digest, start, length, lambda done: report(done, start))

    return body


def upload_blob(client: RegistryClient, store: Store, path: str, digest: str, size: int,
                progress: Progress | None = None, key: str = "",
                chunk_size: int | None = None) -> None:
    """Upload a stored blob: POST, then one PUT with the body (or PATCH chunks + PUT)."""
    scope = f"repository:{path}:pull,push"
    resp = client.request("POST", f"/v2/{path}/blobs/uploads/", scope=scope,
                          headers={"Content-Length": "0"})
    resp.close()
    if resp.status_code not in (201, 202):
        raise registry_error(resp, f"starting an upload to {path}")
    location = urljoin(client.base_url() + f"/v2/{path}/blobs/uploads/",
                       resp.headers.get("location", ""))

    def report(done: int, base: int = 0) -> None:
        if progress is not None:
            progress.advance(key, "Pushing", base + done, size)

    offset = 0
    if chunk_size and size > chunk_size:
        while offset < size:
            n = min(chunk_size, size - offset)
            start = offset
            headers = {"Content-Type": "application/octet-stream", "Content-Length": str(n),
                       "Content-Range": f"{start}-{start + n - 1}"}
            resp = client.request("PATCH", location, scope=scope, headers=headers,
                                  body=_chunk_body(store, digest, start, n, report))
            resp.close()
            if resp.status_code != 202:
                raise registry_error(resp, f"uploading a chunk of {digest} to {path}")
            location = urljoin(location, resp.headers.get("location", location))
            offset += n
    sep = "&" if "?" in location else "?"
    put_url = f"{location}{sep}digest={digest}"
    if offset >= size and chunk_size and size > chunk_size:
        resp = client.request("PUT", put_url, scope=scope, headers={"Content-Length": "0"})
    else:
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        resp = client.request("PUT", put_url, scope=scope, headers=headers,
                              body=lambda: _file_body(store, digest, on_progress=report))
    resp.close()
    if resp.status_code != 201:
        raise registry_error(resp, f"uploading blob {digest} to {path}")


def _push_layer(client: RegistryClient, store: Store, path: str, diff_id: str, docker: bool,
                progress: Progress, chunk_size: int | None) -> Descriptor:
    """Make the layer present in the target repository; its descriptor for the manifest."""
    key = Digest(diff_id).hex[:12]
    scope = f"repository:{path}:pull,push"
    known = blobinfo.sources(store.db, diff_id, client.host)
    for src in reversed(known):  # compressed forms the registry may already hold
        compression = mt.layer_compression(src.media_type) or ""
        desc = Descriptor(mt.layer_media_type(compression, docker), Digest(src.digest), src.size)
        if src.repository == path:
            if _exists(client, path, src.digest, scope):
                progress.status(key, "Layer already exists")
                return desc
            blobinfo.forget(store.db, src.digest, src.registry, src.repository)
        elif _mount(client, path, src.digest, src.repository):
            progress.status(key, f"Mounted from {src.repository}")
            _remember(store, diff_id, desc, client.host, path)
            return desc
    progress.status(key, "Preparing")
    digest, size = store.content.compressed(diff_id, "gzip")
    desc = Descriptor(mt.layer_media_type("gzip", docker), Digest(digest), size)
    if _exists(client, path, digest, scope):
        progress.status(key, "Layer already exists")
    else:
        upload_blob(client, store, path, digest, size, progress, key, chunk_size)
        progress.status(key, "Pushed")
    _remember(store, diff_id, desc, client.host, path)
    return desc


def _remember(store: Store, diff_id: str, desc: Descriptor, registry: str, path: str) -> None:
    blobinfo.record(store.db, blobinfo.BlobSource(
        diff_id, str(desc.digest), desc.size, desc.media_type, registry, path))


def push_image(store: Store, client: RegistryClient, image: StoredImage,
               ref: reference.Reference, progress: Progress,
               chunk_size: int | None = None) -> Pushed:
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
    with store.lease():
        if diff_ids:
            with ThreadPoolExecutor(max_workers=min(PARALLEL, len(diff_ids))) as pool:
                futures = [pool.submit(_push_layer, client, store, path, d, docker, progress,
                                       chunk_size) for d in diff_ids]
                layers = [f.result() for f in futures]
        else:
            layers = []
        config = image.manifest.config
        if not _exists(client, path, str(config.digest), scope):
            upload_blob(client, store, path, str(config.digest), config.size)
    manifest = Manifest(
        config=config.replace(media_type=mt.DOCKER_CONFIG if docker else mt.OCI_CONFIG),
        layers=tuple(layers),
        media_type=mt.DOCKER_MANIFEST if docker else mt.OCI_MANIFEST,
        annotations=image.manifest.annotations,
    )
    data = manifest.to_json()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    resp = client.request("PUT", f"/v2/{path}/manifests/{ref.tag}", scope=scope, body=data,
                          headers={"Content-Type": manifest.media_type})
    resp.close()
    if resp.status_code not in (200, 201):
        raise registry_error(resp, f"pushing the manifest of {ref}")
    store.images.add_repo_digest(image.id, f"{ref.name}@{digest}")
    return Pushed(ref.tag, digest, len(data))
