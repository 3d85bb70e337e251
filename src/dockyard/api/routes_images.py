"""Image endpoints: list, inspect, remove, tag, history, save (get), load, pull/import (create)."""

from __future__ import annotations

import io
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from dockyard.api import serialize
from dockyard.api.adapters import filter_list, parse_filters
from dockyard.api.streams import (
    Emitter,
    EmitWriter,
    UploadStreamingResponse,
    body_file,
    run_streaming,
)
from dockyard.engine import images as img
from dockyard.engine import open_store
from dockyard.errors import DockyardError, InvalidArgument
from dockyard.store import Store


def _store(request: Request) -> Store:
    return open_store(request.app.state.root)


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").lower() in ("1", "true", "yes")


def _on_error(exc: BaseException) -> bytes:
    if isinstance(exc, DockyardError):
        return serialize.stream_error(exc)
    return serialize.stream_error(DockyardError(f"internal error: {exc!r}"))


def list_images(request: Request) -> Response:
    filters = filter_list(parse_filters(request.query_params.get("filters")))
    summaries = img.list_images(_store(request), all=_flag(request, "all"), filters=filters)
    return JSONResponse([serialize.image_summary(s) for s in summaries])


def inspect_image(request: Request) -> Response:
    return JSONResponse(img.inspect_image(_store(request), request.path_params["name"]))


def remove_image(request: Request) -> Response:
    lines, errors = img.remove_images(
        _store(request), [request.path_params["name"]], force=_flag(request, "force"),
        prune=not _flag(request, "noprune"),
    )  # fmt: skip
    if errors:
        raise errors[0]
    return JSONResponse(serialize.removal_lines(lines))


def tag_image(request: Request) -> Response:
    repo = request.query_params.get("repo", "")
    tag = request.query_params.get("tag", "")
    if not repo:
        raise InvalidArgument("repository name must have at least one component",
                              hint="pass ?repo=NAME[&tag=TAG]")  # fmt: skip
    img.tag_image(_store(request), request.path_params["name"], f"{repo}:{tag}" if tag else repo)
    return Response(status_code=201)


def image_history(request: Request) -> Response:
    store = _store(request)
    name = request.path_params["name"]
    rows = img.image_history(store, name)
    tags = img.summarize(store, store.images.resolve(name)).repo_tags
    return JSONResponse([serialize.history_row(r, tags) for r in rows])


def save_images(request: Request) -> Response:
    """`GET /images/get?names=a&names=b` and `GET /images/{name}/get`: a docker-archive tar."""
    from dockyard.engine import transfer

    names = request.query_params.getlist("names")
    if "name" in request.path_params:
        names = [request.path_params["name"]]
    store = _store(request)
    items = transfer.save_items(store, names)  # unknown names answer 404 before the body starts

    def job(emit: Emitter) -> None:
        writer = io.BufferedWriter(EmitWriter(emit), 1 << 20)
        transfer.write_archive(items, cast(Any, writer))
        writer.flush()

    return StreamingResponse(run_streaming(job, lambda exc: None),
                             media_type="application/x-tar")  # fmt: skip


async def load_images(request: Request) -> Response:
    from dockyard.engine import transfer

    body = body_file(request)
    store = _store(request)

    def job(emit: Emitter) -> None:
        for loaded in transfer.load(store, cast(Any, body)):
            for line in loaded.messages():
                emit(serialize.json_line({"stream": line + "\n"}))

    return UploadStreamingResponse(run_streaming(job, _on_error), media_type="application/json")


class _PullProgress:
    """The registry Progress interface, writing Docker's JSON progress messages."""

    def __init__(self, emit: Emitter) -> None:
        self.emit = emit
        self.quiet = False

    def message(self, text: str) -> None:
        self.emit(serialize.json_line({"status": text}))

    def status(self, key: str, text: str) -> None:
        self.emit(serialize.json_line({"status": text, "progressDetail": {}, "id": key}))

    def advance(self, key: str, action: str, current: int, total: int) -> None:
        self.emit(serialize.json_line({"status": action, "id": key,
                                       "progressDetail": {"current": current, "total": total}}))

    def __getattr__(self, name: str) -> Any:  # any other hook of the registry Progress: ignore
        return lambda *a, **k: None


async def create_image(request: Request) -> Response:
    """`POST /images/create`: pull (`fromImage`) or import a rootfs tar (`fromSrc=-`)."""
    q = request.query_params
    store = _store(request)
    if q.get("fromSrc"):
        if q["fromSrc"] != "-":
            raise InvalidArgument("importing from a URL is not supported",
                                  hint="send the tarball as the request body (fromSrc=-)")  # fmt: skip
        from dockyard.engine.image_import import import_image

        body = body_file(request)
        repo, tag = q.get("repo", ""), q.get("tag", "")
        ref = (f"{repo}:{tag}" if tag else repo) or None

        def do_import(emit: Emitter) -> None:
            image_id = import_image(store, cast(Any, body), ref, changes=q.getlist("changes"),
                                    message=q.get("message", ""), platform=q.get("platform"))  # fmt: skip
            emit(serialize.json_line({"status": image_id}))

        return UploadStreamingResponse(run_streaming(do_import, _on_error),
                                       media_type="application/json")
    image = q.get("fromImage", "")
    if not image:
        raise InvalidArgument("fromImage or fromSrc is required", hint="POST /images/create?fromImage=NAME")
    tag = q.get("tag", "")
    if tag and "@" not in image:
        image = f"{image}@{tag}" if tag.startswith("sha256:") else f"{image}:{tag}"

    def do_pull(emit: Emitter) -> None:
        from dockyard.engine import registry

        registry.pull(store, image, platform=q.get("platform") or None,
                      progress=cast(Any, _PullProgress(emit)))  # fmt: skip

    return StreamingResponse(run_streaming(do_pull, _on_error), media_type="application/json")


def prune_images(request: Request) -> Response:
    filters = parse_filters(request.query_params.get("filters"))
    dangling = filters.pop("dangling", ["true"])
    report = img.prune_images(_store(request), all=dangling[-1].lower() in ("false", "0"),
                              filters=filter_list(filters))  # fmt: skip
    deleted = []
    for line in report.deleted:
        key, _, value = line.partition(": ")
        deleted.append({key.capitalize(): value})
    return JSONResponse({"ImagesDeleted": deleted or None, "SpaceReclaimed": report.space_reclaimed})


ROUTES = [
    Route("/images/json", list_images, methods=["GET"]),
    Route("/images/get", save_images, methods=["GET"]),
    Route("/images/load", load_images, methods=["POST"]),
    Route("/images/create", create_image, methods=["POST"]),
    Route("/images/prune", prune_images, methods=["POST"]),
    Route("/images/{name:path}/json", inspect_image, methods=["GET"]),
    Route("/images/{name:path}/history", image_history, methods=["GET"]),
    Route("/images/{name:path}/tag", tag_image, methods=["POST"]),
    Route("/images/{name:path}/get", save_images, methods=["GET"]),
    Route("/images/{name:path}", remove_image, methods=["DELETE"]),
]
