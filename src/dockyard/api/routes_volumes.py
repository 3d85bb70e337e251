"""Volume endpoints: list, create, inspect, remove, prune (local volumes only)."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dockyard.api import adapters
from dockyard.api.adapters import parse_filters
from dockyard.engine.containers import ContainerEngine
from dockyard.errors import InvalidArgument, NotFound
from dockyard.runtime.volumes import Volume


def _engine(request: Request) -> ContainerEngine:
    return ContainerEngine(request.app.state.root, runtime=request.app.state.runtime)


def _doc(v: Volume) -> dict[str, Any]:
    doc = v.inspect()
    doc["Labels"] = doc.get("Labels") or {}
    return doc


def _get(eng: ContainerEngine, name: str) -> Volume:
    try:
        return eng.volumes.get(name)
    except NotFound as exc:
        raise NotFound(f"get {name}: no such volume", hint=exc.hint) from exc


def _label_ok(v: Volume, value: str) -> bool:
    k, eq, want = value.partition("=")
    return k in v.labels and (not eq or v.labels[k] == want)


def _matches(eng: ContainerEngine, v: Volume, key: str, value: str) -> bool:
    if key == "name":
        return value in v.name
    if key == "label":
        return _label_ok(v, value)
    if key == "driver":
        return value == "local"
    if key == "dangling":
        return (not eng.users_of_volume(v.name)) == (value.lower() in ("1", "true"))
    raise InvalidArgument(f"invalid filter '{key}'", hint="use name, label, driver or dangling")


def list_volumes(request: Request) -> Response:
    eng = _engine(request)
    filters = parse_filters(request.query_params.get("filters"))
    def keep(v: Volume) -> bool:
        for key, values in filters.items():
            check = all if key == "label" else any  # every label must match, any other value may
            if values and not check(_matches(eng, v, key, x) for x in values):
                return False
        return True

    vols = [v for v in eng.volumes.list() if keep(v)]
    return JSONResponse({"Volumes": [_doc(v) for v in vols], "Warnings": []})


async def create(request: Request) -> Response:
    body = await adapters.json_object(request)
    driver = body.get("Driver") or "local"
    if driver != "local":
        raise InvalidArgument(f"volume driver {driver!r} is not supported", hint="use local")
    if body.get("DriverOpts"):
        raise InvalidArgument("volume driver options are not supported", hint="drop DriverOpts")
    labels = {str(k): str(v) for k, v in (body.get("Labels") or {}).items()}
    name = body.get("Name") or None

    def make() -> Volume:
        return _engine(request).volumes.create(name, labels)

    return JSONResponse(_doc(await run_in_threadpool(make)), status_code=201)


def inspect(request: Request) -> Response:
    return JSONResponse(_doc(_get(_engine(request), request.path_params["name"])))


def remove(request: Request) -> Response:
    eng = _engine(request)
    name = request.path_params["name"]
    try:
        _get(eng, name)
    except NotFound:
        if request.query_params.get("force", "").lower() in ("1", "true"):
            return Response(status_code=204)  # Docker's force: a missing volume is no error
        raise
    eng.volumes.remove(name, eng.users_of_volume(name))  # in use: 409, with or without force
    return Response(status_code=204)


def prune(request: Request) -> Response:
    eng = _engine(request)
    filters = parse_filters(request.query_params.get("filters"))
    everything = any(v.lower() in ("1", "true") for v in filters.pop("all", []))
    labels = filters.pop("label", [])
    gone = []
    for v in eng.volumes.list():
        if (v.anonymous or everything) and all(_label_ok(v, lab) for lab in labels) \
                and not eng.users_of_volume(v.name):  # fmt: skip
            eng.volumes.remove(v.name, [])
            gone.append(v.name)
    return JSONResponse({"VolumesDeleted": gone or None, "SpaceReclaimed": 0})


ROUTES = [
    Route("/volumes", list_volumes, methods=["GET"]),
    Route("/volumes/create", create, methods=["POST"]),
    Route("/volumes/prune", prune, methods=["POST"]),
    Route("/volumes/{name}", inspect, methods=["GET"]),
    Route("/volumes/{name}", remove, methods=["DELETE"]),
]
