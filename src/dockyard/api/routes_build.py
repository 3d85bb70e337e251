"""`POST /build`: the classic builder protocol (a tar context in, `{"stream": ...}` lines out)."""

from __future__ import annotations

import json
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dockyard.api import serialize
from dockyard.api.streams import Emitter, UploadStreamingResponse, body_file, run_streaming
from dockyard.engine import open_store
from dockyard.engine.build import BuildOptions, BuildRequest, build, check_platform
from dockyard.errors import DockyardError, InvalidArgument


def _json_map(request: Request, name: str) -> dict[str, str]:
    text = request.query_params.get(name)
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        raise InvalidArgument(f"invalid {name} {text!r}", hint=f"{name} is a JSON object") from None
    if not isinstance(value, dict):
        raise InvalidArgument(f"invalid {name} {text!r}", hint=f"{name} is a JSON object")
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").lower() in ("1", "true", "yes")


class _StreamText:
    """A text file for build progress: every write becomes a `{"stream": text}` message."""

    def __init__(self, emit: Emitter) -> None:
        self.emit = emit

    def write(self, text: str) -> int:
        if text:
            self.emit(serialize.json_line({"stream": text}))
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def _on_error(exc: BaseException) -> bytes:
    if isinstance(exc, DockyardError):
        return serialize.stream_error(exc)
    return serialize.stream_error(DockyardError(f"internal error: {exc!r}"))


async def build_image(request: Request) -> Response:
    from dockyard.build.progress import Progress
    from dockyard.engine.images import familiar

    q = request.query_params
    if q.get("remote"):
        raise InvalidArgument("building from a remote context is not supported",
                              hint="send the context as a tar body")  # fmt: skip
    check_platform(q.get("platform") or None)
    network = q.get("networkmode") or "default"
    options = BuildOptions(
        tags=q.getlist("t"), build_args=_json_map(request, "buildargs"),
        target=q.get("target") or None, no_cache=_flag(request, "nocache"),
        labels=_json_map(request, "labels"),
        network="default" if network in ("default", "bridge") else network,
        platform=q.get("platform") or None, runtime=request.app.state.runtime,
    )  # fmt: skip
    req = BuildRequest(context_tar=cast(Any, body_file(request)), dockerfile=q.get("dockerfile") or None,
                       options=options)  # fmt: skip
    store = open_store(request.app.state.root)
    quiet = _flag(request, "q")

    def job(emit: Emitter) -> None:
        progress = Progress("quiet" if quiet else "plain", out=cast(Any, _StreamText(emit)))
        result = build(store, req, progress)
        for warning in result.warnings:
            emit(serialize.json_line({"stream": f"WARNING: {warning}\n"}))
        emit(serialize.json_line({"aux": {"ID": result.image_id}}))
        if quiet:  # the classic CLI prints the stream of a quiet build: the image ID
            emit(serialize.json_line({"stream": result.image_id + "\n"}))
        else:
            short = result.image_id.removeprefix("sha256:")[:12]
            emit(serialize.json_line({"stream": f"Successfully built {short}\n"}))
            for name in result.names:
                emit(serialize.json_line({"stream": f"Successfully tagged {familiar(name)}\n"}))

    return UploadStreamingResponse(run_streaming(job, _on_error), media_type="application/json")


ROUTES = [
    Route("/build", build_image, methods=["POST"]),
]
