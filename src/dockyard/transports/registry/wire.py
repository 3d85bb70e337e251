"""One HTTP/1.1 connection on a socket: dialing (direct, TLS, proxy tunnel), request writing,
buffered parsing of answer heads and large body reads.

Heads are parsed from a buffer filled by 64 KiB receives; body bytes beyond that buffer are
read straight from the socket in the size the caller asks for. On plain TCP the socket is
blocking with kernel timeouts (SO_RCVTIMEO/SO_SNDTIMEO), so one MSG_WAITALL receive fills a
whole 1 MiB piece into its final bytes object; TLS sockets use Python timeouts and
`recv_into` into one preallocated buffer. `ssl` is never imported here: a TLS context comes
from the caller.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ssl

RECV = 1 << 16  # one receive while a head is parsed
HEAD_LIMIT = 1 << 18  # status line plus header block, at most
SMALL = 1 << 16  # bodies and stream pieces below this leave in one send with what precedes them
BodyData = bytes | bytearray | memoryview


class ProtocolError(Exception):
    """The peer's answer is not HTTP/1.x as we can follow it."""


class RemoteClosed(ConnectionError):
    """The connection ended before the first byte of an answer."""


class Head:
    """A parsed status line and header block."""

    __slots__ = ("version", "status", "reason", "fields")

    def __init__(self, version: int, status: int, reason: str, fields: list[tuple[str, str]]):
        self.version, self.status, self.reason, self.fields = version, status, reason, fields


def dial(host: str, port: int, connect_timeout: float) -> socket.socket:
    """A TCP connection to host:port (every address tried in turn), Nagle off."""
    # An ASCII name goes as bytes: given a str, the resolver call loads the IDNA codec
    # (encodings.idna and stringprep, ~3 ms of every push and pull) to encode it.
    name: str | bytes = host.encode("ascii") if host.isascii() else host
    sock = socket.create_connection((name, port), timeout=connect_timeout)  # type: ignore[arg-type]
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass
    return sock


def _kernel_timeouts(sock: socket.socket, timeout: float) -> bool:
    """Make `sock` blocking with kernel send/receive timeouts; False when unsupported."""
    whole = int(timeout)
    value = struct.pack("ll", whole, int((timeout - whole) * 1_000_000))
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)
    except (OSError, struct.error):
        return False
    sock.settimeout(None)
    return True


