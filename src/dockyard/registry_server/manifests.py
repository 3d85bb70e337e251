"""Manifest endpoints (GET/HEAD/PUT/DELETE by tag or digest), tag lists, catalog, referrers."""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from dockyard.errors import InvalidArgument
from dockyard.oci import mediatypes as mt
from dockyard.oci.index import Index, parse_document
from dockyard.oci.manifest import Manifest
from dockyard.registry_server.errors import (
    ANY_DIGEST_RE,
    API_HEADERS,
    TAG_RE,
    error,
    is_digest,
)
from dockyard.registry_server.storage import ManifestRow, RegistryStorage

MAX_MANIFEST = 4 << 20  # as distribution: 4 MiB


def _headers(**extra: str) -> dict[str, str]:
    out = dict(API_HEADERS)
    out.update({k.replace("_", "-"): v for k, v in extra.items()})
    return out


def _resolve(storage: RegistryStorage, name: str, ref: str) -> ManifestRow | Response:
    if ":" in ref:
        if not is_digest(ref):
            return error(400 if not ANY_DIGEST_RE.match(ref) else 404,
                         "DIGEST_INVALID" if not ANY_DIGEST_RE.match(ref) else "MANIFEST_UNKNOWN",
                         detail={"digest": ref})
        digest: str | None = ref
    else:
        if not TAG_RE.match(ref):
            return error(400, "MANIFEST_INVALID", detail={"tag": ref}, message="invalid tag")
        digest = storage.tag_digest(name, ref)
    row = storage.manifest(name, digest) if digest else None
    if row is None:
        if not storage.repo_exists(name):
            return error(404, "NAME_UNKNOWN", detail={"name": name})
        return error(404, "MANIFEST_UNKNOWN", detail={"reference": ref})
    return row


def get_manifest(request: Request, storage: RegistryStorage, name: str, ref: str) -> Response:
    row = _resolve(storage, name, ref)
    if isinstance(row, Response):
        return row
    headers = _headers(Docker_Content_Digest=row.digest, ETag=f'"{row.digest}"')
    headers["Content-Type"] = row.media_type
    if request.method == "HEAD":
        headers["Content-Length"] = str(row.size)
        return Response(b"", status_code=200, headers=headers)
    return Response(storage.content.read_bytes(row.digest), status_code=200, headers=headers)


def _missing_blobs(storage: RegistryStorage, name: str, doc: Manifest | Index) -> list[str]:
    missing: list[str] = []
    if isinstance(doc, Manifest):
        for desc in (doc.config, *doc.layers):
            if desc.urls and mt.is_nondistributable(desc.media_type):
                continue
            if not storage.blob_in_repo(name, str(desc.digest)):
                missing.append(str(desc.digest))
    else:
        for desc in doc.manifests:
            if storage.manifest(name, str(desc.digest)) is None:
                missing.append(str(desc.digest))
    return missing


def _row_for(name: str, digest: str, data: bytes, media_type: str,
             doc: Manifest | Index) -> ManifestRow:
    artifact_type = doc.artifact_type or None
    if isinstance(doc, Manifest) and not artifact_type:
        artifact_type = doc.config.media_type
    return ManifestRow(
        repo=name, digest=digest, media_type=media_type, size=len(data),
        subject=str(doc.subject.digest) if doc.subject is not None else None,
        artifact_type=artifact_type,
        annotations=json.dumps(doc.annotations) if doc.annotations else None,
    )


