"""The Starlette app: routes every /v2/ path of the distribution spec, with auth and read-only mode."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dockyard.registry_server import blobs, manifests
from dockyard.registry_server.auth import TOKEN_TTL, Authenticator, load_htpasswd, parse_basic
from dockyard.registry_server.errors import API_HEADERS, error, name_problem
from dockyard.registry_server.storage import RegistryStorage

SERVICE = "dockyard-registry"
_PATH_RE = re.compile(
    r"^(?P<name>.+)/(?:"
    r"blobs/uploads/(?P<upload>[^/]*)"
    r"|blobs/(?P<blob>[^/]+)"
    r"|manifests/(?P<manifest>[^/]+)"
    r"|tags/list"
    r"|referrers/(?P<referrer>[^/]+)"
    r")$"
)
_WRITE = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass
class ServerConfig:
    root: Path
    htpasswd: Path | None = None
    token_auth: bool = False  # issue bearer tokens at /token instead of taking Basic on /v2/
    anonymous_pull: bool = False  # with token auth: tokens for pull without credentials
    read_only: bool = False


class Registry:
    """The app's state: storage and who may do what."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.storage = RegistryStorage(config.root)
        self.auth = Authenticator(load_htpasswd(config.htpasswd)) if config.htpasswd else None

    # -- access control --------------------------------------------------------------------
    def challenge(self, request: Request, name: str | None, action: str) -> Response | None:
        """None when the request may go on, else the 401 answer with its challenge."""
        if self.auth is None:
            return None
        header = request.headers.get("authorization", "")
        if self.config.token_auth:
            if self.auth.check_bearer(header, name, action):
                return None
            base = str(request.base_url).rstrip("/")
            scope = f',scope="repository:{name}:{"pull,push" if action == "push" else "pull"}"' \
                if name else ""
            value = f'Bearer realm="{base}/token",service="{SERVICE}"{scope}'
        else:
            if header and self.auth.check_basic(header) is not None:
                return None
            value = f'Basic realm="{SERVICE}"'
        return error(401, "UNAUTHORIZED", headers={"WWW-Authenticate": value})

    async def token(self, request: Request) -> Response:
        """The token endpoint: Basic credentials (or none, for anonymous pull) -> a bearer token."""
        assert self.auth is not None
        header = request.headers.get("authorization", "")
        scopes = request.query_params.getlist("scope")
        user: str | None = None
        if header:
            creds = parse_basic(header)
            ok = creds is not None and await run_in_threadpool(self.auth.check_password, *creds)
            if not ok or creds is None:
                return error(401, "UNAUTHORIZED", message="invalid username or password",
                             headers={"WWW-Authenticate": f'Basic realm="{SERVICE}"'})
            user = creds[0]
        elif self.config.anonymous_pull:
            scopes = [_pull_only(s) for s in scopes]
        else:
            return error(401, "UNAUTHORIZED", message="authentication required",
                         headers={"WWW-Authenticate": f'Basic realm="{SERVICE}"'})
        token = self.auth.issue(user or "", scopes)
        return JSONResponse({"token": token, "access_token": token, "expires_in": TOKEN_TTL})

    # -- routing ---------------------------------------------------------------------------
    async def base(self, request: Request) -> Response:
        denied = self.challenge(request, None, "pull")
        if denied is not None:
            return denied
        return JSONResponse({}, headers=API_HEADERS)

    async def catalog(self, request: Request) -> Response:
        denied = self.challenge(request, None, "pull")
        return denied or manifests.catalog(request, self.storage)

    async def dispatch(self, request: Request) -> Response:
        path = request.path_params["path"]
        m = _PATH_RE.match(path)
        if m is None:
            return error(404, "NAME_UNKNOWN", detail={"path": path}, message="no such endpoint")
        name = m.group("name")
        problem = name_problem(name)
        if problem is not None:
            return error(400, "NAME_INVALID", detail={"name": name, "reason": problem})
        method = request.method
        action = "push" if method in _WRITE else "pull"
        if m.group("upload") is not None and method == "GET":
            action = "push"
        denied = self.challenge(request, name, action)
        if denied is not None:
            return denied
        if self.config.read_only and action == "push":
            return error(405, "UNSUPPORTED", message="this registry is read-only")
        return await self._route(request, m, name, method)

    async def _route(self, request: Request, m: re.Match[str], name: str, method: str) -> Response:
        s = self.storage
        if m.group("upload") is not None:
            upload_id = m.group("upload")
            if not upload_id:
                if method == "POST":
                    return await blobs.start_upload(request, s, name)
            elif method in ("PATCH", "PUT", "GET", "DELETE"):
                return await blobs.upload(request, s, name, upload_id)
        elif m.group("blob") is not None:
            if method in ("GET", "HEAD"):
                return blobs.get_blob(request, s, name, m.group("blob"))
            if method == "DELETE":
                return blobs.delete_blob(s, name, m.group("blob"))
        elif m.group("manifest") is not None:
            ref = m.group("manifest")
            if method in ("GET", "HEAD"):
                return manifests.get_manifest(request, s, name, ref)
            if method == "PUT":
                return await manifests.put_manifest(request, s, name, ref)
            if method == "DELETE":
                return manifests.delete_manifest(s, name, ref)
        elif m.group("referrer") is not None:
            if method == "GET":
                return manifests.referrers(request, s, name, m.group("referrer"))
        elif method == "GET":
            return manifests.list_tags(request, s, name)
        return error(405, "UNSUPPORTED", message=f"method {method} not allowed here")


def _pull_only(scope: str) -> str:
    parts = scope.split(":")
    if len(parts) >= 3:
        actions = [a for a in parts[-1].split(",") if a == "pull"]
        return ":".join([*parts[:-1], ",".join(actions)])
    return scope


def create_app(config: ServerConfig) -> Starlette:
    registry = Registry(config)
    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
    routes = [
        Route("/v2/", registry.base, methods=["GET", "HEAD"]),
        Route("/v2/_catalog", registry.catalog, methods=["GET"]),
        Route("/v2/{path:path}", registry.dispatch, methods=methods),
    ]
    if registry.auth is not None and config.token_auth:
        routes.append(Route("/token", registry.token, methods=["GET"]))
    app = Starlette(routes=routes)
    app.state.registry = registry
    return app
