"""Bridges between blocking engine calls (in threads) and Starlette's async request/response streams.

`BodyReader` gives a thread a file object over the request body as it arrives (load, build,
import read tars this way without spooling them); `run_streaming` runs a blocking job in a
thread and turns what it emits into an async body, with back-pressure (a bounded queue) so a
slow client never makes memory grow, and with the job aborted when the client goes away.
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

_DONE = object()
CHUNK = 1 << 20


class ClientGone(Exception):
    """Raised inside a job's emit() once the HTTP client has disconnected."""


class BodyReader(io.RawIOBase):
    """A blocking, readable file over an async request body (use it from a worker thread)."""

    def __init__(self, request: Request, loop: asyncio.AbstractEventLoop) -> None:
        self._chunks = request.stream().__aiter__()
        self._loop = loop
        self._buf = b""
        self._eof = False

    def readable(self) -> bool:
        return True

    async def _next(self) -> bytes:
        try:
            return await self._chunks.__anext__()
        except StopAsyncIteration:
            return b""

    def readinto(self, b: Any) -> int:
        while not self._buf and not self._eof:
            chunk = asyncio.run_coroutine_threadsafe(self._next(), self._loop).result()
            if not chunk:
                self._eof = True
            self._buf = chunk
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def body_file(request: Request) -> io.BufferedReader:
    return io.BufferedReader(BodyReader(request, asyncio.get_running_loop()), CHUNK)


class UploadStreamingResponse(StreamingResponse):
    """A streaming answer sent while the request body is still being read (load, build).

    Starlette's own listens for a disconnect on `receive` meanwhile, which would swallow the
    body's chunks; this one only streams.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.stream_response(send)


class Emitter:
    """What a job calls to send bytes to the client; blocks while the client is behind."""

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[Any]) -> None:
        self._loop = loop
        self._queue = queue
        self.gone = threading.Event()

    def __call__(self, data: bytes) -> None:
        if data:
            self._put(data)

    def _put(self, item: Any) -> None:
        fut = asyncio.run_coroutine_threadsafe(self._queue.put(item), self._loop)
        while True:
            if self.gone.is_set():
                fut.cancel()
                raise ClientGone("the client disconnected")
            try:
                fut.result(timeout=0.5)
                return
            except FutureTimeout:
                continue


class EmitWriter(io.RawIOBase):
    """A writable file that sends what is written through an Emitter (for save)."""

    def __init__(self, emit: Emitter) -> None:
        self._emit = emit

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        data = bytes(b)
        for i in range(0, len(data), CHUNK):
            self._emit(data[i : i + CHUNK])
        return len(data)


async def run_streaming(
    job: Callable[[Emitter], None], on_error: Callable[[BaseException], bytes | None]
) -> AsyncIterator[bytes]:
    """Run `job(emit)` in a thread; yield what it emits. An exception becomes `on_error(exc)`."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=16)
    emit = Emitter(loop, queue)

    def runner() -> None:
        result: Any = _DONE
        try:
            job(emit)
        except ClientGone:
            return
        except BaseException as exc:  # reported to the client, which has the response already
            result = exc
        try:
            emit._put(result)
            if result is not _DONE:
                emit._put(_DONE)
        except ClientGone:
            pass

    thread = threading.Thread(target=runner, name="api-stream", daemon=True)
    thread.start()
    try:
        while True:
            item = await queue.get()
            if item is _DONE:
                break
            if isinstance(item, BaseException):
                data = on_error(item)
                if data:
                    yield data
                continue
            yield item
    finally:
        emit.gone.set()
