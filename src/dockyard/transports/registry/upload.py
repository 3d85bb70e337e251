"""Blob uploads: a stored blob (one PUT, or PATCH chunks), or a layer gzipped while it uploads.

The streamed form is what `docker push` does the first time: the layer is compressed
(ISA-L, every core) on a thread into a bounded queue that feeds one chunked PATCH, while
the same bytes go into the store as the layer's gzip variant; the digest, known only
at the end, closes the upload with PUT ?digest=. Compression and upload overlap.
"""

from __future__ import annotations

import functools
import os
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urljoin

from dockyard.bigbuffers import reuse_big_buffers
from dockyard.store import Store
from dockyard.store.content import ContentWriter
from dockyard.transports.registry.client import RegistryClient, registry_error

READ_CHUNK = 1 << 20
QUEUE_DEPTH = 8
_END = object()

Report = Callable[[int], None]


class StreamFailed(Exception):
    """The streamed upload could not finish (the caller falls back to a stored variant)."""


def start(client: RegistryClient, path: str, scope: str) -> str:
    """POST a new upload session; its absolute location."""
    resp = client.request(
        "POST", f"/v2/{path}/blobs/uploads/", scope=scope, headers={"Content-Length": "0"}
    )
    resp.close()
    if resp.status_code not in (201, 202):
        raise registry_error(resp, f"starting an upload to {path}")
    return urljoin(
        client.base_url() + f"/v2/{path}/blobs/uploads/", resp.headers.get("location", "")
    )


def _with_digest(location: str, digest: str) -> str:
    return f"{location}{'&' if '?' in location else '?'}digest={digest}"


def _file_body(
    store: Store,
    digest: str,
    start_at: int = 0,
    length: int | None = None,
    report: Report | None = None,
) -> Iterator[bytes]:
    sent = 0
    with store.content.open(digest) as f:
        f.seek(start_at)
        left = length if length is not None else -1
        while left != 0:
            chunk = f.read(READ_CHUNK if left < 0 else min(READ_CHUNK, left))
            if not chunk:
                break
            if left > 0:
                left -= len(chunk)
            sent += len(chunk)
            if report is not None:
                report(start_at + sent)
            yield chunk


def upload_blob(
    client: RegistryClient,
    store: Store,
    path: str,
    digest: str,
    size: int,
    report: Report | None = None,
    chunk_size: int | None = None,
) -> None:
    """Upload a stored blob: POST, then one PUT with the body (or PATCH chunks + PUT)."""
    if size > READ_CHUNK:
        reuse_big_buffers()
    scope = f"repository:{path}:pull,push"
    location = start(client, path, scope)
    offset = 0
    if chunk_size and size > chunk_size:
        while offset < size:
            n = min(chunk_size, size - offset)
            begin = offset
            headers = {
                "Content-Type": "application/octet-stream",
                "Content-Length": str(n),
                "Content-Range": f"{begin}-{begin + n - 1}",
            }
            resp = client.request(
                "PATCH",
                location,
                scope=scope,
                headers=headers,
                body=functools.partial(_file_body, store, digest, begin, n, report),
            )
            resp.close()
            if resp.status_code != 202:
                raise registry_error(resp, f"uploading a chunk of {digest} to {path}")
            location = urljoin(location, resp.headers.get("location", location))
            offset += n
        resp = client.request(
            "PUT", _with_digest(location, digest), scope=scope, headers={"Content-Length": "0"}
        )
    else:
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        resp = client.request(
            "PUT",
            _with_digest(location, digest),
            scope=scope,
            headers=headers,
            body=lambda: _file_body(store, digest, report=report),
        )
    resp.close()
    if resp.status_code != 201:
        raise registry_error(resp, f"uploading blob {digest} to {path}")


class _GzipPipe:
    """Gzips a stored blob on threads into a bounded queue of chunks, copying them to `keep`."""

    def __init__(
        self, store: Store, digest: str, keep: ContentWriter, report: Report | None
    ) -> None:
        self.store, self.digest, self.keep, self.report = store, digest, keep, report
        self.error: BaseException | None = None
        self.cancelled = False
        self.read = 0
        self._q: queue.Queue[Any] = queue.Queue(QUEUE_DEPTH)
        self._thread = threading.Thread(target=self._run, name="gzip-" + digest[7:19], daemon=True)
        self._thread.start()

    # the file-like sink igzip_threaded writes compressed blocks to
    def write(self, data: bytes | bytearray | memoryview) -> int:
        chunk = bytes(data)
        self.keep.write(chunk)
        self._put(chunk)
        return len(chunk)

    def flush(self) -> None:
        pass

    def _put(self, item: Any) -> None:
        while True:
            if self.cancelled:
                raise StreamFailed("upload cancelled")
            try:
                self._q.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def _run(self) -> None:
        from isal import igzip_threaded

        try:
            with (
                self.store.content.open(self.digest) as src,
                igzip_threaded.open(self, "wb", threads=os.cpu_count() or 1) as gz,
            ):
                while chunk := src.read(READ_CHUNK):
                    gz.write(chunk)
                    self.read += len(chunk)
                    if self.report is not None:
                        self.report(self.read)
        except BaseException as exc:
            self.error = exc
        finally:
            try:
                self._put(_END)
            except StreamFailed:
                pass

    def chunks(self) -> Iterator[bytes]:
        while (item := self._q.get()) is not _END:
            yield item
        if self.error is not None:
            raise StreamFailed(f"compressing {self.digest} failed: {self.error}")

    def close(self) -> None:
        """Stop the compressor (if still running) and wait for it."""
        self.cancelled = True
        while self._thread.is_alive():
            try:
                self._q.get(timeout=0.05)
            except queue.Empty:
                pass
        self._thread.join()


def upload_compressing(
    client: RegistryClient, store: Store, path: str, diff_id: str, report: Report | None = None
) -> tuple[str, int]:
    """Gzip the stored layer `diff_id` while uploading it; stores and records the gzip
    variant; returns (digest, size). StreamFailed when the stream could not finish
    (nothing is recorded then; the caller retries the ordinary way)."""
    reuse_big_buffers()
    scope = f"repository:{path}:pull,push"
    location = start(client, path, scope)
    with store.content.writer() as keep:
        pipe = _GzipPipe(store, diff_id, keep, report)
        used = False

        def body() -> Iterator[bytes]:
            nonlocal used
            if used:  # a retry would need the stream again: let the caller fall back
                raise StreamFailed("the registry asked for the layer twice")
            used = True
            return pipe.chunks()

        try:
            resp = client.request(
                "PATCH",
                location,
                scope=scope,
                body=body,
                headers={"Content-Type": "application/octet-stream"},
            )
            resp.close()
        finally:
            pipe.close()
        if pipe.error is not None:
            raise StreamFailed(f"compressing {diff_id} failed: {pipe.error}")
        if resp.status_code != 202:
            raise StreamFailed(str(registry_error(resp, f"uploading {diff_id} to {path}")))
        digest = keep.commit()
        size = keep.size
    store.content.record_variant(diff_id, "gzip", digest, size)
    location = urljoin(location, resp.headers.get("location", location))
    resp = client.request(
        "PUT", _with_digest(location, digest), scope=scope, headers={"Content-Length": "0"}
    )
    resp.close()
    if resp.status_code != 201:
        raise registry_error(resp, f"uploading blob {digest} to {path}")
    return digest, size
