"""The Docker Engine API app (Starlette) and its server (uvicorn on a unix socket or TCP)."""

from __future__ import annotations

import functools
import os
import re
import signal
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from dockyard.api import (
    API_VERSION,
    execs,
    routes_build,
    routes_containers,
    routes_events,
    routes_exec,
    routes_images,
    routes_networks,
    routes_system,
    routes_volumes,
)
from dockyard.api.serialize import error_body, error_status
from dockyard.errors import DockyardError, InvalidArgument

_VERSION_PREFIX = re.compile(r"^/v(\d+)\.(\d+)(?=/)")


class StripVersion:
    """Serve `/v1.45/images/json` as `/images/json` (every API version is answered the same)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            match = _VERSION_PREFIX.match(scope["path"])
            if match:
                scope = dict(scope)
                scope["path"] = scope["path"][match.end() :]
                raw = scope.get("raw_path")
                if raw:
                    scope["raw_path"] = raw[match.end() :]
            send = _with_api_header(send)
        await self.app(scope, receive, send)


def _with_api_header(send: Send) -> Send:
    async def wrapped(message: Any) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            if not any(name.lower() == b"api-version" for name, _ in headers):
                headers.append((b"api-version", API_VERSION.encode()))
            headers.append((b"server", b"dockyard"))
            message = {**message, "headers": headers}
        await send(message)

    return wrapped


async def _dockyard_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DockyardError)
    return JSONResponse(error_body(exc), status_code=error_status(exc))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = "page not found" if exc.status_code == 404 else str(exc.detail)
    return JSONResponse({"message": message}, status_code=exc.status_code)


async def _internal_error(request: Request, exc: Exception) -> Response:
    return JSONResponse({"message": f"internal error: {exc!r}"}, status_code=500)


async def _noop(request: Request) -> Response:
    return Response(status_code=200)


def create_app(root: Path | str, runtime: str | None = None) -> Starlette:
    """The API over the store at `root` (containers run with `runtime`)."""
    routes: list[Any] = [
        *routes_system.ROUTES, *routes_images.ROUTES, *routes_containers.ROUTES,
        *routes_build.ROUTES, *routes_exec.ROUTES, *routes_networks.ROUTES, *routes_volumes.ROUTES,
        *routes_events.ROUTES,
        Route("/containers/{id}/resize", _noop, methods=["POST"]),
    ]  # fmt: skip
    app = Starlette(
        routes=routes,
        exception_handlers={DockyardError: _dockyard_error, HTTPException: _http_error,
                            Exception: _internal_error},  # fmt: skip
    )
    app.state.root = Path(root).absolute()
    app.state.runtime = runtime
    app.state.execs = execs.ExecRegistry()
    return app


def parse_host(host: str) -> tuple[str, Any]:
    """`unix:///path/to.sock` -> ("unix", path); `tcp://127.0.0.1:2375` -> ("tcp", (ip, port))."""
    if host.startswith("unix://"):
        path = host[len("unix://") :]
        if not path.startswith("/"):
            raise InvalidArgument(f"invalid host {host!r}", hint="use unix:///absolute/path.sock")
        return "unix", Path(path)
    if host.startswith("tcp://"):
        addr = host[len("tcp://") :].rstrip("/")
        ip, sep, port = addr.rpartition(":")
        if not sep or not port.isdigit():
            raise InvalidArgument(f"invalid host {host!r}", hint="use tcp://IP:PORT")
        return "tcp", (ip.strip("[]") or "127.0.0.1", int(port))
    raise InvalidArgument(f"invalid host {host!r}",
                          hint="use unix:///run/dockyard/docker.sock or tcp://127.0.0.1:2375")  # fmt: skip


def _exit_quietly(signum: int, _frame: Any) -> None:
    raise SystemExit(0)


def serve(root: Path | str, host: str, runtime: str | None = None, log_level: str = "warning") -> None:
    """Serve the API until interrupted (SIGINT/SIGTERM); removes the unix socket afterwards."""
    import uvicorn

    from dockyard.api.hijack import ApiHijacker, HijackingH11Protocol

    kind, where = parse_host(host)
    inner = create_app(root, runtime)
    app = StripVersion(inner)
    hijacker = ApiHijacker(Path(root).absolute(), runtime, inner.state.execs)
    protocol = functools.partial(HijackingH11Protocol, hijacker=hijacker)
    options: dict[str, Any] = {"log_level": log_level, "lifespan": "off", "http": protocol,
                               "ws": "none", "timeout_graceful_shutdown": 3}  # fmt: skip
    if kind == "unix":
        where.parent.mkdir(parents=True, exist_ok=True)
        if where.is_socket():
            where.unlink()
        config = uvicorn.Config(app, uds=str(where), **options)
    else:
        config = uvicorn.Config(app, host=where[0], port=where[1], **options)
    # uvicorn re-raises the signal that stopped it once it has shut down: make that an exit
    # through `finally` (which removes the socket) rather than death by the default handler.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _exit_quietly)
    try:
        uvicorn.Server(config).run()
    finally:
        if kind == "unix" and where.is_socket():
            os.unlink(where)
