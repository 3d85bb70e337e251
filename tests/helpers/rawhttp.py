"""A socket server for HTTP client tests that answers byte by byte as a test scripts it: odd
framings (chunked, close-delimited, no body), connections dropped at chosen moments, TLS."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class Peer:
    """One accepted connection: read requests from it, write raw answers to it."""

    def __init__(self, sock: socket.socket, index: int) -> None:
        self.sock, self.index = sock, index
        self.rfile = sock.makefile("rb")

    def request(self) -> tuple[str, str, dict[str, str], bytes] | None:
        """(method, target, headers with lower-case names, body), or None when the client
        closed the connection."""
        line = self.rfile.readline()
        if not line.strip():
            return None
        method, target, _ = line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while (line := self.rfile.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = b""
        if headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
            body = b"".join(parts)
        elif "content-length" in headers:
            body = self.rfile.read(int(headers["content-length"]))
        return method, target, headers, body

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)


Script = Callable[[Peer], None]


@contextmanager
def raw_server(
    script: Script, tls: ssl.SSLContext | None = None, sniff: bool = False
) -> Iterator[tuple[str, list[bytes]]]:
    """("127.0.0.1:port", the first byte of every connection) while `script` serves each
    connection in a thread. With `tls`, connections are TLS; with `sniff` too, one that does
    not start with a TLS handshake gets Go's plain-HTTP refusal (400) instead."""
    listener = socket.create_server(("127.0.0.1", 0))
    firsts: list[bytes] = []

    def serve(sock: socket.socket, index: int) -> None:
        try:
            first = sock.recv(1, socket.MSG_PEEK)
            firsts.append(first)
            if tls is not None and sniff and first != b"\x16":
                sock.recv(65536)
                sock.sendall(
                    b"HTTP/1.0 400 Bad Request\r\n\r\n"
                    b"Client sent an HTTP request to an HTTPS server.\n"
                )
                return
            if tls is not None:
                sock = tls.wrap_socket(sock, server_side=True)
            script(Peer(sock, index))
        except (OSError, ValueError):
            pass
        finally:
            sock.close()

    def accept() -> None:
        index = 0
        while True:
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(sock, index), daemon=True).start()
            index += 1

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}", firsts
    finally:
        try:
            listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        except OSError:
            pass
        listener.close()


def answer(status: str, body: bytes = b"", **headers: str) -> bytes:
    """An HTTP/1.1 answer with Content-Length."""
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body
