"""Container endpoints: create, start, list, inspect, stop, kill, rename, restart, wait, remove, logs,
top, commit."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from dockyard.api import adapters, serialize
from dockyard.api.adapters import container_matches, create_request, parse_filters, wait_container
from dockyard.api.streams import Emitter, run_streaming
from dockyard.engine.containers import ContainerEngine
from dockyard.errors import DockyardError, InvalidArgument, NotFound
from dockyard.runtime.containers import RUNNING


def engine(request: Request) -> ContainerEngine:
    state = request.app.state
    return ContainerEngine(state.root, runtime=state.runtime)


def _flag(request: Request, name: str, default: bool = False) -> bool:
    value = request.query_params.get(name)
    if value is None:
        return default
    return value.lower() in ("1", "true", "yes")


def _int(request: Request, name: str) -> int | None:
    value = request.query_params.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidArgument(f"invalid value for {name}: {value!r}", hint="use a number") from None


def _no_such(ref: str, exc: NotFound) -> NotFound:
    return NotFound(f"No such container: {ref}", hint=exc.hint)


def _get(eng: ContainerEngine, ref: str) -> Any:
    try:
        return eng.get(ref)
    except NotFound as exc:
        raise _no_such(ref, exc) from exc


async def create(request: Request) -> Response:
    try:
        body = await request.json()
    except ValueError:
        raise InvalidArgument("invalid JSON in the request body",
                              hint="send Docker's create config") from None
    req = create_request(body, request.query_params.get("name"))
    return await _run_sync(request, lambda: _create(request, req, body))


def _create(request: Request, req: Any, body: dict[str, Any]) -> Response:
    eng = engine(request)
    extra, aliases = adapters.endpoints(eng, req, body)
    try:
        c = eng.create(req)
    except NotFound as exc:
        if "image" in exc.message.lower() or "unable to find" in exc.message.lower():
            raise NotFound(f"No such image: {req.image}", hint=exc.hint) from exc
        raise
    adapters.record_endpoints(eng, c, extra, aliases)
    return JSONResponse({"Id": c.id, "Warnings": []}, status_code=201)


async def _run_sync(request: Request, fn: Any) -> Response:
    from starlette.concurrency import run_in_threadpool

    result: Response = await run_in_threadpool(fn)
    return result


def start(request: Request) -> Response:
    eng = engine(request)
    c = _get(eng, request.path_params["id"])
    if c.state == RUNNING:
        return Response(status_code=304)
    adapters.start(eng, c)
    return Response(status_code=204)


def list_containers(request: Request) -> Response:
    from dockyard.runtime.inspect import status_text

    eng = engine(request)
    filters = parse_filters(request.query_params.get("filters"))
    rows = [c for c in eng.list(all_=_flag(request, "all")) if container_matches(c, filters)]
    rows.sort(key=lambda c: c.created, reverse=True)
    limit = _int(request, "limit")
    if limit is not None and limit > 0:
        rows = rows[:limit]
    out = [serialize.container_summary(c, status_text(c), _inspect(eng, c)) for c in rows]
    return JSONResponse(out)


def _inspect(eng: ContainerEngine, c: Any) -> dict[str, Any]:
    doc = eng.inspect(c.id)
    adapters.network_settings(c, doc)
    return doc


def inspect(request: Request) -> Response:
    eng = engine(request)
    c = _get(eng, request.path_params["id"])
    return JSONResponse(serialize.container_inspect(_inspect(eng, c)))


def stop(request: Request) -> Response:
    eng = engine(request)
    c = _get(eng, request.path_params["id"])
    if c.state != RUNNING:
        return Response(status_code=304)
    sig = request.query_params.get("signal")
    if sig:
        c.config["stop_signal"] = sig if sig.upper().startswith("SIG") or sig.isdigit() else "SIG" + sig.upper()
        eng.records.update(c)
    eng.stop(c.id, _int(request, "t"))
    return Response(status_code=204)


def kill(request: Request) -> Response:
    eng = engine(request)
    c = _get(eng, request.path_params["id"])
    eng.kill(c.id, request.query_params.get("signal") or "KILL")
    return Response(status_code=204)


def rename(request: Request) -> Response:
    eng = engine(request)
    c = _get(eng, request.path_params["id"])
    eng.rename(c.id, request.query_params.get("name") or "")
    return Response(status_code=204)


def restart(request: Request) -> Response:
    eng = engine(request)
    c = _get(eng, request.path_params["id"])
    eng.stop(c.id, _int(request, "t"))
    adapters.start(eng, eng.get(c.id))
    return Response(status_code=204)


def remove(request: Request) -> Response:
    eng = engine(request)
    c = _get(eng, request.path_params["id"])
    eng.remove(c.id, force=_flag(request, "force"), volumes=_flag(request, "v"))
    return Response(status_code=204)


def wait(request: Request) -> Response:
    """Headers go out at once (the CLI starts the container only after it has them)."""
    eng = engine(request)
    c = _get(eng, request.path_params["id"])
    condition = request.query_params.get("condition", "")

    def job(emit: Emitter) -> None:
        code = wait_container(eng, c.id, condition, stop=emit.gone)
        emit(json.dumps({"StatusCode": code, "Error": None}).encode() + b"\n")

    def on_error(exc: BaseException) -> bytes:
        message = exc.message if isinstance(exc, DockyardError) else repr(exc)
        return json.dumps({"StatusCode": -1, "Error": {"Message": message}}).encode() + b"\n"

    return StreamingResponse(run_streaming(job, on_error), media_type="application/json")


def logs(request: Request) -> Response:
    from dockyard.runtime.inspect import iso
    from dockyard.runtime.logs import parse_since

    eng = engine(request)
    c = _get(eng, request.path_params["id"])
    want = {"stdout": _flag(request, "stdout"), "stderr": _flag(request, "stderr")}
    if not any(want.values()):
        raise InvalidArgument("you must choose at least one stream", hint="pass stdout=1 and/or stderr=1")
    tail_text = request.query_params.get("tail", "all")
    tail = None if tail_text in ("all", "") else _int(request, "tail")
    since_text = request.query_params.get("since", "0")
    since = parse_since(since_text) if since_text not in ("", "0") else None
    stamps = _flag(request, "timestamps")
    tty = bool(c.config.get("options", {}).get("tty"))

    def job(emit: Emitter) -> None:
        for entry in eng.logs(c.id, follow=_flag(request, "follow"), tail=tail, since=since):
            if not want.get(entry.stream, False):
                continue
            text = (iso(entry.epoch).encode() + b" " + entry.text) if stamps else entry.text
            kind = serialize.STDERR if entry.stream == "stderr" else serialize.STDOUT
            emit(text if tty else serialize.frame(kind, text))

    media = serialize.RAW if tty else serialize.MULTIPLEXED
    return StreamingResponse(run_streaming(job, lambda exc: None), media_type=media)


def top(request: Request) -> Response:
    eng = engine(request)
    c = _get(eng, request.path_params["id"])
    lines = eng.top(c.id).splitlines()
    titles = lines[0].split() if lines else []
    procs = [line.split(None, len(titles) - 1) for line in lines[1:] if line.strip()]
    return JSONResponse({"Titles": titles, "Processes": procs})


def prune(request: Request) -> Response:
    gone = engine(request).prune()
    return JSONResponse({"ContainersDeleted": gone or None, "SpaceReclaimed": 0})


async def commit(request: Request) -> Response:
    """`POST /commit`: the container's changes as a new image; `{"Id": "sha256:..."}`."""
    from dockyard.engine.commit import commit as commit_container
    from dockyard.engine.commit import parse_body

    q = request.query_params
    config = parse_body(await request.body())
    ref = q.get("container") or ""
    repo, tag = q.get("repo") or "", q.get("tag") or ""
    name = (f"{repo}:{tag}" if tag else repo) or None

    def run() -> Response:
        eng = engine(request)
        _get(eng, ref)
        result = commit_container(eng, ref, name, author=q.get("author") or "",
                                  message=q.get("comment") or "", changes=q.getlist("changes"),
                                  pause=_flag(request, "pause", True), config=config)  # fmt: skip
        return JSONResponse({"Id": result.id}, status_code=201)

    return await _run_sync(request, run)


ROUTES = [
    Route("/commit", commit, methods=["POST"]),
    Route("/containers/create", create, methods=["POST"]),
    Route("/containers/json", list_containers, methods=["GET"]),
    Route("/containers/prune", prune, methods=["POST"]),
    Route("/containers/{id}/json", inspect, methods=["GET"]),
    Route("/containers/{id}/start", start, methods=["POST"]),
    Route("/containers/{id}/stop", stop, methods=["POST"]),
    Route("/containers/{id}/kill", kill, methods=["POST"]),
    Route("/containers/{id}/rename", rename, methods=["POST"]),
    Route("/containers/{id}/restart", restart, methods=["POST"]),
    Route("/containers/{id}/wait", wait, methods=["POST"]),
    Route("/containers/{id}/logs", logs, methods=["GET"]),
    Route("/containers/{id}/top", top, methods=["GET"]),
    Route("/containers/{id}", remove, methods=["DELETE"]),
]
