"""Blob endpoints: HEAD/GET (with Range), DELETE, and uploads (monolithic, chunked, mount)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse

from dockyard.registry_server.errors import API_HEADERS, error, is_digest
from dockyard.registry_server.storage import RegistryStorage, UploadState

SERVE_CHUNK = 4 << 20  # fewer thread hops per blob served (each chunk is read on a worker thread)
_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")
_CONTENT_RANGE_RE = re.compile(r"^(?:bytes[ =])?(\d+)-(\d+)(?:/\d+|/\*)?$")


def _headers(**extra: str) -> dict[str, str]:
    out = dict(API_HEADERS)
    out.update({k.replace("_", "-"): v for k, v in extra.items()})
    return out


def _parse_range(header: str, total: int) -> tuple[int, int] | None | str:
    """(start, end) inclusive for a satisfiable Range, None without one, "bad" otherwise."""
    m = _RANGE_RE.match(header.strip())
    if not m or (not m.group(1) and not m.group(2)):
        return "bad"
    if not m.group(1):  # suffix: the last N bytes
        n = int(m.group(2))
        if n == 0 or total == 0:
            return "bad"
        return max(total - n, 0), total - 1
    start = int(m.group(1))
    end = int(m.group(2)) if m.group(2) else total - 1
    if start >= total or end < start:
        return "bad"
    return start, min(end, total - 1)


def _file_chunks(storage: RegistryStorage, digest: str, start: int, length: int) -> Iterator[bytes]:
    with storage.open_blob(digest) as f:
        f.seek(start)
        left = length
        while left > 0:
            chunk = f.read(min(SERVE_CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk


def get_blob(request: Request, storage: RegistryStorage, name: str, digest: str) -> Response:
    if not is_digest(digest):
        return error(400 if ":" not in digest else 404, "DIGEST_INVALID" if ":" not in digest
                     else "BLOB_UNKNOWN", detail={"digest": digest})
    if not storage.blob_in_repo(name, digest):
        return error(404, "BLOB_UNKNOWN", detail={"digest": digest})
    total = storage.blob_size(digest)
    headers = _headers(Docker_Content_Digest=digest, Accept_Ranges="bytes", ETag=f'"{digest}"')
    headers["Content-Type"] = "application/octet-stream"
    start, length, status = 0, total, 200
    rng = request.headers.get("range")
    if rng:
        parsed = _parse_range(rng, total)
        if parsed == "bad":
            return error(416, "BLOB_UNKNOWN", headers={"Content-Range": f"bytes */{total}"},
                         message="requested range not satisfiable")
        if isinstance(parsed, tuple):
            start, end = parsed
            length, status = end - start + 1, 206
            headers["Content-Range"] = f"bytes {start}-{end}/{total}"
    headers["Content-Length"] = str(length)
    if request.method == "HEAD":
        return Response(b"", status_code=status, headers=headers)
    return StreamingResponse(_file_chunks(storage, digest, start, length), status_code=status,
                             headers=headers)


def delete_blob(storage: RegistryStorage, name: str, digest: str) -> Response:
    if not is_digest(digest):
        return error(400, "DIGEST_INVALID", detail={"digest": digest})
    if not storage.unlink_blob(name, digest):
        return error(404, "BLOB_UNKNOWN", detail={"digest": digest})
    return Response(b"", status_code=202, headers=_headers(Docker_Content_Digest=digest))


# -- uploads ---------------------------------------------------------------------------------


def _upload_headers(name: str, upload_id: str, size: int) -> dict[str, str]:
    return _headers(
        Location=f"/v2/{name}/blobs/uploads/{upload_id}",
        Range=f"0-{max(size - 1, 0)}",
        Docker_Upload_UUID=upload_id,
    )


async def _receive(request: Request, state: UploadState) -> int:
    """Append the request body to the upload, hashing as it goes; returns bytes received."""
    received = 0
    with open(state.path, "ab") as f:
        offset = f.tell()
        try:
            async for chunk in request.stream():
                if not chunk:
                    continue
                f.write(chunk)
                if state.hashed == offset:
                    state.hasher.update(chunk)
                    state.hashed += len(chunk)
                offset += len(chunk)
                received += len(chunk)
        except ClientDisconnect:
            pass
    return received


def _created(name: str, digest: str) -> Response:
    headers = _headers(Location=f"/v2/{name}/blobs/{digest}", Docker_Content_Digest=digest)
    headers["Content-Length"] = "0"
    return Response(b"", status_code=201, headers=headers)


async def start_upload(request: Request, storage: RegistryStorage, name: str) -> Response:
    params = request.query_params
    mount, source = params.get("mount"), params.get("from")
    if mount and is_digest(mount):
        known = storage.blob_in_repo(source, mount) if source else storage.blob_anywhere(mount)
        if known:
            storage.link_blob(name, mount)
            return _created(name, mount)
    algorithm = params.get("digest-algorithm")
    if algorithm and algorithm != "sha256":
        return error(400, "UNSUPPORTED", detail={"digest-algorithm": algorithm},
                     message="only sha256 digests are supported")
    digest = params.get("digest")
    if digest is not None and not is_digest(digest):
        return error(400, "DIGEST_INVALID", detail={"digest": digest})
    upload_id = storage.start_upload(name)
    if digest is not None:  # monolithic upload in one POST
        state = storage.upload(name, upload_id)
        assert state is not None
        await _receive(request, state)
        return _finish(storage, name, upload_id, state, digest)
    headers = _upload_headers(name, upload_id, 0)
    headers["Content-Length"] = "0"
    return Response(b"", status_code=202, headers=headers)


def _finish(
    storage: RegistryStorage, name: str, upload_id: str, state: UploadState, digest: str
) -> Response:
    if not storage.finish_upload(name, upload_id, state, digest):
        storage.cancel_upload(upload_id)
        return error(400, "DIGEST_INVALID", detail={"digest": digest})
    return _created(name, digest)


def _check_content_range(request: Request, state: UploadState, name: str,
                         upload_id: str) -> Response | None:
    """416 with the current Range when a chunk does not start where the upload ends."""
    header = request.headers.get("content-range")
    if not header:
        return None
    m = _CONTENT_RANGE_RE.match(header.strip())
    size = state.size()
    if not m or int(m.group(1)) != size or int(m.group(2)) < int(m.group(1)):
        return error(416, "BLOB_UPLOAD_INVALID", headers=_upload_headers(name, upload_id, size),
                     detail={"content-range": header, "size": size},
                     message="chunk out of order or invalid Content-Range")
    return None


async def upload(request: Request, storage: RegistryStorage, name: str,
                 upload_id: str) -> Response:
    """PATCH (a chunk), PUT (close, optionally with a last chunk), GET (status), DELETE."""
    state = storage.upload(name, upload_id)
    if state is None:
        return error(404, "BLOB_UPLOAD_UNKNOWN", detail={"uuid": upload_id})
    method = request.method
    if method == "DELETE":
        storage.cancel_upload(upload_id)
        return Response(b"", status_code=204, headers=_headers())
    if method == "GET":
        headers = _upload_headers(name, upload_id, state.size())
        return Response(b"", status_code=204, headers=headers)
    bad = _check_content_range(request, state, name, upload_id)
    if bad is not None:
        return bad
    if method == "PATCH":
        await _receive(request, state)
        headers = _upload_headers(name, upload_id, state.size())
        headers["Content-Length"] = "0"
        return Response(b"", status_code=202, headers=headers)
    digest = request.query_params.get("digest")
    if not digest or not is_digest(digest):
        await _receive(request, state)
        return error(400, "DIGEST_INVALID", detail={"digest": digest},
                     message="a digest query parameter (sha256:<hex>) is required to close an upload")
    await _receive(request, state)
    return _finish(storage, name, upload_id, state, digest)
