"""Connection hijacking for `POST /containers/{id}/attach` (`Upgrade: tcp`), under uvicorn.

Docker's attach answers `101 UPGRADED` and then uses the TCP connection as a raw byte pipe.
uvicorn only knows WebSocket upgrades, so `HijackingH11Protocol` (uvicorn's h11 protocol with
one change) hands a `tcp` upgrade of a known path to `ApiHijacker`, which takes the transport
over. What the container prints is read from the log conmon writes (the container runs under
conmon whether or not anyone is attached); stdin is not forwarded.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs

from uvicorn.protocols.http.h11_impl import H11Protocol

from dockyard.api import serialize
from dockyard.errors import DockyardError, NotFound
from dockyard.runtime.containers import RUNNING

ATTACH = re.compile(r"^(?:/v[0-9.]+)?/containers/([^/]+)/attach$")


class RawConnection(asyncio.Protocol):
    """The protocol of a hijacked connection: notes when the client goes away."""

    def __init__(self) -> None:
        self.closed = threading.Event()

    def data_received(self, data: bytes) -> None:  # stdin: not forwarded
        pass

    def eof_received(self) -> bool:
        return True  # the client closed its side (no more stdin); keep sending output

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()


class ApiHijacker:
    """Serves hijacked requests of one API service (its store root and runtime)."""

    def __init__(self, root: Path, runtime: str | None) -> None:
        self.root = root
        self.runtime = runtime

    def wants(self, path: str) -> bool:
        return ATTACH.match(path) is not None

    async def serve(self, path: str, query: str, transport: asyncio.Transport, raw: RawConnection) -> None:
        loop = asyncio.get_running_loop()
        match = ATTACH.match(path)
        assert match is not None
        params = {k: v[-1] for k, v in parse_qs(query).items()}
        try:
            eng, c = await loop.run_in_executor(None, self._lookup, match.group(1))
        except DockyardError as exc:
            body = json.dumps(serialize.error_body(exc)).encode()
            status = serialize.error_status(exc)
            transport.write(
                f"HTTP/1.1 {status} Error\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body
            )
            transport.close()
            return
        tty = bool(c.config.get("options", {}).get("tty"))
        media = serialize.RAW if tty else serialize.MULTIPLEXED
        transport.write(
            f"HTTP/1.1 101 UPGRADED\r\nContent-Type: {media}\r\nConnection: Upgrade\r\n"
            "Upgrade: tcp\r\n\r\n".encode()
        )
        if not _on(params, "stream") and not _on(params, "logs"):
            transport.close()
            return

        def write(data: bytes) -> None:
            loop.call_soon_threadsafe(transport.write, data)

        want = {"stdout": _on(params, "stdout"), "stderr": _on(params, "stderr")}
        try:
            await loop.run_in_executor(None, pump_output, eng, c.id, tty, want, write, raw.closed,
                                       _on(params, "logs"), _on(params, "stream"))  # fmt: skip
        finally:
            transport.close()

    def _lookup(self, ref: str) -> tuple[Any, Any]:
        from dockyard.engine.containers import ContainerEngine

        eng = ContainerEngine(self.root, runtime=self.runtime)
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
        raw = RawConnection()
        self.transport.set_protocol(raw)
        raw.connection_made(self.transport)
        query = self.scope["query_string"].decode("latin-1")
        task = self.loop.create_task(self.hijacker.serve(self.scope["path"], query, self.transport, raw))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
