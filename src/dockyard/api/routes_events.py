"""`GET /events`: container events (create, start, die, destroy) seen by polling the records.

There is no event log: events are what changes while the client listens, so `since` brings
no history; `until` ends the stream at that time.
"""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from dockyard.api.adapters import parse_filters
from dockyard.api.streams import Emitter, run_streaming
from dockyard.engine.containers import ContainerEngine
from dockyard.errors import InvalidArgument
from dockyard.runtime.containers import RUNNING, Container

POLL = 0.25


def _event(c: Container, action: str, extra: dict[str, str] | None = None) -> dict[str, Any]:
    now = time.time_ns()
    attrs = {**(c.config.get("labels") or {}), "image": c.image, "name": c.name, **(extra or {})}
    return {"status": action, "id": c.id, "from": c.image, "Type": "container", "Action": action,
            "Actor": {"ID": c.id, "Attributes": attrs}, "scope": "local",
            "time": now // 10**9, "timeNano": now}  # fmt: skip


def _changes(before: dict[str, Container], after: dict[str, Container]) -> list[dict[str, Any]]:
    out = []
    for cid, c in after.items():
        old = before.get(cid)
        if old is None:
            out.append(_event(c, "create"))
        if c.started_at and (old is None or old.started_at != c.started_at):
            out.append(_event(c, "start"))  # also when it has exited again since the last look
        if c.state != RUNNING and c.finished_at and (old is None or old.finished_at != c.finished_at):
            out.append(_event(c, "die", {"exitCode": str(c.exit_code)}))
    out += [_event(c, "destroy") for cid, c in before.items() if cid not in after]
    return out


def _wanted(ev: dict[str, Any], filters: dict[str, list[str]]) -> bool:
    attrs = ev["Actor"]["Attributes"]
    for key, values in filters.items():
        if not values:
            continue
        if key == "type":
            ok = "container" in values
        elif key == "event":
            ok = ev["Action"] in values
        elif key == "container":
            ok = any(v in (ev["id"], attrs["name"]) or ev["id"].startswith(v) for v in values)
        elif key == "image":
            ok = attrs["image"] in values
        elif key == "label":
            ok = all(k in attrs and (not eq or attrs[k] == v) for k, eq, v in (x.partition("=") for x in values))
        else:
            raise InvalidArgument(f"invalid filter '{key}'", hint="use type, event, container, image or label")
        if not ok:
            return False
    return True


def _timestamp(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise InvalidArgument(f"invalid time {text!r}", hint="use a Unix timestamp") from None


def events(request: Request) -> Response:
    filters = parse_filters(request.query_params.get("filters"))
    _wanted(_event(Container("", "", "", "", 0.0, ""), "probe"), {k: [] for k in filters})
    until = _timestamp(request.query_params.get("until"))
    state = request.app.state

    def job(emit: Emitter) -> None:
        eng = ContainerEngine(state.root, runtime=state.runtime)
        seen = {c.id: c for c in eng.list(all_=True)}
        while until is None or time.time() < until:
            time.sleep(POLL)
            now = {c.id: c for c in eng.list(all_=True)}
            for ev in _changes(seen, now):
                if _wanted(ev, filters):
                    emit(json.dumps(ev).encode() + b"\n")
            seen = now

    return StreamingResponse(run_streaming(job, lambda exc: None), media_type="application/json")


ROUTES = [Route("/events", events, methods=["GET"])]
