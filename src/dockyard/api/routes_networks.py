"""Network endpoints: list, inspect, create, remove, connect, disconnect, prune."""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dockyard.api import adapters
from dockyard.api.adapters import parse_filters
from dockyard.engine import networks as netengine
from dockyard.engine.containers import ContainerEngine
from dockyard.errors import Conflict, InvalidArgument, NotFound

PSEUDO = {"host": "host", "none": "null"}  # the networks that are modes, not CNI networks


def _engine(request: Request) -> ContainerEngine:
    return ContainerEngine(request.app.state.root, runtime=request.app.state.runtime)


def _pseudo(name: str) -> dict[str, Any]:
    return {
        "Name": name, "Id": hashlib.sha256(f"dockyard-{name}".encode()).hexdigest(),
        "Created": "0001-01-01T00:00:00Z", "Scope": "local", "Driver": PSEUDO[name],
        "EnableIPv6": False, "IPAM": {"Driver": "default", "Options": None, "Config": []},
        "Internal": False, "Attachable": False, "Ingress": False, "ConfigFrom": {"Network": ""},
        "ConfigOnly": False, "Containers": {}, "Options": {}, "Labels": {},
    }  # fmt: skip


def _all(eng: ContainerEngine, with_members: bool) -> list[dict[str, Any]]:
    running = eng.list(all_=False) if with_members else []
    docs = [_doc(netengine.network_inspect(n, running)) for n in eng.networks.list()]
    return docs + [_pseudo(name) for name in PSEUDO]


def _doc(doc: dict[str, Any]) -> dict[str, Any]:
    doc.setdefault("ConfigFrom", {"Network": ""})
    doc.setdefault("ConfigOnly", False)
    doc["Labels"] = doc.get("Labels") or {}
    return doc


def _find(eng: ContainerEngine, ref: str, with_members: bool = True) -> dict[str, Any]:
    docs = _all(eng, with_members)
    for key in ("Name", "Id"):
        exact = [d for d in docs if d[key] == ref]
        if exact:
            return exact[0]
    prefixed = [d for d in docs if ref and d["Id"].startswith(ref)]
    if len(prefixed) == 1:
        return prefixed[0]
    raise NotFound(f"network {ref} not found", hint="list networks with `docker network ls`")


def _matches(doc: dict[str, Any], key: str, value: str, dangling: set[str]) -> bool:
    if key == "name":
        return value in doc["Name"]
    if key == "id":
        return bool(doc["Id"].startswith(value))
    if key == "driver":
        return bool(doc["Driver"] == value)
    if key == "scope":
        return value == "local"
    if key == "type":
        builtin = doc["Name"] in ("bridge", *PSEUDO)
        return (value == "builtin") == builtin
    if key == "label":
        k, eq, v = value.partition("=")
        labels = doc.get("Labels") or {}
        return k in labels and (not eq or labels[k] == v)
    if key == "dangling":
        want = value.lower() in ("1", "true")
        return (doc["Name"] in dangling) == want
    raise InvalidArgument(f"invalid filter '{key}'", hint="use name, id, driver, type, label or dangling")


def _filtered(eng: ContainerEngine, filters: dict[str, list[str]]) -> list[dict[str, Any]]:
    docs = _all(eng, with_members=False)
    dangling = set()
    if "dangling" in filters:
        used = adapters.networks_in_use(eng)
        dangling = {d["Name"] for d in docs if d["Name"] not in used and d["Name"] not in ("bridge", *PSEUDO)}
    def keep(d: dict[str, Any]) -> bool:
        for key, values in filters.items():
            check = all if key == "label" else any  # every label must match, any other value may
            if values and not check(_matches(d, key, v, dangling) for v in values):
                return False
        return True

    return [d for d in docs if keep(d)]


def list_networks(request: Request) -> Response:
    filters = parse_filters(request.query_params.get("filters"))
    return JSONResponse(_filtered(_engine(request), filters))


