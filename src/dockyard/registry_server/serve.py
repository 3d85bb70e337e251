"""`dockyard registry serve`: run the registry app on uvicorn (TCP, optional TLS)."""

from __future__ import annotations

import socket
from pathlib import Path

from dockyard.errors import InvalidArgument, Unavailable
from dockyard.registry_server.app import ServerConfig, create_app


def parse_addr(addr: str) -> tuple[str, int]:
    """`HOST:PORT`, `:PORT` or `PORT` -> (host, port); InvalidArgument otherwise."""
    host, sep, port = addr.rpartition(":")
    if not sep:
        host, port = "", addr
    host = host.strip("[]") or "0.0.0.0"
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise InvalidArgument(
            f"invalid listen address {addr!r}", hint="use HOST:PORT, e.g. 127.0.0.1:5000"
        )
    return host, int(port)


def serve(
    config: ServerConfig,
    addr: str = "127.0.0.1:5000",
    *,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    log_level: str = "error",
    ready_file: Path | None = None,
) -> None:
    """Serve until interrupted. `ready_file` receives the bound port once listening (port 0)."""
    import uvicorn

    if (tls_cert is None) != (tls_key is None):
        raise InvalidArgument(
            "--tls-cert and --tls-key go together", hint="pass both files, or neither"
        )
    host, port = parse_addr(addr)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise Unavailable(
            f"cannot listen on {addr}: {exc.strerror}",
            hint="pick another --addr (port 0 picks a free port)",
        ) from exc
    sock.listen(1024)
    bound = sock.getsockname()[1]
    app = create_app(config)
    server = uvicorn.Server(
        uvicorn.Config(
            app, log_level=log_level, ssl_certfile=str(tls_cert) if tls_cert else None,
            ssl_keyfile=str(tls_key) if tls_key else None, access_log=False,
            timeout_keep_alive=30, lifespan="off",
        )
    )
    scheme = "https" if tls_cert else "http"
    print(f"dockyard registry listening on {scheme}://{host}:{bound}", flush=True)
    if ready_file is not None:
        ready_file.write_text(str(bound))
    server.run(sockets=[sock])