class Connection:
    """A connected socket and the bytes received on it but not consumed yet."""

    def __init__(self, sock: socket.socket, timeout: float, tls: bool = False) -> None:
        self.sock = sock
        self.tls = tls
        self._buf = bytearray()
        self._pos = 0
        self.absolute = False  # requests name absolute URLs (through a plain-HTTP proxy)
        self.proxy_headers: dict[str, str] = {}
        self.waitall = not tls and _kernel_timeouts(sock, timeout)
        if not self.waitall:
            sock.settimeout(timeout)

    def close(self) -> None:
        self.sock.close()

    def buffered(self) -> int:
        return len(self._buf) - self._pos

    def discard(self, n: int) -> None:
        """Drop `n` buffered bytes (at most what is buffered)."""
        self._pos += min(n, self.buffered())

    def stale(self) -> bool:
        """True when an idle connection cannot serve another request: the peer closed it or
        sent something unasked."""
        if self.buffered() or (self.tls and self.sock.pending()):  # type: ignore[attr-defined]
            return True
        import select

        try:
            poller = select.poll()
            poller.register(self.sock, select.POLLIN)
            return bool(poller.poll(0))
        except (OSError, ValueError):
            return True

    # -- writing -------------------------------------------------------------------------------
    def send(self, head: bytes, body: BodyData | Iterable[BodyData] | None, chunked: bool) -> None:
        """The request head, then the body: bytes as they are, an iterable piece by piece
        (framed as chunks when `chunked`)."""
        sendall = self.sock.sendall
        if body is None:
            sendall(head)
        elif isinstance(body, bytes | bytearray | memoryview):
            if len(body) < SMALL:
                sendall(head + body)
            else:
                sendall(head)
                sendall(body)
        elif not chunked:
            sendall(head)
            for piece in body:
                if piece:
                    sendall(piece)
        else:
            prefix = head
            for piece in body:
                size = len(piece)
                if not size:
                    continue
                framing = prefix + b"%x\r\n" % size
                if size < SMALL:
                    sendall(framing + piece)
                else:
                    sendall(framing)
                    sendall(piece)
                prefix = b"\r\n"
            sendall(prefix + b"0\r\n\r\n")

    # -- reading -------------------------------------------------------------------------------
    def _fill(self) -> int:
        """Receive more bytes into the buffer; 0 at the end of the stream."""
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0
        data = self.sock.recv(RECV)
        self._buf += data
        return len(data)

    def readline(self) -> bytes:
        """One line with its end (b"" at the end of the stream, without it on a last line)."""
        while True:
            end = self._buf.find(b"\n", self._pos)
            if end >= 0:
                line = bytes(self._buf[self._pos : end + 1])
                self._pos = end + 1
                return line
            if self.buffered() > HEAD_LIMIT:
                raise ProtocolError("an answer line is too long")
            if not self._fill():
                line = bytes(self._buf[self._pos :])
                self._pos = len(self._buf)
                return line

    def read_head(self) -> Head:
        """The next answer's status line and headers."""
        line = self.readline()
        if not line:
            raise RemoteClosed("the server closed the connection without answering")
        version, _, rest = line.decode("latin-1").rstrip("\r\n").partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
            raise ProtocolError(f"not an HTTP answer: {line[:60]!r}")
        fields: list[tuple[str, str]] = []
        total = len(line)
        while True:
            line = self.readline()
            total += len(line)
            if total > HEAD_LIMIT:
                raise ProtocolError("the answer's headers are too big")
            if line in (b"\r\n", b"\n"):
                break
            if not line.endswith(b"\n"):
                raise ProtocolError("the connection closed in the middle of the answer's headers")
            text = line.decode("latin-1")
            if text[0] in " \t" and fields:  # an obsolete folded continuation line
                name, value = fields[-1]
                fields[-1] = (name, f"{value} {text.strip()}")
                continue
            name, colon, value = text.partition(":")
            if not colon or not name.strip():
                raise ProtocolError(f"malformed header line {line[:60]!r}")
            fields.append((name.strip(), value.strip()))
        return Head(11 if version == "HTTP/1.1" else 10, int(code), reason.strip(), fields)

    def take(self, n: int) -> bytes:
        """Exactly `n` bytes (fewer only when the stream ends first): buffered bytes, then one
        receive straight into the result where the socket allows it."""
        have = self.buffered()
        if have >= n:
            with memoryview(self._buf) as view:
                out = bytes(view[self._pos : self._pos + n])
            self._pos += n
            return out
        first = b""
        if not have and self.waitall:
            first = self.sock.recv(n, socket.MSG_WAITALL)
            if len(first) == n or not first:
                return first
        piece = bytearray(n)
        view = memoryview(piece)
        if have:
            view[:have] = memoryview(self._buf)[self._pos :]
            self._buf.clear()
            self._pos = 0
            got = have
        else:
            view[: len(first)] = first
            got = len(first)
        recv_into, flags = self.sock.recv_into, socket.MSG_WAITALL if self.waitall else 0
        while got < n:
            k = recv_into(view[got:], 0, flags)
            if not k:
                break
            got += k
        view.release()
        if got < n:
            del piece[got:]
        return bytes(piece)


def open_tls(
    sock: socket.socket, context: ssl.SSLContext, host: str, connect_timeout: float
) -> socket.socket:
    """`sock` after a TLS handshake with `host` (its certificate checked as `context` says)."""
    sock.settimeout(connect_timeout)
    try:
        return context.wrap_socket(sock, server_hostname=host)
    except BaseException:
        sock.close()
        raise


def tunnel(sock: socket.socket, target: str, headers: dict[str, str], timeout: float) -> None:
    """Ask the HTTP proxy at the other end of `sock` for a tunnel to `target` (host:port)."""
    lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    conn = Connection(sock, timeout)
    conn.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), None, False)
    head = conn.read_head()
    if not 200 <= head.status < 300:
        raise ProtocolError(
            f"the proxy refused a tunnel to {target}: {head.status} {head.reason}".rstrip()
        )
    if conn.buffered():
        raise ProtocolError(f"the proxy sent unexpected bytes after opening a tunnel to {target}")