def inspect(request: Request) -> Response:
    return JSONResponse(_find(_engine(request), request.path_params["id"]))


async def create(request: Request) -> Response:
    body = await adapters.json_object(request)
    return await run_in_threadpool(_create, request, body)


def _create(request: Request, body: dict[str, Any]) -> Response:
    name = body.get("Name")
    if not isinstance(name, str) or not name:
        raise InvalidArgument("network name is required", hint="send {\"Name\": ...}")
    driver = body.get("Driver") or "bridge"
    configs = (body.get("IPAM") or {}).get("Config") or []
    subnet = configs[0].get("Subnet") if configs else None
    gateway = configs[0].get("Gateway") if configs else None
    if name in PSEUDO:
        raise Conflict(f"network with name {name} already exists", hint="pick another name")
    labels = {str(k): str(v) for k, v in (body.get("Labels") or {}).items()}
    net = _engine(request).networks.create(name, subnet=subnet or None, gateway=gateway or None,
                                           internal=bool(body.get("Internal")), labels=labels,
                                           driver=driver)  # fmt: skip
    return JSONResponse({"Id": net.id, "Warning": ""}, status_code=201)


def remove(request: Request) -> Response:
    eng = _engine(request)
    doc = _find(eng, request.path_params["id"], with_members=False)
    if doc["Name"] in PSEUDO or doc["Name"] == "bridge":
        raise Conflict(f"{doc['Name']} is a pre-defined network and cannot be removed",
                       hint="remove only networks made with `network create`")  # fmt: skip
    users = adapters.network_users(eng, doc["Name"])
    if users:
        raise Conflict(f"error while removing network: network {doc['Name']} id {doc['Id']} has active endpoints",
                       hint=f"remove the containers first: {', '.join(users)}")  # fmt: skip
    eng.networks.remove(doc["Name"])
    return Response(status_code=204)


async def connect(request: Request) -> Response:
    body = await adapters.json_object(request)
    await run_in_threadpool(_connect, request, body)
    return Response(status_code=200)


def _connect(request: Request, body: dict[str, Any]) -> None:
    eng = _engine(request)
    doc = _find(eng, request.path_params["id"], with_members=False)
    c = adapters.container(eng, str(body.get("Container") or ""))
    aliases = [str(a) for a in ((body.get("EndpointConfig") or {}).get("Aliases") or [])]
    adapters.connect(eng, c, doc["Name"], aliases)


async def disconnect(request: Request) -> Response:
    body = await adapters.json_object(request)
    await run_in_threadpool(_disconnect, request, body)
    return Response(status_code=200)


def _disconnect(request: Request, body: dict[str, Any]) -> None:
    eng = _engine(request)
    doc = _find(eng, request.path_params["id"], with_members=False)
    c = adapters.container(eng, str(body.get("Container") or ""))
    adapters.disconnect(eng, c, doc["Name"])


def prune(request: Request) -> Response:
    eng = _engine(request)
    filters = parse_filters(request.query_params.get("filters"))
    labels = filters.pop("label", [])
    used = adapters.networks_in_use(eng)
    gone = []
    for net in eng.networks.list():
        if not net.user_defined or net.name in used:
            continue
        if not all(_matches(_doc({"Name": net.name, "Labels": net.labels}), "label", lab, set()) for lab in labels):
            continue
        eng.networks.remove(net.name)
        gone.append(net.name)
    return JSONResponse({"NetworksDeleted": gone or None})


ROUTES = [
    Route("/networks", list_networks, methods=["GET"]),
    Route("/networks/create", create, methods=["POST"]),
    Route("/networks/prune", prune, methods=["POST"]),
    Route("/networks/{id}/connect", connect, methods=["POST"]),
    Route("/networks/{id}/disconnect", disconnect, methods=["POST"]),
    Route("/networks/{id}", inspect, methods=["GET"]),
    Route("/networks/{id}", remove, methods=["DELETE"]),
]
