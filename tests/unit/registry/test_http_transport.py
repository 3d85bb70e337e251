"""The registry client's HTTP transport: kept-alive connections, big streamed bodies both ways,
redirects (credentials stay with their origin), truncated answers, proxies from the environment."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dockyard.transports.registry.http import Transport, TransportError, proxy_for

BLOB = bytes(range(256)) * 12_000  # ~3 MB


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    connections: set[int] = set()
    seen: list[tuple[str, str, dict[str, str], bytes]] = []

    def log_message(self, *args: object) -> None:
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().strip(), 16)
                out += self.rfile.read(size)
                self.rfile.readline()
                if size == 0:
                    return out
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _answer(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k.replace("_", "-"), v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        Handler.connections.add(self.client_address[1])  # one source port per connection
        body = self._body()
        Handler.seen.append((self.command, self.path, dict(self.headers), body))
        port = self.server.server_address[1]
        if self.path == "/blob":
            self._answer(200, BLOB)
        elif self.path == "/short":  # announces the whole blob, sends a third, hangs up
            self.send_response(200)
            self.send_header("Content-Length", str(len(BLOB)))
            self.end_headers()
            self.wfile.write(BLOB[: len(BLOB) // 3])
            self.wfile.flush()
            self.close_connection = True
        elif self.path == "/bye":  # a kept-alive answer, then the server drops the connection
            self._answer(200, b"bye")
            self.close_connection = True
        elif self.path == "/away":  # to another origin (localhost vs 127.0.0.1)
            self._answer(307, Location=f"http://localhost:{port}/landed")
        elif self.path == "/here":
            self._answer(302, Location="/landed")
        elif self.path.startswith("http://"):  # a request through us as a proxy
            self._answer(200, b"proxied " + self.path.encode())
        else:
            self._answer(200, body or b"ok")

    do_GET = do_PUT = do_PATCH = do_HEAD = _handle


@pytest.fixture
def server() -> Iterator[str]:
    Handler.connections, Handler.seen = set(), []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.handle_error = lambda *a: None  # type: ignore[method-assign]  # clients that hang up
    threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True).start()
    yield f"127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def transport() -> Transport:
    return Transport(lambda host: ssl.create_default_context(), timeout=10)


def test_connections_are_kept_alive_and_bodies_stream_in_big_pieces(server: str) -> None:
    t = transport()
    for _ in range(3):
        assert t.request("GET", f"http://{server}/x").content == b"ok"
    resp = t.request("GET", f"http://{server}/blob", stream=True)
    pieces = list(resp.iter_bytes(1 << 20))
    assert b"".join(pieces) == BLOB
    assert [len(p) for p in pieces[:-1]] == [1 << 20] * (len(pieces) - 1)
    assert t.request("HEAD", f"http://{server}/blob").status_code == 200
    assert len(Handler.connections) == 1
    t.close()


def test_streamed_upload_is_sent_chunked_and_arrives_whole(server: str) -> None:
    t = transport()
    parts = [BLOB[i : i + 100_000] for i in range(0, len(BLOB), 100_000)]
    resp = t.request("PATCH", f"http://{server}/upload", {"Content-Type": "x"}, iter(parts))
    assert resp.status_code == 200
    method, _, headers, body = Handler.seen[-1]
    assert (method, body) == ("PATCH", BLOB)
    assert headers["Transfer-Encoding"] == "chunked"


def test_an_answer_cut_short_is_a_transport_error_and_the_next_request_works(server: str) -> None:
    t = transport()
    resp = t.request("GET", f"http://{server}/short", stream=True)
    with pytest.raises(TransportError, match="closed with"):
        for _ in resp.iter_bytes(1 << 16):
            pass
    assert t.request("GET", f"http://{server}/x").content == b"ok"


def test_a_kept_connection_the_server_dropped_is_replaced(server: str) -> None:
    t = transport()
    assert t.request("GET", f"http://{server}/bye").content == b"bye"
    assert t.request("PUT", f"http://{server}/x", body=b"again").content == b"again"
    assert len(Handler.connections) == 2


def test_redirects_keep_credentials_only_on_their_origin(server: str) -> None:
    t = transport()
    auth = {"Authorization": "Bearer secret"}
    assert t.request("GET", f"http://{server}/here", auth).content == b"ok"
    assert Handler.seen[-1][1] == "/landed"
    assert Handler.seen[-1][2].get("Authorization") == "Bearer secret"
    assert t.request("GET", f"http://{server}/away", auth).content == b"ok"
    assert Handler.seen[-1][1] == "/landed"
    assert "Authorization" not in Handler.seen[-1][2]


def test_proxy_from_the_environment_but_never_for_loopback(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://{server}")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    assert proxy_for("http", "registry.example:5000") == f"http://{server}"
    assert proxy_for("http", "a.internal.example") is None
    assert proxy_for("http", "127.0.0.1:5000") is None
    t = transport()
    resp = t.request("GET", "http://registry.example:5000/v2/")
    assert resp.content == b"proxied http://registry.example:5000/v2/"
    assert t.request("GET", f"http://{server}/x").content == b"ok"  # loopback: direct


def test_unreachable_host_is_a_transport_error() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(TransportError, match=f"127.0.0.1:{port}"):
        transport().request("GET", f"http://127.0.0.1:{port}/v2/")
