"""A small HTTP/1.1 client on sockets: pooled keep-alive connections, big streamed reads.

Registries need little of HTTP: requests with bytes or streamed (chunked) bodies, bodies
read in large pieces straight from the socket, redirects (blob GETs are often sent to a
storage host), proxies from the environment, and connections kept open between requests
(a push or pull makes dozens). The protocol is spoken by `wire`; this module frames the
bodies, pools connections per origin, and turns every failure of a connection into one
`TransportError` (what the callers retry on). It imports neither `http.client` (whose
`email` parser costs startup time) nor `ssl` (loaded only when a TLS context is made).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, overload
from urllib.parse import quote, unquote, urlencode, urljoin, urlsplit

from dockyard.transports.registry.wire import (
    Connection,
    Head,
    ProtocolError,
    dial,
    open_tls,
    tunnel,
)

if TYPE_CHECKING:
    import ssl

REDIRECTS = {301, 302, 303, 307, 308}
MAX_REDIRECTS = 10
MAX_IDLE = 16
READ_ALL = 1 << 20  # piece size when a body of unknown length is read whole
Body = bytes | Iterable[bytes] | None
Params = dict[str, str] | list[tuple[str, str]] | None
_SAFE_TARGET = "!#$%&'()*+,/:;=?@[]~"  # kept as they are when a request target is quoted
_LENGTH, _CHUNKED, _CLOSE = 0, 1, 2  # how an answer's body ends


class TransportError(Exception):
    """The connection failed: refused, reset, timed out, TLS refused, or a malformed answer."""


def _transport_error(exc: BaseException, url: str) -> TransportError:
    if isinstance(exc, BlockingIOError | TimeoutError):  # kernel or Python socket timeout
        text = "timed out"
    else:
        text = str(exc) or type(exc).__name__
    err = TransportError(f"{text} ({urlsplit(url).netloc})")
    err.__cause__ = exc
    return err


def _ascii_host(host: str) -> str:
    """`host` as it goes on the wire: IDNA-encoded when it is not ASCII already."""
    return host if host.isascii() else host.encode("idna").decode("ascii")


def _ascii_netloc(netloc: str) -> str:
    if netloc.isascii():
        return netloc
    host, colon, port = netloc.rpartition(":")
    if not colon or not port.isdigit():
        host, colon, port = netloc, "", ""
    return _ascii_host(host) + colon + port


class Headers:
    """Response headers, looked up case-insensitively; repeated headers joined with ", "."""

    def __init__(self, fields: Iterable[tuple[str, str]]) -> None:
        self._map: dict[str, list[str]] = {}
        for name, value in fields:
            self._map.setdefault(name.lower(), []).append(value)

    @overload
    def get(self, name: str) -> str | None: ...
    @overload
    def get(self, name: str, default: str) -> str: ...

    def get(self, name: str, default: str | None = None) -> str | None:
        values = self._map.get(name.lower())
        return ", ".join(values) if values else default

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._map

    def __repr__(self) -> str:
        return f"Headers({self._map!r})"


def _tokens(value: str | None) -> set[str]:
    return {t.strip().lower() for t in (value or "").split(",")}


class Response:
    """One answer. Read it (`content`, `read`, `iter_bytes`) or `close()` it: either gives the
    connection back to the pool when the body was read to its end."""

    def __init__(
        self,
        conn: Connection,
        head: Head,
        method: str,
        release: Callable[[Connection, bool], None],
        url: str,
    ) -> None:
        self._conn, self._release = conn, release
        self.status_code = head.status
        self.reason = head.reason
        self.headers = headers = Headers(head.fields)
        self.url = url
        self._content: bytes | None = None
        self._done = False
        connection = _tokens(headers.get("connection"))
        self._keep = "keep-alive" in connection if head.version < 11 else "close" not in connection
        self._left = 0  # bytes of a Content-Length body (or of the current chunk) still unread
        self._eof = False  # a chunked or close-delimited body ended
        self._chunks = 0  # chunks started, for a chunked body
        status = head.status
        encoding = headers.get("transfer-encoding")
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            self._mode = _LENGTH
        elif encoding is not None:
            self._mode = _CHUNKED if encoding.rsplit(",", 1)[-1].strip().lower() == "chunked" else _CLOSE
        elif (length := headers.get("content-length")) is not None:
            values = _tokens(length)
            if len(values) != 1 or not (value := values.pop()).isdigit():
                raise ProtocolError(f"bad Content-Length {length!r}")
            self._mode, self._left = _LENGTH, int(value)
        else:
            self._mode = _CLOSE
        if self._mode == _CLOSE:
            self._keep = False
        elif self._mode == _LENGTH and not self._left:
            self._finish(reuse=True)

    # -- the body ------------------------------------------------------------------------------
    def _truncated(self, missing: str) -> TransportError:
        self._finish(reuse=False)
        return TransportError(
            f"the connection closed with {missing} of the answer missing"
            f" ({urlsplit(self.url).netloc})"
        )

    def _next_chunk(self) -> None:
        """Read up to the next chunk's data (or through the trailers after the last one)."""
        conn = self._conn
        if self._chunks and conn.readline().strip():
            raise ProtocolError("a chunk of the answer does not end where announced")
        line = conn.readline()
        if not line:
            raise self._truncated("the chunks")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise ProtocolError(f"bad chunk size line {line[:40]!r}") from None
        self._chunks += 1
        if size:
            self._left = size
            return
        while (trailer := conn.readline()).strip():  # trailers are read and dropped
            pass
        if not trailer:
            raise self._truncated("the end of the chunks")
        self._eof = True

    def _piece(self, n: int) -> bytes:
        """The next `n` bytes of the body (fewer only at its end; b"" after it)."""
        conn = self._conn
        if self._mode == _LENGTH:
            want = min(n, self._left)
            if want <= 0:
                return b""
            data = conn.take(want)
            self._left -= len(data)
            if len(data) < want:
                raise self._truncated(f"{self._left} bytes")
            return data
        if self._mode == _CLOSE:
            if self._eof:
                return b""
            data = conn.take(n)
            self._eof = len(data) < n
            return data
        parts: list[bytes] = []
        got = 0
        while got < n and not self._eof:
            if not self._left:
                self._next_chunk()
                continue
            want = min(n - got, self._left)
            data = conn.take(want)
            if len(data) < want:
                raise self._truncated("part of a chunk")
            self._left -= want
            got += want
            parts.append(data)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _ended(self) -> bool:
        return self._eof if self._mode != _LENGTH else not self._left

    def read(self) -> bytes:
        if self._content is None:
            try:
                if self._mode == _LENGTH:
                    data = self._piece(self._left)
                else:
                    data = b"".join(iter(lambda: self._piece(READ_ALL), b""))
            except (OSError, ProtocolError) as exc:
                self._finish(reuse=False)
                raise _transport_error(exc, self.url) from exc
            self._content = data
            self._finish(reuse=True)
        return self._content

    @property
    def content(self) -> bytes:
        return self.read()

    @property
    def text(self) -> str:
        return self.read().decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.read())

    def iter_bytes(self, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """The body in pieces of `chunk_size` (the last may be shorter), each received straight
        into its own bytes object on plain connections; a connection closed before the
        announced end is a TransportError."""
        if self._content is not None:
            content = self._content
            for start in range(0, len(content), chunk_size):
                yield content[start : start + chunk_size]
            return
        try:
            while chunk := self._piece(chunk_size):
                yield chunk
        except (OSError, ProtocolError) as exc:
            self._finish(reuse=False)
            raise _transport_error(exc, self.url) from exc
        self._finish(reuse=True)

    def _finish(self, reuse: bool) -> None:
        if self._done:
            return
        self._done = True
        self._release(self._conn, reuse and self._keep and not self._conn.buffered())

    def close(self) -> None:
        """Done with the answer: unread body bytes mean the connection is dropped (unless they
        were all received already)."""
        if self._done:
            return
        if self._mode == _LENGTH and self._left <= self._conn.buffered():
            self._conn.discard(self._left)
            self._left = 0
        self._finish(reuse=self._ended())

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _no_proxy(host: str) -> bool:
    name = host.rsplit(":", 1)[0].strip("[]") if not host.endswith("]") else host.strip("[]")
    if name in ("localhost", "::1") or name.startswith("127."):
        return True
    listed = os.environ.get("no_proxy") or os.environ.get("NO_PROXY") or ""
    for item in (x.strip().lower() for x in listed.split(",")):
        if not item:
            continue
        if item == "*":
            return True
        item = item.lstrip(".")
        lowered = name.lower()
        if lowered == item or lowered.endswith("." + item) or host.lower() == item:
            return True
    return False


def proxy_for(scheme: str, host: str) -> str | None:
    """The proxy URL the environment names for `scheme://host` (none for loopback, NO_PROXY)."""
    value = os.environ.get(f"{scheme}_proxy") or os.environ.get(f"{scheme.upper()}_PROXY")
    if not value or _no_proxy(host):
        return None
    return value if "://" in value else "http://" + value


def _request_head(
    method: str, target: str, netloc: str, headers: dict[str, str], body: Body
) -> tuple[bytes, bool]:
    """The request line and headers, with the body's framing; (bytes, chunked?)."""
    if not target.isascii() or any(c <= " " or c == "\x7f" for c in target):
        target = quote(target, safe=_SAFE_TARGET)
    names = {k.lower() for k in headers}
    lines = [f"{method} {target} HTTP/1.1"]
    if "host" not in names:
        lines.append(f"Host: {_ascii_netloc(netloc)}")
    if "accept-encoding" not in names:
        lines.append("Accept-Encoding: identity")
    chunked = False
    if body is None:
        if method in ("POST", "PUT", "PATCH") and "content-length" not in names:
            lines.append("Content-Length: 0")
    elif isinstance(body, bytes | bytearray | memoryview):
        if "content-length" not in names:
            lines.append(f"Content-Length: {len(body)}")
    elif "content-length" not in names:
        chunked = "transfer-encoding" not in names
        if chunked:
            lines.append("Transfer-Encoding: chunked")
    for name, value in headers.items():
        if "\n" in value or "\r" in value or "\n" in name or "\r" in name or ":" in name:
            raise ValueError(f"invalid header {name!r}")
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), chunked


