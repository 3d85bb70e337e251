"""Exec endpoints: create an exec instance, start it detached (or streamed), inspect it, resize.

An attached start (`Upgrade: tcp`, what `docker exec` and docker-py send) is served by the
hijacker (api/hijack.py); a start without the upgrade streams the output as the response body.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from dockyard.api import execs, serialize
from dockyard.engine.containers import ContainerEngine
from dockyard.errors import Conflict, InvalidArgument, NotFound
from dockyard.runtime.containers import RUNNING


def _registry(request: Request) -> execs.ExecRegistry:
    registry: execs.ExecRegistry = request.app.state.execs
    return registry


def _engine(request: Request) -> ContainerEngine:
    return ContainerEngine(request.app.state.root, runtime=request.app.state.runtime)


def _running_container(request: Request, ref: str) -> str:
    eng = _engine(request)
    try:
        c = eng.get(ref)
    except NotFound as exc:
        raise NotFound(f"No such container: {ref}", hint=exc.hint) from exc
    if c.state != RUNNING:
        raise Conflict(f"container {c.id} is not running", hint=f"start it: docker start {c.name}")
    return c.id


async def create(request: Request) -> Response:
    body = serialize.parse_object(await request.body())
    cid = await run_in_threadpool(_running_container, request, request.path_params["id"])
    rec = _registry(request).create(cid, body)
    return JSONResponse({"Id": rec.id}, status_code=201)


async def start(request: Request) -> Response:
    body = serialize.parse_object(await request.body())
    registry = _registry(request)
    rec = registry.get(request.path_params["id"])
    prep = await run_in_threadpool(execs.prepare, _engine(request), rec)
    try:
        registry.claim(rec.id)
    except Conflict:
        execs.discard(prep)
        raise
    if body.get("Detach"):
        registry.start_detached(rec, prep)
        return Response(status_code=200)
    media = serialize.RAW if rec.tty else serialize.MULTIPLEXED
    return StreamingResponse(_stream(registry, rec, prep), media_type=media)


async def _stream(registry: execs.ExecRegistry, rec: execs.ExecRecord,
                  prep: execs.Prepared) -> AsyncIterator[bytes]:  # fmt: skip
    """The exec's output as a response body (no stdin: the request has ended)."""
    queue: asyncio.Queue[bytes | None] = asyncio.Queue()

    async def no_input() -> bytes:
        return b""

    async def runner() -> None:
        try:
            await execs.run(rec, prep, queue.put_nowait, no_input)
        finally:
            queue.put_nowait(None)

    task = asyncio.ensure_future(runner())  # runs on if the client goes away, as Docker's do
    registry.tasks.add(task)
    task.add_done_callback(registry.tasks.discard)
    while (item := await queue.get()) is not None:
        yield item


async def inspect(request: Request) -> Response:
    return JSONResponse(_registry(request).get(request.path_params["id"]).inspect())


async def resize(request: Request) -> Response:
    rec = _registry(request).get(request.path_params["id"])
    try:
        height, width = int(request.query_params.get("h", "0")), int(request.query_params.get("w", "0"))
    except ValueError:
        raise InvalidArgument("h and w must be numbers", hint="POST /exec/{id}/resize?h=24&w=80") from None
    if height > 0 and width > 0:
        execs.resize(rec, height, width)
    return Response(status_code=200)


ROUTES = [
    Route("/containers/{id}/exec", create, methods=["POST"]),
    Route("/exec/{id}/start", start, methods=["POST"]),
    Route("/exec/{id}/json", inspect, methods=["GET"]),
    Route("/exec/{id}/resize", resize, methods=["POST"]),
]