async def put_manifest(request: Request, storage: RegistryStorage, name: str, ref: str) -> Response:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_MANIFEST:
        return error(413, "SIZE_INVALID", detail={"limit": MAX_MANIFEST},
                     message=f"manifest is larger than {MAX_MANIFEST} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_MANIFEST:
            return error(413, "SIZE_INVALID", detail={"limit": MAX_MANIFEST},
                         message=f"manifest is larger than {MAX_MANIFEST} bytes")
    data = bytes(body)
    content_type = mt.base(request.headers.get("content-type", ""))
    try:
        doc = parse_document(data, content_type or None)
    except InvalidArgument as exc:
        return error(400, "MANIFEST_INVALID", detail={"reason": exc.message})
    media_type = doc.effective_media_type  # the body's, else the Content-Type, else OCI's
    if doc.media_type and content_type and content_type != doc.media_type and \
            content_type != "application/octet-stream":
        return error(400, "MANIFEST_INVALID",
                     detail={"reason": "Content-Type does not match the manifest's mediaType"})
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    tags: list[str] = []
    if ":" in ref:
        if not is_digest(ref):
            return error(400, "DIGEST_INVALID", detail={"digest": ref})
        if ref != digest:
            return error(400, "DIGEST_INVALID", detail={"expected": ref, "actual": digest})
    elif TAG_RE.match(ref):
        tags.append(ref)
    else:
        return error(400, "MANIFEST_INVALID", detail={"tag": ref}, message="invalid tag")
    for extra in request.query_params.getlist("tag"):
        if not TAG_RE.match(extra):
            return error(400, "MANIFEST_INVALID", detail={"tag": extra}, message="invalid tag")
        tags.append(extra)
    missing = _missing_blobs(storage, name, doc)
    if missing:
        return error(400, "MANIFEST_BLOB_UNKNOWN", detail={"digest": missing[0]})
    row = _row_for(name, digest, data, media_type, doc)
    storage.put_manifest(row, data, tags)
    headers = _headers(Location=f"/v2/{name}/manifests/{digest}", Docker_Content_Digest=digest)
    if row.subject:
        headers["OCI-Subject"] = row.subject
    if tags:
        headers["OCI-Tag"] = tags[0]
    headers["Content-Length"] = "0"
    return Response(b"", status_code=201, headers=headers)


def delete_manifest(storage: RegistryStorage, name: str, ref: str) -> Response:
    if ":" in ref:
        if not is_digest(ref):
            return error(400, "DIGEST_INVALID", detail={"digest": ref})
        found = storage.delete_manifest(name, ref)
    else:
        if not TAG_RE.match(ref):
            return error(400, "MANIFEST_INVALID", detail={"tag": ref}, message="invalid tag")
        found = storage.delete_tag(name, ref)
    if not found:
        return error(404, "MANIFEST_UNKNOWN", detail={"reference": ref})
    return Response(b"", status_code=202, headers=_headers())


def _page(items: list[str], request: Request, base: str) -> tuple[list[str], str | None]:
    """Apply `n` and `last`; the Link header for the next page, if any."""
    last = request.query_params.get("last")
    if last:
        items = [i for i in items if i > last]
    n_text = request.query_params.get("n")
    if n_text is None or not n_text.isdigit():
        return items, None
    n = int(n_text)
    if n == 0:
        return [], None
    if len(items) > n:
        items = items[:n]
        return items, f'<{base}?n={n}&last={quote(items[-1])}>; rel="next"'
    return items, None


def _json(body: Any, headers: dict[str, str], media_type: str = "application/json") -> Response:
    return Response(json.dumps(body), status_code=200, headers=headers, media_type=media_type)


def list_tags(request: Request, storage: RegistryStorage, name: str) -> Response:
    if not storage.repo_exists(name):
        return error(404, "NAME_UNKNOWN", detail={"name": name})
    tags, link = _page(storage.tags(name), request, f"/v2/{name}/tags/list")
    headers = _headers(**({"Link": link} if link else {}))
    return _json({"name": name, "tags": tags}, headers)


def catalog(request: Request, storage: RegistryStorage) -> Response:
    repos, link = _page(storage.repositories(), request, "/v2/_catalog")
    headers = _headers(**({"Link": link} if link else {}))
    return _json({"repositories": repos}, headers)


def referrers(request: Request, storage: RegistryStorage, name: str, digest: str) -> Response:
    if not is_digest(digest):
        return error(400, "DIGEST_INVALID", detail={"digest": digest})
    wanted = request.query_params.get("artifactType")
    rows = storage.referrers(name, digest)
    headers = _headers()
    if wanted:
        rows = [r for r in rows if r.artifact_type == wanted]
        headers["OCI-Filters-Applied"] = "artifactType"
    manifests = []
    for r in rows:
        desc: dict[str, Any] = {"mediaType": r.media_type, "digest": r.digest, "size": r.size}
        if r.artifact_type:
            desc["artifactType"] = r.artifact_type
        if r.annotations:
            desc["annotations"] = json.loads(r.annotations)
        manifests.append(desc)
    body = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": manifests}
    return _json(body, headers, media_type=mt.OCI_INDEX)