class Transport:
    """Connections per (scheme, host:port), reused across requests and threads."""

    def __init__(
        self,
        context_for: Callable[[str], ssl.SSLContext],
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
    ) -> None:
        self._context_for = context_for  # host:port -> TLS context (made on first use)
        self._contexts: dict[str, ssl.SSLContext] = {}
        self.timeout, self.connect_timeout = timeout, connect_timeout
        self._idle: dict[tuple[str, str], list[Connection]] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()

    # -- connections ---------------------------------------------------------------------------
    def _context(self, netloc: str) -> ssl.SSLContext:
        with self._lock:
            ctx = self._contexts.get(netloc)
        if ctx is None:
            ctx = self._context_for(netloc)
            with self._lock:
                self._contexts[netloc] = ctx
        return ctx

    def _new(self, scheme: str, netloc: str) -> Connection:
        """A connected connection (through the environment's proxy, if any)."""
        target = urlsplit(f"//{netloc}")
        host, port = target.hostname or "", target.port or (443 if scheme == "https" else 80)
        proxy = proxy_for(scheme, netloc)
        headers: dict[str, str] = {}
        if proxy is None:
            sock = dial(host, port, self.connect_timeout)
        else:
            p = urlsplit(proxy)
            if p.username:
                import base64

                user = f"{unquote(p.username)}:{unquote(p.password or '')}".encode()
                headers["Proxy-Authorization"] = "Basic " + base64.b64encode(user).decode()
            sock = dial(p.hostname or "", p.port or 80, self.connect_timeout)
        try:
            if scheme == "https":
                if proxy is not None:
                    name = _ascii_host(host)
                    name = f"[{name}]" if ":" in name else name
                    tunnel(sock, f"{name}:{port}", headers, self.connect_timeout)
                tls = open_tls(sock, self._context(netloc), host, self.connect_timeout)
                return Connection(tls, self.timeout, tls=True)
            conn = Connection(sock, self.timeout)
        except BaseException:
            sock.close()
            raise
        if proxy is not None:
            conn.absolute, conn.proxy_headers = True, headers
        return conn

    def _get(self, scheme: str, netloc: str) -> tuple[Connection, bool]:
        """(a connection, reused?): an idle one still open, else a new one."""
        key = (scheme, netloc)
        while True:
            with self._lock:
                conns = self._idle.get(key)
                conn = conns.pop() if conns else None
            if conn is None:
                return self._new(scheme, netloc), False
            if not conn.stale():
                return conn, True
            conn.close()

    def _releaser(self, scheme: str, netloc: str) -> Callable[[Connection, bool], None]:
        def release(conn: Connection, reusable: bool) -> None:
            if reusable:
                with self._lock:
                    conns = self._idle.setdefault((scheme, netloc), [])
                    if len(conns) < MAX_IDLE:
                        conns.append(conn)
                        return
            conn.close()

        return release

    # -- requests ------------------------------------------------------------------------------
    def request(
        self,
        method: str,
        url: str,
        headers: dict[str, str] | None = None,
        body: Body = None,
        params: Params = None,
        stream: bool = False,
        follow_redirects: bool = True,
    ) -> Response:
        """Send one request (following redirects for replayable bodies); streamed answers are
        the caller's to read or close."""
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params)
        headers = dict(headers or {})
        for _ in range(MAX_REDIRECTS + 1):
            resp = self._send(method, url, headers, body)
            location = resp.headers.get("location")
            replayable = body is None or isinstance(body, bytes | bytearray)
            if not (follow_redirects and resp.status_code in REDIRECTS and location and replayable):
                break
            resp.close()
            new = urljoin(url, location)
            if urlsplit(new)[:2] != urlsplit(url)[:2]:  # another origin: not our credentials
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            if resp.status_code == 303 or (
                resp.status_code in (301, 302) and method not in ("GET", "HEAD")
            ):
                method, body = ("HEAD" if method == "HEAD" else "GET"), None
                headers = {
                    k: v
                    for k, v in headers.items()
                    if k.lower() not in ("content-length", "content-type")
                }
            url = new
        else:
            raise TransportError(f"more than {MAX_REDIRECTS} redirects from {url}")
        if not stream:
            resp.read()
        return resp

    def _send(self, method: str, url: str, headers: dict[str, str], body: Body) -> Response:
        parts = urlsplit(url)
        scheme, netloc = parts.scheme, parts.netloc
        if scheme not in ("http", "https"):
            raise TransportError(f"unsupported URL scheme in {url}")
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        replayable = body is None or isinstance(body, bytes | bytearray)
        for attempt in range(2):
            try:
                conn, reused = self._get(scheme, netloc)
            except (OSError, ProtocolError, ValueError) as exc:  # ValueError: a bad port
                raise _transport_error(exc, url) from exc
            try:
                target = f"{scheme}://{_ascii_netloc(netloc)}{path}" if conn.absolute else path
                head, chunked = _request_head(
                    method, target, netloc, {**headers, **conn.proxy_headers}, body
                )
                conn.send(head, body, chunked)
                answer = conn.read_head()
                while 100 <= answer.status < 200 and answer.status != 101:  # interim answers
                    answer = conn.read_head()
                return Response(conn, answer, method, self._releaser(scheme, netloc), url)
            except (OSError, ProtocolError, ValueError) as exc:
                conn.close()
                # a kept-alive connection the server dropped meanwhile: once more, afresh
                if reused and replayable and attempt == 0 and isinstance(exc, ConnectionError):
                    continue
                raise _transport_error(exc, url) from exc
            except BaseException:
                conn.close()
                raise
        raise AssertionError("unreachable")
