"""Docker Engine API JSON shapes: image and container summaries, errors, stream frames."""

from __future__ import annotations

import json
import struct
from typing import Any

from dockyard.engine.images import HistoryRow, ImageSummary
from dockyard.errors import AlreadyExists, Conflict, DockyardError, InvalidArgument, NotFound
from dockyard.runtime.containers import Container

STDIN, STDOUT, STDERR = 0, 1, 2
MULTIPLEXED = "application/vnd.docker.multiplexed-stream"
RAW = "application/vnd.docker.raw-stream"


def error_status(exc: DockyardError) -> int:
    """The HTTP status Docker's daemon answers for each error kind (the CLI keys on it)."""
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, (Conflict, AlreadyExists)):
        return 409
    if isinstance(exc, InvalidArgument):
        return 400
    return 500


def error_body(exc: DockyardError) -> dict[str, str]:
    message = exc.message if not exc.hint else f"{exc.message} ({exc.hint})"
    return {"message": message}


def parse_object(data: bytes) -> dict[str, Any]:
    """A request body as a JSON object ({} when empty); InvalidArgument otherwise."""
    if not data.strip():
        return {}
    try:
        body = json.loads(data)
    except ValueError:
        raise InvalidArgument("invalid JSON in the request body", hint="send a JSON object") from None
    if not isinstance(body, dict):
        raise InvalidArgument("the request body must be a JSON object", hint="send a JSON object")
    return body


def json_line(obj: dict[str, Any]) -> bytes:
    """One message of a JSON progress stream (pull, load, build)."""
    return json.dumps(obj).encode() + b"\r\n"


def stream_error(exc: DockyardError) -> bytes:
    message = error_body(exc)["message"]
    return json_line({"errorDetail": {"message": message}, "error": message})


def frame(stream: int, data: bytes) -> bytes:
    """Docker's multiplexed stream frame: [stream, 0, 0, 0, size (uint32 BE)] + data."""
    return struct.pack(">BxxxL", stream, len(data)) + data


def image_summary(s: ImageSummary) -> dict[str, Any]:
    return {
        "Id": s.id,
        "ParentId": s.parent or "",
        "RepoTags": s.repo_tags,
        "RepoDigests": s.repo_digests,
        "Created": int(s.created or 0),
        "Size": s.size,
        "SharedSize": -1,
        "VirtualSize": s.size,
        "Labels": s.labels or {},
        "Containers": -1,
    }


def history_row(row: HistoryRow, tags: list[str]) -> dict[str, Any]:
    return {
        "Id": row.image,
        "Created": int(row.created or 0),
        "CreatedBy": row.created_by,
        "Tags": tags if row.image != "<missing>" else None,
        "Size": row.size,
        "Comment": row.comment,
    }


def removal_lines(lines: list[str]) -> list[dict[str, str]]:
    """engine.images.remove_image's `Untagged: x` / `Deleted: id` lines as Docker's objects."""
    out = []
    for line in lines:
        key, _, value = line.partition(": ")
        if key in ("Untagged", "Deleted"):
            out.append({key: value})
    return out


def _ports(c: Container) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    published = set()
    if c.state == "running":
        for p in c.config.get("ports", []):
            published.add(f"{p['containerPort']}/{p['protocol']}")
            out.append({"IP": p.get("hostIP") or "0.0.0.0", "PrivatePort": p["containerPort"],
                        "PublicPort": p["hostPort"], "Type": p["protocol"]})  # fmt: skip
    for key in c.config.get("exposed", []) if c.state == "running" else []:
        if key not in published:
            port, _, proto = key.partition("/")
            if port.isdigit():
                out.append({"PrivatePort": int(port), "Type": proto or "tcp"})
    return out


def container_summary(c: Container, status: str, inspect: dict[str, Any]) -> dict[str, Any]:
    """One entry of `GET /containers/json` (what `docker ps` shows)."""
    args = c.config.get("args") or []
    return {
        "Id": c.id,
        "Names": ["/" + c.name],
        "Image": c.image,
        "ImageID": c.image_id,
        "Command": " ".join(args),
        "Created": int(c.created),
        "Ports": _ports(c),
        "Labels": c.config.get("labels") or {},
        "State": c.state,
        "Status": status,
        "HostConfig": {"NetworkMode": c.config.get("network_mode", "bridge")},
        "NetworkSettings": {"Networks": inspect.get("NetworkSettings", {}).get("Networks", {})},
        "Mounts": inspect.get("Mounts", []),
    }


def container_inspect(doc: dict[str, Any]) -> dict[str, Any]:
    """The engine's `inspect` document with the fields API clients index without checking.

    LogConfig says json-file: clients (docker-py's `run`) read that as "logs can be fetched
    and followed", which the logs endpoint does from conmon's log.
    """
    host = doc.setdefault("HostConfig", {})
    host.setdefault("LogConfig", {"Type": "json-file", "Config": {}})
    host.setdefault("Binds", None)
    return doc
