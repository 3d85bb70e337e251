"""Pull an image from a registry into the store: layers stored uncompressed, every digest verified.

Layers are decompressed while they download (the compressed digest and the diff ID are
both checked before anything is published), several at a time, resuming with a Range
request when a connection drops.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from dockyard import reference
from dockyard.errors import InvalidArgument, NotFound, Unavailable
from dockyard.oci import mediatypes as mt
from dockyard.oci.config import ImageConfig
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.oci.index import Index, parse_document
from dockyard.oci.manifest import Manifest
from dockyard.oci.platform import Platform
from dockyard.store import Store
from dockyard.transports.registry import blobinfo
from dockyard.transports.registry.client import RegistryClient, registry_error
from dockyard.transports.registry.progress import Progress

ACCEPT = ", ".join([mt.OCI_INDEX, mt.OCI_MANIFEST, mt.DOCKER_MANIFEST_LIST, mt.DOCKER_MANIFEST])
MAX_MANIFEST = 4 << 20
MAX_CONFIG = 32 << 20
PARALLEL = 3
OUT_CHUNK = 4 << 20


@dataclass(frozen=True)
class Pulled:
    image_id: str
    remote_digest: str  # the digest of what the reference named (index or manifest)
    name: str | None  # the tag name stored, if any
    new: bool


class Decompressor:
    """Push-style decompression of gzip (ISA-L), zstd or nothing, decided by the first bytes."""

    def __init__(self, kind: str | None) -> None:
        self.kind = kind
        self._d: Any = None

    def _new(self) -> Any:
        if self.kind == "gzip":
            from isal import isal_zlib

            return isal_zlib.decompressobj(wbits=31)
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj()

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self.kind is None:
            self.kind = "gzip" if data[:2] == b"\x1f\x8b" else (
                "zstd" if data[:4] == b"\x28\xb5\x2f\xfd" else "")
        if not self.kind:
            yield data
            return
        while data:
            if self._d is None:
                self._d = self._new()
            if self.kind == "gzip":
                out = self._d.decompress(data, OUT_CHUNK)
                yield out
                while self._d.unconsumed_tail:
                    yield self._d.decompress(self._d.unconsumed_tail, OUT_CHUNK)
            else:
                yield self._d.decompress(data)
            if self._d.eof:  # a member/frame ended: the rest starts another one
                data = self._d.unused_data
                self._d = None
            else:
                data = b""

    def finish(self) -> bytes:
        if self.kind == "gzip" and self._d is not None:
            if not self._d.eof:
                raise InvalidArgument("layer ends in the middle of a gzip stream")
            return bytes(self._d.flush())
        return b""


def _fetch_manifest(client: RegistryClient, path: str, ref: str, scope: str,
                    expected: str | None) -> tuple[bytes, str, str]:
    """(bytes, media type, digest) of a manifest, verified against `expected` if given."""
    resp = client.request("GET", f"/v2/{path}/manifests/{ref}", scope=scope,
                          headers={"Accept": ACCEPT})
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
        raise InvalidArgument(f"{exc.message} (from {path})",
                              hint="the registry served corrupt content; nothing was stored") from exc
    return data


def _download_layer(store: Store, client: RegistryClient, path: str, scope: str,
                    desc: Descriptor, diff_id: str, key: str, progress: Progress) -> None:
    """Stream one layer into the store uncompressed; both digests verified, resumes on drops."""
    kind = mt.layer_compression(desc.media_type)
    decomp = Decompressor(kind if kind is not None else None)
    hasher = hashlib.sha256()
    received = 0
    failures = 0
    broken: Exception | None = None
    with store.content.writer(expected=diff_id) as out:
        while True:
            headers = {"Range": f"bytes={received}-"} if received else {}
            try:
                resp = client.request("GET", f"/v2/{path}/blobs/{desc.digest}", scope=scope,
                                      headers=headers, stream=True)
                try:
                    if resp.status_code not in (200, 206) or (received and resp.status_code != 206):
                        resp.read()
                        raise registry_error(resp, f"layer {desc.digest} of {path}")
                    for chunk in resp.iter_bytes(1 << 20):
                        hasher.update(chunk)
                        received += len(chunk)
                        if received > desc.size:
                            break
                        if broken is None:
                            try:
                                for piece in decomp.feed(chunk):
                                    out.write(piece)
                            except Exception as exc:  # isal/zstd/zlib errors: corrupt data
                                broken = exc  # keep hashing: the digest check explains it
                        progress.advance(key, "Downloading", received, desc.size)
                finally:
                    resp.close()
                break
            except httpx.TransportError as exc:
                failures += 1
                if failures > client.options.retries:
                    raise Unavailable(
                        f"downloading layer {desc.digest} of {path} failed after"
                        f" {failures} tries: {exc}", hint="check the network and pull again",
                    ) from exc
                progress.status(key, f"Retrying in {failures} second(s)")
                time.sleep(min(failures * client.options.backoff * 2, 5))
        got = "sha256:" + hasher.hexdigest()
        if received != desc.size or got != desc.digest:
            raise InvalidArgument(
                f"layer {desc.digest} of {path}: downloaded content does not match its digest"
                f" (got {got}, {received} of {desc.size} bytes)",
                hint="the registry served corrupt content; nothing was stored",
            )
        progress.status(key, "Verifying Checksum")
        try:
            if broken is not None:
                raise broken
            out.write(decomp.finish())
        except Exception as exc:
            raise InvalidArgument(
                f"layer {desc.digest} of {path} cannot be decompressed"
                f" ({decomp.kind or 'tar'}): {exc}",
                hint="the image is corrupt; nothing was stored",
            ) from exc
        try:
            out.commit()
        except InvalidArgument as exc:
            raise InvalidArgument(
                f"layer {desc.digest} of {path}: uncompressed content does not match the"
                f" config's diff ID {diff_id}",
                hint="the image is corrupt; nothing was stored",
            ) from exc
    progress.status(key, "Download complete")


def _pick_manifest(client: RegistryClient, path: str, ref: str, scope: str,
                   platform: str | None) -> tuple[Manifest, bytes, str, str]:
    """(manifest, its bytes, its digest, the digest the reference named)."""
    expected = ref if ":" in ref else None
    data, content_type, digest = _fetch_manifest(client, path, ref, scope, expected)
    named = digest
    doc = parse_document(data, content_type or None)
    if isinstance(doc, Index):
        want = Platform.parse(platform) if platform else None
        chosen = doc.select(want)
        data, content_type, digest = _fetch_manifest(client, path, str(chosen.digest), scope,
                                                     str(chosen.digest))
        doc = parse_document(data, content_type or None)
        if not isinstance(doc, Manifest):
            raise InvalidArgument(f"{path}: nested image indexes are not supported")
    return doc, data, digest, named


def pull_image(store: Store, client: RegistryClient, ref: reference.Reference,
               progress: Progress, platform: str | None = None) -> Pulled:
    """Pull one reference (tag or digest) into the store; returns what was stored."""
    path = ref.path
    scope = f"repository:{path}:pull"
    tag_or_digest = str(ref.digest) if ref.digest else (ref.tag or "latest")
    store.db.ensure()
    manifest, _, _, named = _pick_manifest(client, path, tag_or_digest, scope, platform)
    progress.message(f"{ref.digest or ref.tag}: Pulling from {_familiar_repo(ref)}")
    config_bytes = _fetch_small_blob(client, path, manifest.config, scope)
    config = ImageConfig.from_json(config_bytes)
    diff_ids = [str(d) for d in config.rootfs.diff_ids] if config.rootfs else []
    layers = [d for d in manifest.layers]
    if len(diff_ids) != len(layers):
        raise InvalidArgument(
            f"{path}: the manifest has {len(layers)} layers but the config lists"
            f" {len(diff_ids)} diff IDs", hint="the image is corrupt",
        )
    with store.lease():
        _fetch_layers(store, client, path, scope, layers, diff_ids, progress)
        return _record(store, client, ref, manifest, config_bytes, diff_ids, named)


def _fetch_layers(store: Store, client: RegistryClient, path: str, scope: str,
                  layers: list[Descriptor], diff_ids: list[str], progress: Progress) -> None:
    todo = []
    for desc, diff_id in zip(layers, diff_ids, strict=True):
        key = desc.digest.hex[:12]
        if store.content.has(diff_id):
            progress.status(key, "Already exists")
        else:
            progress.status(key, "Pulling fs layer")
            todo.append((desc, diff_id, key))
    if todo:
        with ThreadPoolExecutor(max_workers=min(PARALLEL, len(todo))) as pool:
            futures = [
                pool.submit(_download_layer, store, client, path, scope, desc, diff_id, key,
                            progress)
                for desc, diff_id, key in todo
            ]
            for f in futures:
                f.result()
        for _, _, key in todo:
            progress.status(key, "Pull complete")
    for desc, diff_id in zip(layers, diff_ids, strict=True):
        if mt.layer_compression(desc.media_type) is not None:
            blobinfo.record(store.db, blobinfo.BlobSource(
                diff_id, str(desc.digest), desc.size, desc.media_type, client.host, path))


def _record(store: Store, client: RegistryClient, ref: reference.Reference, manifest: Manifest,
            config_bytes: bytes, diff_ids: list[str], named: str) -> Pulled:
    config_digest = store.content.write_bytes(config_bytes, expected=str(manifest.config.digest))
    docker = manifest.media_type == mt.DOCKER_MANIFEST
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
    store.images.add(local_digest, config_digest, [name] if name else [],
                     repo_digests=[repo_digest])
    return Pulled(config_digest, named, name, new=not before)


def _existing(store: Store, name: str | None, image_id: str) -> bool:
    if name is None:
        return bool(store.db.query("SELECT 1 FROM images WHERE id = ?", (image_id,)))
    rows = store.db.query(
        "SELECT m.image_id FROM image_names n JOIN image_manifests m"
        " ON n.manifest_digest = m.digest WHERE n.name = ?", (name,))
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
        tags += [str(t) for t in (resp.json().get("tags") or [])]
        link = resp.headers.get("link", "")
        url = link[link.find("<") + 1:link.find(">")] if 'rel="next"' in link else ""
    if not tags:
        raise NotFound(f"repository {path} has no tags")
    return tags
