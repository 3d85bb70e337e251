"""A small HTTP/1.1 client on the standard library: pooled keep-alive connections, big reads.

Registries need little of HTTP: requests with bytes or streamed (chunked) bodies, bodies
read in large pieces straight from the socket, redirects (blob GETs are often sent to a
storage host), proxies from the environment, and connections kept open between requests
(a push or pull makes dozens). `http.client` does the protocol; this module pools its
connections per origin and thread, and turns every failure of the connection into one
`TransportError` (what the callers retry on). Importing it costs a fraction of httpx.
"""

from __future__ import annotations

import http.client
import json
import os
import select
import ssl
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, overload
from urllib.parse import unquote, urlencode, urljoin, urlsplit

REDIRECTS = {301, 302, 303, 307, 308}
MAX_REDIRECTS = 10
MAX_IDLE = 16
Body = bytes | Iterable[bytes] | None
Params = dict[str, str] | list[tuple[str, str]] | None


class TransportError(Exception):
    """The connection failed: refused, reset, timed out, TLS refused, or a malformed answer."""


def _transport_error(exc: BaseException, url: str) -> TransportError:
    text = str(exc) or type(exc).__name__
    err = TransportError(f"{text} ({urlsplit(url).netloc})")
    err.__cause__ = exc
    return err


class Headers:
    """Response headers, looked up case-insensitively; repeated headers joined with ", "."""

    def __init__(self, msg: http.client.HTTPMessage) -> None:
        self._msg = msg

    @overload
    def get(self, name: str) -> str | None: ...
    @overload
    def get(self, name: str, default: str) -> str: ...

    def get(self, name: str, default: str | None = None) -> str | None:
        values = self._msg.get_all(name)
        return ", ".join(values) if values else default

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._msg


class Response:
    """One answer. Read it (`content`, `read`, `iter_bytes`) or `close()` it: either gives the
    connection back to the pool when the body was read to its end."""

    def __init__(
        self,
        raw: http.client.HTTPResponse,
        conn: http.client.HTTPConnection,
        release: Callable[[http.client.HTTPConnection, bool], None],
        url: str,
    ) -> None:
        self._raw, self._conn, self._release = raw, conn, release
        self.status_code = raw.status
        self.headers = Headers(raw.msg)
        self.url = url
        self._content: bytes | None = None
        self._done = False

    def read(self) -> bytes:
        if self._content is None:
            try:
                self._content = self._raw.read()
            except (OSError, http.client.HTTPException) as exc:
                self._finish(reuse=False)
                raise _transport_error(exc, self.url) from exc
            self._check_complete()
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
        """The body in pieces of `chunk_size` (the last may be shorter), each read straight
        from the socket into a new bytes object (no zero-filling, no copy); a connection
        closed before the announced length is a TransportError."""
        raw = self._raw
        try:
            while chunk := raw.read(chunk_size):
                yield chunk
        except (OSError, http.client.HTTPException) as exc:
            self._finish(reuse=False)
            raise _transport_error(exc, self.url) from exc
        self._check_complete()
        self._finish(reuse=True)

    def _check_complete(self) -> None:
        left = self._raw.length
        if left:  # http.client ends a short Content-Length body silently
            self._finish(reuse=False)
            raise TransportError(
                f"the connection closed with {left} bytes of the answer"
                f" missing ({urlsplit(self.url).netloc})"
            )

    def _finish(self, reuse: bool) -> None:
        if self._done:
            return
        self._done = True
        reusable = reuse and self._raw.isclosed() and not self._raw.will_close
        if not reusable:
            self._raw.close()
        self._release(self._conn, reusable)

    def close(self) -> None:
        """Done with the answer: unread body bytes mean the connection is dropped."""
        if not self._done:
            self._finish(reuse=self._raw.isclosed())

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
        self._idle: dict[tuple[str, str], list[http.client.HTTPConnection]] = {}
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

    def _new(self, scheme: str, netloc: str) -> tuple[http.client.HTTPConnection, bool]:
        """A connected connection, and whether requests through it take absolute URLs."""
        proxy = proxy_for(scheme, netloc)
        target = urlsplit(f"//{netloc}")
        host, port = target.hostname or "", target.port
        conn: http.client.HTTPConnection
        absolute = False
        if proxy is None:
            if scheme == "https":
                conn = http.client.HTTPSConnection(
                    host, port, timeout=self.connect_timeout, context=self._context(netloc)
                )
            else:
                conn = http.client.HTTPConnection(host, port, timeout=self.connect_timeout)
        else:
            p = urlsplit(proxy)
            headers = {}
            if p.username:
                import base64

                user = f"{unquote(p.username)}:{unquote(p.password or '')}".encode()
                headers["Proxy-Authorization"] = "Basic " + base64.b64encode(user).decode()
            if scheme == "https":
                conn = http.client.HTTPSConnection(
                    p.hostname or "",
                    p.port or 80,
                    timeout=self.connect_timeout,
                    context=self._context(netloc),
                )
                conn.set_tunnel(host, port or 443, headers=headers)
            else:
                conn = http.client.HTTPConnection(
                    p.hostname or "", p.port or 80, timeout=self.connect_timeout
                )
                absolute = True
                conn._dockyard_proxy_headers = headers  # type: ignore[attr-defined]
        conn.connect()
        assert conn.sock is not None
        conn.sock.settimeout(self.timeout)
        conn._dockyard_absolute = absolute  # type: ignore[attr-defined]
        return conn, absolute

    def _get(self, scheme: str, netloc: str) -> tuple[http.client.HTTPConnection, bool]:
        """(a connection, reused?): an idle one still open, else a new one."""
        key = (scheme, netloc)
        while True:
            with self._lock:
                conns = self._idle.get(key)
                conn = conns.pop() if conns else None
            if conn is None:
                return self._new(scheme, netloc)[0], False
            sock = conn.sock
            try:  # an idle connection the server closed reads as ready (EOF)
                if sock is None:
                    closed = True
                else:
                    poller = select.poll()
                    poller.register(sock, select.POLLIN)
                    closed = bool(poller.poll(0))
            except (OSError, ValueError):
                closed = True
            if not closed:
                return conn, True
            conn.close()

    def _releaser(
        self, scheme: str, netloc: str
    ) -> Callable[[http.client.HTTPConnection, bool], None]:
        def release(conn: http.client.HTTPConnection, reusable: bool) -> None:
            if not reusable:
                conn.close()
                return
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
            except (OSError, http.client.HTTPException, ValueError) as exc:  # ValueError: port
                raise _transport_error(exc, url) from exc
            target = url if getattr(conn, "_dockyard_absolute", False) else path
            sent = dict(headers)
            sent.update(getattr(conn, "_dockyard_proxy_headers", {}))
            try:
                conn.request(method, target, body=body, headers=sent)
                raw = conn.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                # a kept-alive connection the server dropped meanwhile: once more, afresh
                if (
                    reused
                    and replayable
                    and attempt == 0
                    and isinstance(exc, ConnectionError | http.client.BadStatusLine)
                ):
                    continue
                raise _transport_error(exc, url) from exc
            return Response(raw, conn, self._releaser(scheme, netloc), url)
        raise AssertionError("unreachable")
