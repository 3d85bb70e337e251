"""Docker API request shapes -> engine calls: the create body, list filters, wait conditions."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from dockyard.api import serialize
from dockyard.engine import networks as netengine
from dockyard.engine.containers import ContainerEngine, CreateRequest
from dockyard.errors import Conflict, InvalidArgument, NotFound
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
    health = body.get("Healthcheck")
    if health is not None and not isinstance(health, dict):
        raise InvalidArgument("Healthcheck must be an object", hint='e.g. {"Test": ["CMD", "true"]}')
    return CreateRequest(
        image=str(body["Image"]), options=opts, name=name or None,
        publish=_publish_specs(host.get("PortBindings")),
        publish_all=bool(host.get("PublishAllPorts")),
        network="bridge" if network == "default" else network,
        restart=_restart(host.get("RestartPolicy")), auto_remove=bool(host.get("AutoRemove")),
        detach=not (body.get("AttachStdout") or body.get("AttachStderr")),
        healthcheck=health or None,
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
    """Docker's rule: every key must match, any of a key's values may (but every label)."""
    for key, values in filters.items():
        check = all if key == "label" else any
        if values and not check(_one_matches(c, key, v) for v in values):
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


# -- networks: endpoints, aliases, users -------------------------------------------------------


async def json_object(request: Any) -> dict[str, Any]:
    """A request's JSON body as a dict ({} when empty)."""
    return serialize.parse_object(await request.body())


def container(eng: ContainerEngine, ref: str) -> Container:
    try:
        return eng.get(ref)
    except NotFound as exc:
        raise NotFound(f"No such container: {ref}", hint=exc.hint) from exc


def _joined(c: Container) -> list[str]:
    return [c.config["network_mode"], *c.config.get("extra_networks", [])]


def network_users(eng: ContainerEngine, name: str) -> list[str]:
    """Names of the containers (any state) that join network `name`."""
    return [c.name for c in eng.list(all_=True) if name in _joined(c)]


def networks_in_use(eng: ContainerEngine) -> set[str]:
    return {n for c in eng.list(all_=True) for n in _joined(c)}


def endpoints(eng: ContainerEngine, req: CreateRequest, body: dict[str, Any]) -> tuple[list[str], dict[str, list[str]]]:
    """`NetworkingConfig.EndpointsConfig` of a create body: the extra networks to join and the
    aliases per network (names resolved; the first one becomes the mode if none was given)."""
    config = (body.get("NetworkingConfig") or {}).get("EndpointsConfig") or {}
    if not isinstance(config, dict):
        raise InvalidArgument("NetworkingConfig.EndpointsConfig must be an object", hint="fix the request body")
    resolved: dict[str, list[str]] = {}
    for key, settings in config.items():
        if key == "default":  # what the docker CLI calls the mode it did not name
            key = "bridge" if req.network == "default" else req.network
        name = key if key in netengine.SPECIAL else eng.networks.get(key).name
        resolved[name] = [str(a) for a in ((settings or {}).get("Aliases") or [])]
    if resolved and req.network == "bridge" and "bridge" not in resolved:
        req.network = next(iter(resolved))
    extra = [n for n in resolved if n != req.network and n not in netengine.SPECIAL]
    if extra and req.network in netengine.SPECIAL:
        raise Conflict(f"container sharing network mode {req.network} cannot join other networks",
                       hint="drop the extra networks")  # fmt: skip
    return extra, {n: a for n, a in resolved.items() if a}


def record_endpoints(eng: ContainerEngine, c: Container, extra: list[str], aliases: dict[str, list[str]]) -> None:
    """Store what `endpoints` found on a created container (engine: config extra_networks, aliases)."""
    if not extra and not aliases:
        return
    c.config["extra_networks"] = [*c.config.get("extra_networks", []), *extra]
    c.config["aliases"] = aliases
    eng.records.update(c)


def connect(eng: ContainerEngine, c: Container, name: str, aliases: list[str]) -> None:
    """`POST /networks/{id}/connect`; joining a network it is on already only adds aliases."""
    if name not in _joined(c):
        netengine.connect(eng.networks, eng.records, c, name)
        c = eng.get(c.id)
    if aliases:
        known = c.config.setdefault("aliases", {})
        known[name] = [*known.get(name, []), *(a for a in aliases if a not in known.get(name, []))]
        eng.records.update(c)
    refresh_hosts(eng)


def disconnect(eng: ContainerEngine, c: Container, name: str) -> None:
    if name in c.config.get("extra_networks", []):
        netengine.disconnect(eng.networks, eng.records, c, name)
    elif name == c.config["network_mode"]:
        if c.state == RUNNING:
            raise Conflict(f"container {c.name} cannot leave {name}: it is its primary network",
                           hint="stop the container, or use networks joined with `network connect`")  # fmt: skip
        return  # a created container stays on its network (compose reconnects it with aliases)
    else:
        raise Conflict(f"container {c.name} is not connected to network {name}", hint="check the names")
    refresh_hosts(eng)


def network_settings(c: Container, doc: dict[str, Any]) -> None:
    """An inspect document's NetworkSettings.Networks: every network the container is configured
    to join (also while it is not running, as Docker shows), with its aliases."""
    nets = doc.setdefault("NetworkSettings", {}).setdefault("Networks", {})
    aliases = c.config.get("aliases") or {}
    for name in _joined(c):
        entry = nets.get(name)
        if entry is None:
            entry = nets[name] = {
                "IPAMConfig": None, "Links": None, "Aliases": None, "NetworkID": "",
                "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0,
                "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
                "MacAddress": "", "DriverOpts": None,
            }  # fmt: skip
        if name not in ("bridge", *netengine.SPECIAL):
            entry["Aliases"] = [*aliases.get(name, []), c.short_id]
            entry["DNSNames"] = [c.name, *aliases.get(name, []), c.short_id]
        if c.state != RUNNING:
            entry.update({"IPAddress": "", "Gateway": "", "IPPrefixLen": 0, "MacAddress": ""})


def refresh_hosts(eng: ContainerEngine) -> None:
    """/etc/hosts of running containers on user-defined networks: peers by name and by alias
    (the engine's `peers_of` knows the aliases compose gives as service names)."""
    netengine.refresh_hosts(eng.networks, eng.records)


def start(eng: ContainerEngine, c: Container) -> None:
    """`eng.start(c)`: the engine writes the aliases of the container's networks into its
    /etc/hosts before its process runs, and refreshes its peers' files afterwards."""
    eng.start(c)
