"""Registry operations by plain strings: login, logout, pull, push (the CLI and API call these)."""

from __future__ import annotations

import getpass
from collections.abc import Iterable
from typing import TYPE_CHECKING

from dockyard import reference
from dockyard.errors import DockyardError, InvalidArgument, NotFound
from dockyard.image import StoredImage
from dockyard.records import Record
from dockyard.store import Store
from dockyard.transports.registry import auth
from dockyard.transports.registry.client import (
    RegistryClient,
    RegistryOptions,
    endpoint_host,
    load_options,
    registry_error,
)
from dockyard.transports.registry.progress import Progress

if TYPE_CHECKING:  # each imported where used: a push does not load the pull machinery, nor back
    from dockyard.transports.registry.pull import Pulled
    from dockyard.transports.registry.push import Pushed

__all__ = ["PullResult", "login", "logout", "pull", "push", "load_options", "RegistryOptions"]


class PullResult(Record):
    """The images a pull stored, and the lines it printed."""

    def __init__(self, pulled: list[Pulled] | None = None, lines: list[str] | None = None) -> None:
        self.pulled: list[Pulled] = [] if pulled is None else pulled
        self.lines: list[str] = [] if lines is None else lines


def _registry_of(server: str | None) -> str:
    """The registry a `login`/`logout` argument names (Docker Hub by default)."""
    if not server:
        return "docker.io"
    host = server.strip().removeprefix("https://").removeprefix("http://").split("/", 1)[0]
    if not host:
        raise InvalidArgument(f"invalid registry address {server!r}", hint="use HOST[:PORT]")
    return "docker.io" if auth.server_key(host) == auth.INDEX_SERVER else host


def login(server: str | None, username: str, password: str,
          options: RegistryOptions | None = None) -> str:
    """Check the credentials against the registry, then store them; returns Docker's message."""
    registry = _registry_of(server)
    if not username or not password:
        raise InvalidArgument("login needs a username and a password",
                              hint="pass -u USER and -p PASS or --password-stdin")
    creds = auth.Credentials(username, password)
    with RegistryClient(endpoint_host(registry), options or load_options(),
                        credentials=creds) as client:
        resp = client.request("GET", "/v2/")
        resp.close()
        if resp.status_code != 200:
            raise registry_error(resp, f"login to {registry}")
    auth.store_credentials(registry, creds,
                           (options.docker_config if options else None))
    return "Login Succeeded"


def logout(server: str | None, options: RegistryOptions | None = None) -> str:
    registry = _registry_of(server)
    key = auth.server_key(registry)
    if not auth.erase_credentials(registry, options.docker_config if options else None):
        return f"Not logged in to {key}"
    return f"Removing login credentials for {key}"


def _clients(ref: reference.Reference, options: RegistryOptions) -> list[RegistryClient]:
    """Where to pull `ref` from: the registry's mirrors first (Docker Hub's "registry-mirrors",
    or "mirrors" of another host in the config file), then the registry itself."""
    out = []
    if ref.domain == reference.DEFAULT_DOMAIN:
        mirrors = options.mirrors
    else:
        mirrors = options.registry_mirrors.get(ref.domain, ())
    for mirror in mirrors:
        scheme, _, host = mirror.partition("://")
        if not host:
            scheme, host = "", mirror
        out.append(RegistryClient(host.rstrip("/"), options, scheme=scheme or None))
    out.append(RegistryClient(endpoint_host(ref.domain), options))
    return out


def pull(store: Store, text: str, *, platform: str | None = None, all_tags: bool = False,
         options: RegistryOptions | None = None, progress: Progress | None = None) -> PullResult:
    """`docker pull REF`: stores the image(s); prints Docker's lines through `progress`."""
    options = options or load_options()
    progress = progress or Progress(quiet=True)
    ref = reference.parse_reference(text, default_tag=False)
    if all_tags and (ref.tag or ref.digest):
        raise InvalidArgument("tag can't be used with --all-tags/-a", hint="pass the name only")
    if not all_tags and ref.tag is None and ref.digest is None:
        progress.message("Using default tag: latest")
        ref = ref.with_tag("latest")
    result = PullResult()
    clients = _clients(ref, options)
    try:
        last: DockyardError | None = None
        for client in clients:
            try:
                from dockyard.transports.registry.pull import list_tags, pull_image

                refs = [ref.with_tag(t) for t in list_tags(client, ref.path)] if all_tags else [ref]
                for one in refs:
                    result.pulled.append(pull_image(store, client, one, progress, platform))
                    _report(result, progress, one)
                return result
            except DockyardError as exc:  # a mirror that fails (404, down, auth): the next one
                last = exc
                if client is clients[-1]:
                    raise
                progress.message(f"mirror {client.host} failed ({exc.message}), trying the next")
        assert last is not None
        raise last
    finally:
        for c in clients:
            c.close()


def _report(result: PullResult, progress: Progress, ref: reference.Reference) -> None:
    pulled = result.pulled[-1]
    shown = ref.familiar()
    progress.message(f"Digest: {pulled.remote_digest}")
    if pulled.new:
        progress.message(f"Status: Downloaded newer image for {shown}")
    else:
        progress.message(f"Status: Image is up to date for {shown}")
    result.lines.append(str(ref))


def push(store: Store, text: str, *, all_tags: bool = False,
         options: RegistryOptions | None = None, progress: Progress | None = None,
         chunk_size: int | None = None) -> list[Pushed]:
    """`docker push REF`: prints `TAG: digest: sha256:... size: N` per tag through `progress`."""
    options = options or load_options()
    progress = progress or Progress(quiet=True)
    ref = reference.parse_reference(text, default_tag=False)
    if ref.digest is not None:
        raise InvalidArgument(f"cannot push a digest reference ({text})", hint="push NAME:TAG")
    targets = _push_targets(store, ref, all_tags, progress)
    progress.message(f"The push refers to repository [{ref.name}]")
    from dockyard.transports.registry.push import push_image

    out = []
    with RegistryClient(endpoint_host(ref.domain), options) as client:
        for target, image in targets:
            pushed = push_image(store, client, image, target, progress, chunk_size)
            progress.message(f"{pushed.tag}: digest: {pushed.digest} size: {pushed.size}")
            out.append(pushed)
    return out


def _push_targets(store: Store, ref: reference.Reference, all_tags: bool,
                  progress: Progress) -> list[tuple[reference.Reference, StoredImage]]:
    if all_tags or ref.tag is None:
        prefix = ref.name + ":"
        rows = store.db.query("SELECT name FROM image_names WHERE name LIKE ? ESCAPE '\\' ORDER BY name",
                              (prefix.replace("%", r"\%").replace("_", r"\_") + "%",))
        tags = [r["name"][len(prefix):] for r in rows if r["name"].startswith(prefix)]
        if not all_tags:
            progress.message("Using default tag: latest")
            tags = ["latest"]
        elif not tags:
            raise NotFound(f"An image does not exist locally with the tag: {ref.familiar_name()}")
    else:
        tags = [ref.tag]
    out: list[tuple[reference.Reference, StoredImage]] = []
    for tag in tags:
        target = ref.with_tag(tag)
        try:
            out.append((target, store.image(str(target))))
        except NotFound:
            raise NotFound(
                f"An image does not exist locally with the tag: {target.familiar()}",
                hint=f"tag an image first: dockyard tag IMAGE {target.familiar()}",
            ) from None
    return out


def read_password(stdin_text: Iterable[str] | None) -> str:
    if stdin_text is not None:
        return "".join(stdin_text).rstrip("\r\n")
    return getpass.getpass("Password: ")
