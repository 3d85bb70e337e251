"""`commit`: a container's filesystem changes become one new layer on top of its image."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from dockyard.engine.rootfs import snapshot_key
from dockyard.errors import InvalidArgument, Unavailable
from dockyard.image import mutate
from dockyard.image.changes import apply_changes
from dockyard.oci import mediatypes as mt
from dockyard.oci.config import History, now
from dockyard.oci.container_config import ContainerConfig
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.records import FrozenRecord
from dockyard.runtime import rootless
from dockyard.runtime.bundle import merge_env
from dockyard.runtime.containers import RUNNING, Container
from dockyard.store.images import normalize_name

if TYPE_CHECKING:
    from dockyard.engine.containers import ContainerEngine
    from dockyard.image.layer import DiffResult
    from dockyard.store import Store

# The diff ID of a layer tar holding nothing (1024 zero bytes): Docker's "empty layer".
EMPTY_LAYER = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"


class CommitResult(FrozenRecord):
    """What `commit` made: the image ID and warnings for the user (e.g. the pause was skipped)."""

    def __init__(self, id: str, warnings: tuple[str, ...] = ()) -> None:
        self.id = id
        self.warnings = warnings


def container_config(c: Container) -> dict[str, Any]:
    """The container's Config as Docker keeps it (image defaults with the run's options over them)."""
    cfg = c.config
    image = dict(cfg.get("image_config") or {})
    opts = cfg.get("options") or {}
    detach = bool(cfg.get("detach", False))
    labels = {**(image.get("Labels") or {}), **(cfg.get("labels") or {})}
    exposed: dict[str, Any] | None = {p: {} for p in cfg.get("exposed") or []} or image.get("ExposedPorts")
    out: dict[str, Any] = {
        "Hostname": cfg.get("hostname") or c.short_id, "Domainname": "",
        "User": opts.get("user") or image.get("User") or "",
        "AttachStdin": bool(opts.get("interactive")) and not detach,
        "AttachStdout": not detach, "AttachStderr": not detach,
        "ExposedPorts": exposed or None,
        "Tty": bool(opts.get("tty")), "OpenStdin": bool(opts.get("interactive")),
        "StdinOnce": bool(opts.get("interactive")) and not detach,
        "Env": merge_env(list(image.get("Env") or []), list(opts.get("env") or [])) or None,
        "Cmd": cfg.get("cmd"), "Image": c.image, "Volumes": image.get("Volumes"),
        "WorkingDir": cfg.get("workdir") or "", "Entrypoint": cfg.get("entrypoint"),
        "OnBuild": image.get("OnBuild"), "Labels": labels or None,
    }  # fmt: skip
    for key in ("StopSignal", "Shell"):
        if image.get(key):
            out[key] = image[key]
    if cfg.get("healthcheck"):
        out["Healthcheck"] = cfg["healthcheck"]
    return out


def merge(user: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """Docker's merge: fields `user` leaves empty are taken from `base` (the container's Config)."""
    out = dict(user)
    for key in ("User", "WorkingDir", "StopSignal", "Hostname", "Image"):
        if not out.get(key) and base.get(key):
            out[key] = base[key]
    for key in ("ExposedPorts", "Volumes", "Labels"):
        merged = {**(base.get(key) or {}), **(out.get(key) or {})}
        out[key] = merged or None
    if out.get("Env"):
        keys = {e.partition("=")[0] for e in out["Env"]}
        out["Env"] = [*out["Env"], *(e for e in base.get("Env") or [] if e.partition("=")[0] not in keys)]
    else:
        out["Env"] = base.get("Env")
    if not out.get("Entrypoint"):
        if not out.get("Cmd"):
            out["Cmd"] = base.get("Cmd")
        if out.get("Entrypoint") is None:
            out["Entrypoint"] = base.get("Entrypoint")
    for key in ("OnBuild", "Shell", "Healthcheck"):
        if not out.get(key) and base.get(key):
            out[key] = base[key]
    return out


def commit(
    engine: ContainerEngine,
    ref: str,
    repository: str | None = None,
    *,
    author: str = "",
    message: str = "",
    changes: list[str] | tuple[str, ...] = (),
    pause: bool = True,
    config: dict[str, Any] | None = None,
) -> CommitResult:
    """Make an image of container `ref`'s filesystem and config; named `repository` if given.

    `config` (the Engine API's body) replaces the container's Config as the base the `changes`
    apply to; fields it leaves empty come from the container, as Docker merges them.
    """
    name = normalize_name(repository) if repository else None  # a bad name fails before any work
    store: Store | None = getattr(engine.images, "store", None)
    if store is None:
        raise Unavailable("commit needs the store's snapshots", hint="use a dockyard store root")
    c = engine.get(ref)
    base_cfg = container_config(c)
    new_cfg = merge(apply_changes(config if config is not None else base_cfg, list(changes)), base_cfg)
    try:
        container = ContainerConfig.from_dict(new_cfg)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"invalid container config: {exc}", hint="check the JSON body") from exc
    warnings: list[str] = []
    with store.lease(), engine._locked(c):
        c = engine.get(c.id)
        with _paused(engine, c, pause, warnings):
            layer = _write_layer(store, snapshot_key(c.id))
        image = store.image(c.image_id)
        created = now()
        empty = layer.digest == EMPTY_LAYER
        entry = History(created=created, created_by=" ".join(base_cfg.get("Cmd") or []),
                        author=author, comment=message, empty_layer=empty)  # fmt: skip
        extra = {k: v for k, v in image.config.extra.items() if k not in ("container_config",)}
        extra.update(container=c.id, docker_version=_docker_version())
        if message:
            extra["comment"] = message
        else:
            extra.pop("comment", None)
        new = image.config.with_history(entry) if empty else image.config.with_layer(layer.digest, entry)
        new = new.replace(created=created, author=author, config=container, extra=extra)
        layers = list(image.layers)
        if not empty:
            layers.append(Descriptor(mt.DOCKER_LAYER, Digest(layer.digest), layer.size))
        stored = mutate.write_image(store, new, layers, docker=True)
        mutate.register(stored, [name] if name else [], parent=image.id)
    return CommitResult(stored.id, tuple(warnings))


@contextmanager
def _paused(engine: ContainerEngine, c: Container, pause: bool, warnings: list[str]) -> Iterator[None]:
    """The container frozen (runc pause) while its changes are read, resumed afterwards."""
    if not pause or c.state != RUNNING:
        yield
        return
    if rootless.active():  # no cgroup of its own: runc has nothing to freeze
        warnings.append("the container was not paused: rootless containers have no cgroup to freeze")
        yield
        return
    engine.runtime.pause(c.id)
    try:
        yield
    finally:
        engine.runtime.resume(c.id)


def _write_layer(store: Store, key: str) -> DiffResult:
    """Container snapshot `key`'s changes as an uncompressed layer blob (the snapshot stays)."""
    snap = store.snapshots.active(key)
    with store.content.ingest(prefix="layer-") as ingest:
        if store.snapshots.driver == "copy":
            from dockyard.image.treediff import write_tree_diff

            lower = store.snapshots.path(snap.parent) if snap.parent is not None else None
            since = (snap.upper.parent / "prepared").stat().st_ctime_ns
            result = write_tree_diff(lower, snap.upper, ingest, since)
        else:
            from dockyard.image.layer import write_diff

            result = write_diff(snap.upper, ingest)
        ingest.adopt(result.digest, result.size)
    return result


def parse_body(raw: bytes) -> dict[str, Any] | None:
    """The Engine API's optional container config body (empty or `null`: none)."""
    if not raw.strip():
        return None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise InvalidArgument(f"invalid JSON body: {exc}", hint="send a container config object") from exc
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidArgument("the body must be a container config object", hint="send {} or nothing")
    return value


def _docker_version() -> str:
    from dockyard import __version__

    return f"dockyard-{__version__}"
