"""The registry client's HTTP transport: kept-alive connections, big streamed bodies both ways,
chunked, close-delimited and bodiless answers, redirects (credentials stay with their origin),
truncated answers, connections the server drops, proxies from the environment (CONNECT too)."""

from __future__ import annotations

import hashlib
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from helpers.rawhttp import Peer, answer, raw_server
from helpers.registry import self_signed_ca_and_cert

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


# -- framings and dropped connections, from a server scripted byte by byte ----------------------


def _chunked(data: bytes, sizes: tuple[int, ...] = (1, 70_000, 5, 333_333)) -> bytes:
    out, i, k = [], 0, 0
    while i < len(data):
        size = sizes[k % len(sizes)]
        out.append(b"%x;ext=1\r\n" % len(data[i : i + size]) + data[i : i + size] + b"\r\n")
        i, k = i + size, k + 1
    return b"".join(out) + b"0\r\nX-Trailer: yes\r\n\r\n"


def _framings(peer: Peer) -> None:
    while (req := peer.request()) is not None:
        method, path = req[0], req[1]
        if path == "/chunked":
            peer.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + _chunked(BLOB))
        elif path == "/cut-chunk":
            peer.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000\r\n" + BLOB[:99])
            return
        elif path == "/until-close":  # HTTP/1.0: the body ends when the connection does
            peer.send(b"HTTP/1.0 200 OK\r\nContent-Type: x\r\n\r\n" + BLOB)
            return
        elif path == "/empty":
            peer.send(b"HTTP/1.1 204 No Content\r\nX-A: 1\r\nx-a: 2\r\n\r\n")
        elif path == "/same":
            peer.send(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 12345\r\n\r\n")
        elif method == "HEAD":  # announces a body it does not send, as HEAD answers do
            peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 99999\r\n\r\n")
        else:
            peer.send(answer("200 OK", f"{path} on {peer.index}".encode()))


def test_chunked_close_delimited_and_bodiless_answers() -> None:
    with raw_server(_framings) as (host, firsts):
        t = transport()
        resp = t.request("GET", f"http://{host}/chunked", stream=True)
        pieces = list(resp.iter_bytes(1 << 20))
        assert b"".join(pieces) == BLOB
        assert [len(p) for p in pieces[:-1]] == [1 << 20] * (len(pieces) - 1)
        assert t.request("GET", f"http://{host}/chunked").content == BLOB
        head = t.request("HEAD", f"http://{host}/blob")
        assert head.headers["content-length"] == "99999" and head.content == b""
        empty = t.request("GET", f"http://{host}/empty")
        assert empty.status_code == 204 and empty.headers.get("X-A") == "1, 2"
        assert t.request("GET", f"http://{host}/same").status_code == 304
        assert t.request("GET", f"http://{host}/x").content == b"/x on 0"  # all on one connection
        assert t.request("GET", f"http://{host}/until-close").content == BLOB
        assert t.request("GET", f"http://{host}/x").content == b"/x on 1"  # closed: a new one
        streamed = t.request("GET", f"http://{host}/until-close", stream=True)
        assert b"".join(streamed.iter_bytes(1 << 20)) == BLOB
        resp = t.request("GET", f"http://{host}/cut-chunk", stream=True)
        with pytest.raises(TransportError, match="closed with"):
            list(resp.iter_bytes())
        t.close()
    assert len(firsts) == 3  # new connections only after the close-delimited answers


def _drops_second_request(peer: Peer) -> None:
    """Answers the first request of a connection, then reads the next and hangs up on it, as a
    server closing an idle kept-alive connection does when the request crosses its close."""
    req = peer.request()
    if req is not None:
        peer.send(answer("200 OK", b"first on %d" % peer.index + req[3]))
        peer.request()


def test_a_request_crossing_the_servers_close_is_sent_again_when_it_can_be() -> None:
    with raw_server(_drops_second_request) as (host, firsts):
        t = transport()
        assert t.request("GET", f"http://{host}/a").content == b"first on 0"
        assert t.request("PUT", f"http://{host}/b", body=b"!").content == b"first on 1!"
        with pytest.raises(TransportError, match="closed the connection"):  # a stream: not again
            t.request("PATCH", f"http://{host}/c", body=iter([b"x"]))
        assert len(firsts) == 2


def test_big_upload_of_known_length_streams_back_whole(server: str) -> None:
    big = BLOB * 7  # ~21 MB each way
    pieces = (big[i : i + 1_000_000] for i in range(0, len(big), 1_000_000))
    headers = {"Content-Length": str(len(big))}
    resp = transport().request("PUT", f"http://{server}/echo", headers, pieces, stream=True)
    assert resp.status_code == 200
    assert "Transfer-Encoding" not in Handler.seen[-1][2]
    got = hashlib.sha256()
    sizes = []
    for piece in resp.iter_bytes(1 << 20):
        got.update(piece)
        sizes.append(len(piece))
    assert got.digest() == hashlib.sha256(big).digest()
    assert set(sizes[:-1]) == {1 << 20}


def _tunnel(peer: Peer, target_port: int, seen: list[str]) -> None:
    """A CONNECT proxy: any host name is this machine."""
    req = peer.request()
    assert req is not None
    seen.append(f"{req[0]} {req[1]} {req[2].get('proxy-authorization', '')}")
    upstream = socket.create_connection(("127.0.0.1", target_port))
    peer.send(b"HTTP/1.1 200 Connection established\r\n\r\n")

    def pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            dst.close()

    threading.Thread(target=pump, args=(upstream, peer.sock), daemon=True).start()
    pump(peer.sock, upstream)


def test_https_through_a_connect_proxy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pki = self_signed_ca_and_cert(tmp_path, "127.0.0.1")
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(pki["srv.crt"], pki["srv.key"])
    client_ctx = ssl.create_default_context(cafile=str(pki["ca.crt"]))
    client_ctx.check_hostname = False  # the certificate names 127.0.0.1, not registry.test
    seen: list[str] = []

    def registry(peer: Peer) -> None:
        while (req := peer.request()) is not None:
            peer.send(answer("200 OK", f"tls {req[1]} host {req[2]['host']}".encode()))

    with raw_server(registry, tls=server_ctx) as (target, _):
        port = int(target.rsplit(":", 1)[1])
        with raw_server(lambda peer: _tunnel(peer, port, seen)) as (proxy, _):
            monkeypatch.setenv("https_proxy", f"http://amy:pw@{proxy}")
            t = Transport(lambda host: client_ctx, timeout=10)
            for _ in range(2):  # the tunnel is kept alive
                got = t.request("GET", f"https://registry.test:{port}/v2/").content
                assert got == f"tls /v2/ host registry.test:{port}".encode()
            t.close()
    assert seen == [f"CONNECT registry.test:{port} Basic YW15OnB3"]
