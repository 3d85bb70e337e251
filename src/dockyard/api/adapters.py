"""Docker API request shapes -> engine calls: the create body, list filters, wait conditions."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from dockyard.engine.containers import ContainerEngine, CreateRequest
from dockyard.errors import InvalidArgument, NotFound
from dockyard.runtime.bundle import MountSpec, RunOptions
from dockyard.runtime.containers import RUNNING, Container
from dockyard.runtime.requests import parse_volume


def _list(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArgument(f"{what} must be a list of strings", hint="fix the request body")
    return list(value)


def _publish_specs(bindings: Any) -> list[str]:
    """HostConfig.PortBindings {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]} -> `-p` specs."""
    out = []
    for key, hosts in (bindings or {}).items():
        port, _, proto = str(key).partition("/")
        proto = proto or "tcp"
        for h in hosts or [{}]:
            ip, host_port = (h or {}).get("HostIp") or "", (h or {}).get("HostPort") or ""
            if ":" in ip:
                ip = f"[{ip}]"
            spec = f"{host_port}:{port}" if host_port or ip else port
            if ip:
                spec = f"{ip}:{spec}" if host_port else f"{ip}::{port}"
            out.append(f"{spec}/{proto}")
    return out


def _mounts(host: dict[str, Any]) -> list[MountSpec]:
    mounts = [parse_volume(b) for b in _list(host.get("Binds"), "HostConfig.Binds")]
    for m in host.get("Mounts") or []:
        kind = (m.get("Type") or "volume").lower()
        target = m.get("Target") or m.get("Destination") or ""
        if kind == "bind":
            spec = f"{m.get('Source', '')}:{target}"
        elif kind == "volume":
            spec = f"{m['Source']}:{target}" if m.get("Source") else target
        else:
            raise InvalidArgument(f"mount type {kind!r} is not supported", hint="use bind or volume")
        mounts.append(parse_volume(spec + (":ro" if m.get("ReadOnly") else "")))
    return mounts


def _restart(policy: Any) -> str | None:
    if not policy or not policy.get("Name"):
        return None
    name = str(policy["Name"])
    retries = int(policy.get("MaximumRetryCount") or 0)
    return f"{name}:{retries}" if name == "on-failure" and retries else name


def create_request(body: dict[str, Any], name: str | None) -> CreateRequest:
    """`POST /containers/create`'s body as the engine's CreateRequest."""
    if not isinstance(body, dict) or not body.get("Image"):
        raise InvalidArgument("config cannot be empty in order to create a container",
                              hint="the body needs at least an Image")  # fmt: skip
    host = body.get("HostConfig") or {}
    entry = body.get("Entrypoint")
    entrypoint = None if entry is None else [e for e in _list(entry, "Entrypoint") if e != ""]
    nano = host.get("NanoCpus") or 0
    opts = RunOptions(
        command=_list(body.get("Cmd"), "Cmd"), entrypoint=entrypoint,
        env=_list(body.get("Env"), "Env"), workdir=body.get("WorkingDir") or None,
        user=body.get("User") or None, group_add=_list(host.get("GroupAdd"), "GroupAdd"),
        hostname=body.get("Hostname") or None, tty=bool(body.get("Tty")),
        interactive=bool(body.get("OpenStdin")), read_only=bool(host.get("ReadonlyRootfs")),
        cap_add=_list(host.get("CapAdd"), "CapAdd"), cap_drop=_list(host.get("CapDrop"), "CapDrop"),
        privileged=bool(host.get("Privileged")), memory=host.get("Memory") or None,
        cpus=nano / 1e9 if nano else None, init=bool(host.get("Init")),
        mounts=_mounts(host), labels=dict(body.get("Labels") or {}),
    )  # fmt: skip
    network = host.get("NetworkMode") or "bridge"
    return CreateRequest(
        image=str(body["Image"]), options=opts, name=name or None,
        publish=_publish_specs(host.get("PortBindings")),
        publish_all=bool(host.get("PublishAllPorts")),
        network="bridge" if network == "default" else network,
        restart=_restart(host.get("RestartPolicy")), auto_remove=bool(host.get("AutoRemove")),
        detach=not (body.get("AttachStdout") or body.get("AttachStderr")),
    )  # fmt: skip


def parse_filters(text: str | None) -> dict[str, list[str]]:
    """Docker's `filters` query value: {"key": ["v"]} or the old {"key": {"v": true}}."""
    if not text:
        return {}
    try:
        raw = json.loads(text)
    except ValueError:
        raise InvalidArgument(f"invalid filters {text!r}", hint="filters is a JSON object") from None
    if not isinstance(raw, dict):
        raise InvalidArgument(f"invalid filters {text!r}", hint="filters is a JSON object")
    out: dict[str, list[str]] = {}
    for key, value in raw.items():
        if isinstance(value, dict):
            out[key] = [k for k, on in value.items() if on]
        elif isinstance(value, list):
            out[key] = [str(v) for v in value]
        else:
            out[key] = [str(value)]
    return out


def filter_list(filters: dict[str, list[str]]) -> list[str]:
    """{"dangling": ["true"]} -> ["dangling=true"] (the engine's image filters)."""
    return [f"{k}={v}" for k, values in filters.items() for v in values]


def _one_matches(c: Container, key: str, value: str) -> bool:
    labels = c.config.get("labels") or {}
    if key == "name":
        return value.lstrip("/") in c.name
    if key == "id":
        return c.id.startswith(value)
    if key == "status":
        return c.state == value
    if key == "ancestor":
        return value in (c.image, c.image_id) or c.image_id.removeprefix("sha256:").startswith(value)
    if key == "exited":
        return c.state == "exited" and str(c.exit_code) == value
    if key == "label":
        k, eq, v = value.partition("=")
        return k in labels and (not eq or labels[k] == v)
    raise InvalidArgument(f"invalid filter '{key}'",
                          hint="use name, id, status, ancestor, exited or label")  # fmt: skip


def container_matches(c: Container, filters: dict[str, list[str]]) -> bool:
    """Docker's rule: every key must match, any of a key's values may."""
    for key, values in filters.items():
        if values and not any(_one_matches(c, key, v) for v in values):
            return False
    return True


def wait_container(eng: ContainerEngine, ref: str, condition: str, poll: float = 0.05,
                   stop: threading.Event | None = None) -> int:
    """`POST /containers/{id}/wait`: not-running (default), next-exit or removed; the exit code.

    Gives up (returning -1) when `stop` is set: the client has gone.
    """
    c = eng.get(ref)
    if condition not in ("", "not-running", "next-exit", "removed"):
        raise InvalidArgument(f"invalid condition {condition!r}",
                              hint="use not-running, next-exit or removed")  # fmt: skip
    seen_running = c.state == RUNNING
    started = c.started_at
    code = c.exit_code
    if condition in ("", "not-running") and not seen_running:
        return code
    stop = stop or threading.Event()
    while not stop.is_set():
        time.sleep(poll)
        try:
            c = eng.get(c.id)
        except NotFound:
            return code
        if c.state == RUNNING:
            seen_running = True
            continue
        code = c.exit_code
        if condition in ("", "not-running"):
            return code
        if condition == "next-exit" and (seen_running or c.started_at != started):
            return code
    return -1
