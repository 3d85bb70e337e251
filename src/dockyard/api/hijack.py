"""Connection hijacking (`Upgrade: tcp`) for attach and exec start, under uvicorn.

Docker's attach and exec start answer `101 UPGRADED` and then use the TCP connection as a raw
byte pipe both ways. uvicorn only knows WebSocket upgrades, so `HijackingH11Protocol`
(uvicorn's h11 protocol with one change) hands a `tcp` upgrade of a known path to
`ApiHijacker`, which takes the transport over. For attach, what the container prints is read
from the log conmon writes (the container runs under conmon whether or not anyone is
attached); for exec, the command's pipes are the stream (api/execs.py).
"""

from __future__ import annotations

import asyncio
import collections
import json
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs

from uvicorn.protocols.http.h11_impl import H11Protocol

from dockyard.api import execs, serialize
from dockyard.errors import DockyardError, NotFound
from dockyard.runtime.containers import RUNNING

ATTACH = re.compile(r"^(?:/v[0-9.]+)?/containers/([^/]+)/attach$")
EXEC_START = re.compile(r"^(?:/v[0-9.]+)?/exec/([^/]+)/start$")
HIGH_WATER = 1 << 20  # bytes of unread input before the client is paused


class RawConnection(asyncio.Protocol):
    """The protocol of a hijacked connection: buffers what the client sends (stdin), notes
    when it closes its side or goes away."""

    def __init__(self) -> None:
        self.closed = threading.Event()
        self._chunks: collections.deque[bytes] = collections.deque()
        self._size = 0
        self._eof = False
        self._ready = asyncio.Event()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.unread(data, front=False)
        if self._size > HIGH_WATER and self.transport is not None:
            self.transport.pause_reading()

    def eof_received(self) -> bool:
        self._eof = True
        self._ready.set()
        return True  # the client closed its side (no more stdin); keep sending output

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()
        self._eof = True
        self._ready.set()

    def unread(self, data: bytes, front: bool = True) -> None:
        if data:
            if front:
                self._chunks.appendleft(data)
            else:
                self._chunks.append(data)
            self._size += len(data)
            self._ready.set()

    async def read(self) -> bytes:
        """The next chunk the client sent; b"" once it has closed its side."""
        while not self._chunks and not self._eof:
            self._ready.clear()
            await self._ready.wait()
        if not self._chunks:
            return b""
        data = self._chunks.popleft()
        self._size -= len(data)
        if self._size <= HIGH_WATER // 2 and self.transport is not None and not self.closed.is_set():
            self.transport.resume_reading()
        return data

    async def read_exactly(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            chunk = await self.read()
            if not chunk:
                break
            out += chunk
        self.unread(out[n:])
        return out[:n]


@dataclass
class Hijacked:
    """A request whose connection the hijacker has taken over."""

    path: str
    query: str
    headers: dict[str, str]
    transport: asyncio.Transport
    raw: RawConnection

    def write(self, data: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(data)

    def upgraded(self, media: str) -> None:
        self.write(f"HTTP/1.1 101 UPGRADED\r\nContent-Type: {media}\r\nConnection: Upgrade\r\n"
                   "Upgrade: tcp\r\n\r\n".encode())  # fmt: skip

    def fail(self, exc: DockyardError) -> None:
        body = json.dumps(serialize.error_body(exc)).encode()
        status = serialize.error_status(exc)
        self.write(f"HTTP/1.1 {status} Error\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)  # fmt: skip
        self.transport.close()

    async def json_body(self) -> dict[str, Any]:
        """The request body (Content-Length bytes read off the connection) as a JSON object."""
        length = self.headers.get("content-length", "0")
        data = await self.raw.read_exactly(int(length) if length.isdigit() else 0)
        return serialize.parse_object(data)


class ApiHijacker:
    """Serves hijacked requests of one API service (its store root, runtime and execs)."""

    def __init__(self, root: Path, runtime: str | None, registry: execs.ExecRegistry | None = None) -> None:
        self.root = root
        self.runtime = runtime
        self.execs = registry or execs.ExecRegistry()

    def wants(self, path: str) -> bool:
        return ATTACH.match(path) is not None or EXEC_START.match(path) is not None

    async def serve(self, h: Hijacked) -> None:
        try:
            exec_start = EXEC_START.match(h.path)
            if exec_start is not None:
                await self._exec_start(h, exec_start.group(1))
            else:
                match = ATTACH.match(h.path)
                assert match is not None
                await self._attach(h, match.group(1))
        finally:
            h.transport.close()

    async def _exec_start(self, h: Hijacked, exec_id: str) -> None:
        loop = asyncio.get_running_loop()
        try:
            body = await h.json_body()
            rec = self.execs.get(exec_id)
            eng = await loop.run_in_executor(None, self._engine)
            prep = await loop.run_in_executor(None, execs.prepare, eng, rec)
        except DockyardError as exc:
            h.fail(exc)
            return
        try:
            self.execs.claim(rec.id)
        except DockyardError as exc:
            execs.discard(prep)
            h.fail(exc)
            return
        if body.get("Detach"):
            self.execs.start_detached(rec, prep)
            h.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        h.upgraded(serialize.RAW if rec.tty else serialize.MULTIPLEXED)
        await execs.run(rec, prep, h.write, h.raw.read)

    async def _attach(self, h: Hijacked, ref: str) -> None:
        loop = asyncio.get_running_loop()
        params = {k: v[-1] for k, v in parse_qs(h.query).items()}
        try:
            eng, c = await loop.run_in_executor(None, self._lookup, ref)
        except DockyardError as exc:
            h.fail(exc)
            return
        tty = bool(c.config.get("options", {}).get("tty"))
        h.upgraded(serialize.RAW if tty else serialize.MULTIPLEXED)
        if not _on(params, "stream") and not _on(params, "logs"):
            return

        def write(data: bytes) -> None:
            loop.call_soon_threadsafe(h.write, data)

        want = {"stdout": _on(params, "stdout"), "stderr": _on(params, "stderr")}
        await loop.run_in_executor(None, pump_output, eng, c.id, tty, want, write, h.raw.closed,
                                   _on(params, "logs"), _on(params, "stream"))  # fmt: skip

    def _engine(self) -> Any:
        from dockyard.engine.containers import ContainerEngine

        return ContainerEngine(self.root, runtime=self.runtime)

    def _lookup(self, ref: str) -> tuple[Any, Any]:
        eng = self._engine()
        try:
            return eng, eng.get(ref)
        except NotFound as exc:
            raise NotFound(f"No such container: {ref}") from exc


def _on(params: dict[str, str], name: str) -> bool:
    return params.get(name, "").lower() in ("1", "true", "yes")


def _parse_log_line(line: bytes) -> tuple[str, bytes] | None:
    """A conmon k8s-file line `TIME STREAM F|P TEXT` -> (stream, text with its newline if full)."""
    parts = line.split(b" ", 3)
    if len(parts) < 3:
        return None
    text = parts[3] if len(parts) == 4 else b""
    return parts[1].decode(errors="replace"), text if parts[2] == b"P" else text + b"\n"


def pump_output(eng: Any, cid: str, tty: bool, want: dict[str, bool], write: Any,
                closed: threading.Event, logs: bool, stream: bool) -> None:  # fmt: skip
    """Send the container's output from its log: what it prints from now (and before, with
    `logs`) until it has stopped, the client has gone, or it is removed."""
    from dockyard.runtime.monitor import MonitorPaths

    c = eng.get(cid)
    path = MonitorPaths.for_container(eng.dir(c)).log
    offset = 0 if logs or not path.exists() else path.stat().st_size
    started_at, seen_running = c.started_at, c.state == RUNNING
    fh: IO[bytes] | None = None
    buf = b""
    draining = not stream
    try:
        while not closed.is_set():
            if fh is None and path.exists():
                fh = open(path, "rb")  # noqa: SIM115 - kept open: --rm deletes the file
                fh.seek(offset)
            chunk = fh.read(1 << 20) if fh is not None else b""
            if chunk:
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    entry = _parse_log_line(line)
                    if entry is None or not want.get(entry[0], False):
                        continue
                    kind = serialize.STDERR if entry[0] == "stderr" else serialize.STDOUT
                    write(entry[1] if tty else serialize.frame(kind, entry[1]))
                continue
            if draining:
                return
            try:
                c = eng.get(cid)
            except NotFound:
                draining = True
                continue
            if c.state == RUNNING:
                seen_running = True
            elif seen_running or c.started_at != started_at:
                draining = True
                continue
            time.sleep(0.03)
    finally:
        if fh is not None:
            fh.close()


class HijackingH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, plus `Upgrade: tcp` for the paths the hijacker serves."""

    def __init__(self, *args: Any, hijacker: ApiHijacker, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hijacker = hijacker

    def _is_tcp_hijack(self) -> bool:
        return self._get_upgrade() == b"tcp" and self.hijacker.wants(self.scope["path"])

    def _should_upgrade(self) -> bool:
        if self._is_tcp_hijack():
            return True
        return super()._should_upgrade()

    def handle_websocket_upgrade(self, event: Any) -> None:
        if not self._is_tcp_hijack():
            super().handle_websocket_upgrade(event)
            return
        self.connections.discard(self)
        self._unset_keepalive_if_required()
        pending = self.conn.trailing_data[0]  # what h11 holds past the headers: body, stdin
        raw = RawConnection()
        self.transport.set_protocol(raw)
        raw.connection_made(self.transport)
        raw.unread(pending)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in self.scope["headers"]}
        h = Hijacked(self.scope["path"], self.scope["query_string"].decode("latin-1"), headers,
                     self.transport, raw)  # fmt: skip
        task = self.loop.create_task(self.hijacker.serve(h))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
