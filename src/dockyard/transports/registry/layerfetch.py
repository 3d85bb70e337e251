"""Download one layer into the store: network, decompression and writing run as a pipeline.

Three threads per layer (the download, the decompressor, the writer that hashes the
uncompressed bytes) joined by small bounded queues, so memory stays flat and the
CPU-heavy steps (isal/zstd inflate, sha256) overlap: both release the GIL. The
upstream compressed blob is kept in the store too (a remembered variant of the layer),
so that pushing the image later reuses it instead of compressing again.
"""

from __future__ import annotations

import hashlib
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

from dockyard.errors import InvalidArgument, Unavailable
from dockyard.oci import mediatypes as mt
from dockyard.oci.descriptor import Descriptor
from dockyard.store import Store
from dockyard.store.content import ContentWriter
from dockyard.transports.registry.client import RegistryClient, registry_error
from dockyard.transports.registry.http import TransportError
from dockyard.transports.registry.progress import Progress

OUT_CHUNK = 4 << 20
FEED_CHUNK = 1 << 20
QUEUE_DEPTH = 4
_END = object()


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
            self.kind = (
                "gzip"
                if data[:2] == b"\x1f\x8b"
                else ("zstd" if data[:4] == b"\x28\xb5\x2f\xfd" else "")
            )
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


class _Stage:
    """A worker thread applying `fn` to queued items in order; after an error it only drains."""

    def __init__(self, fn: Callable[[Any], object], name: str) -> None:
        self.fn = fn
        self.error: BaseException | None = None
        self._q: queue.Queue[Any] = queue.Queue(QUEUE_DEPTH)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._q.get()) is not _END:
            if self.error is None:
                try:
                    self.fn(item)
                except BaseException as exc:  # reported by the caller after close()
                    self.error = exc

    def put(self, item: Any) -> None:
        self._q.put(item)

    def close(self) -> None:
        """Wait until every queued item is handled (idempotent)."""
        if self._thread.is_alive():
            self._q.put(_END)
            self._thread.join()


def download_layer(
    store: Store,
    client: RegistryClient,
    path: str,
    scope: str,
    desc: Descriptor,
    diff_id: str,
    key: str,
    progress: Progress,
) -> None:
    """Stream one layer into the store uncompressed; both digests verified, resumes on drops."""
    kind = mt.layer_compression(desc.media_type)
    decomp = Decompressor(kind)
    with ExitStack() as stack:
        out = stack.enter_context(store.content.writer(expected=diff_id))
        raw: ContentWriter | None = None
        if kind in ("gzip", "zstd") and not store.content.has(str(desc.digest)):
            raw = stack.enter_context(  # read again only by a later push: not kept in cache
                store.content.writer(
                    expected=str(desc.digest), expected_size=desc.size, cache=False
                )
            )
        writer = _Stage(out.write, f"write-{key}")

        def inflate(chunk: bytes) -> None:
            for piece in decomp.feed(chunk):
                if piece:
                    writer.put(piece)

        inflater = _Stage(inflate, f"inflate-{key}")
        try:
            received, got = _fetch(client, path, scope, desc, key, progress, inflater.put, raw)
            inflater.close()
            if inflater.error is None and received == desc.size:
                try:
                    writer.put(decomp.finish())
                except Exception as exc:  # a truncated stream
                    inflater.error = exc
        finally:
            inflater.close()
            writer.close()
        if received != desc.size or got != desc.digest:
            raise InvalidArgument(
                f"layer {desc.digest} of {path}: downloaded content does not match its digest"
                f" (got {got}, {received} of {desc.size} bytes)",
                hint="the registry served corrupt content; nothing was stored",
            )
        progress.status(key, "Verifying Checksum")
        if inflater.error is not None:
            raise InvalidArgument(
                f"layer {desc.digest} of {path} cannot be decompressed"
                f" ({decomp.kind or 'tar'}): {inflater.error}",
                hint="the image is corrupt; nothing was stored",
            ) from inflater.error
        if writer.error is not None:
            raise writer.error
        try:
            out.commit()
        except InvalidArgument as exc:
            raise InvalidArgument(
                f"layer {desc.digest} of {path}: uncompressed content does not match the"
                f" config's diff ID {diff_id}",
                hint="the image is corrupt; nothing was stored",
            ) from exc
        if raw is not None:
            raw.commit()
        if kind in ("gzip", "zstd") and store.content.has(str(desc.digest)):
            store.content.record_variant(diff_id, kind, str(desc.digest), desc.size)
    progress.status(key, "Download complete")


def _fetch(
    client: RegistryClient,
    path: str,
    scope: str,
    desc: Descriptor,
    key: str,
    progress: Progress,
    sink: Callable[[bytes], None],
    raw: ContentWriter | None,
) -> tuple[int, str]:
    """GET the blob (Range-resuming after drops) into `sink` and `raw`; (bytes, sha256).

    The body is read straight from the socket in FEED_CHUNK pieces, so that hashing,
    writing and inflating work on big buffers: few Python steps and GIL hand-offs
    between the threads. The compressed bytes are hashed once, by `raw` when the blob
    is kept.
    """
    hasher = hashlib.sha256() if raw is None else None
    received = 0
    failures = 0
    while True:
        headers = {"Range": f"bytes={received}-"} if received else {}
        try:
            resp = client.request(
                "GET", f"/v2/{path}/blobs/{desc.digest}", scope=scope, headers=headers, stream=True
            )
            try:
                if resp.status_code not in (200, 206) or (received and resp.status_code != 206):
                    resp.read()
                    raise registry_error(resp, f"layer {desc.digest} of {path}")
                for chunk in resp.iter_bytes(FEED_CHUNK):
                    received += len(chunk)
                    if received > desc.size:
                        break
                    if hasher is not None:
                        hasher.update(chunk)
                    else:
                        assert raw is not None
                        raw.write(chunk)
                    sink(chunk)
                    progress.advance(key, "Downloading", received, desc.size)
            finally:
                resp.close()
            if hasher is not None:
                return received, "sha256:" + hasher.hexdigest()
            assert raw is not None
            return received, raw.current_digest()
        except TransportError as exc:
            failures += 1
            if failures > client.options.retries:
                raise Unavailable(
                    f"downloading layer {desc.digest} of {path} failed after"
                    f" {failures} tries: {exc}",
                    hint="check the network and pull again",
                ) from exc
            progress.status(key, f"Retrying in {failures} second(s)")
            time.sleep(min(failures * client.options.backoff * 2, 5))
