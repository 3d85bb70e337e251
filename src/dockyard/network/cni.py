"""Invoke the CNI plugins (containernetworking-plugins) for a conflist: ADD and DEL, as libcni does."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from dockyard.errors import Unavailable

CNI_PATH = os.environ.get("DOCKYARD_CNI_PATH", "/usr/lib/cni:/opt/cni/bin")
CNI_VERSION = "1.0.0"


class CniError(Unavailable):
    """A plugin failed; the message carries its own error text."""


def _find_plugin(kind: str) -> str:
    for d in CNI_PATH.split(":"):
        path = Path(d) / kind
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    raise CniError(
        f"CNI plugin {kind!r} not found in {CNI_PATH}",
        hint="apt-get install containernetworking-plugins",
    )


def _spawn(
    command: str, plugin: dict[str, Any], *, container_id: str, netns: str, ifname: str
) -> subprocess.Popen[bytes]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": container_id,
        "CNI_NETNS": netns,
        "CNI_IFNAME": ifname,
        "CNI_PATH": CNI_PATH,
    }
    return subprocess.Popen(
        [_find_plugin(plugin["type"])], env=env, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def _finish(
    proc: subprocess.Popen[bytes], command: str, plugin: dict[str, Any]
) -> dict[str, Any] | None:
    stdout, stderr = proc.communicate(json.dumps(plugin).encode())
    out = stdout.decode(errors="replace").strip()
    if proc.returncode != 0:
        try:
            err = json.loads(out)
            msg = err.get("msg", "") + (f": {err['details']}" if err.get("details") else "")
        except (json.JSONDecodeError, AttributeError):
            msg = out or stderr.decode(errors="replace").strip()
        raise CniError(f"CNI plugin {plugin['type']} {command} failed: {msg}")
    if not out:
        return None
    try:
        return dict(json.loads(out))
    except json.JSONDecodeError as exc:
        raise CniError(f"CNI plugin {plugin['type']} returned invalid JSON") from exc


def _invoke(
    command: str, plugin: dict[str, Any], *, container_id: str, netns: str, ifname: str
) -> dict[str, Any] | None:
    proc = _spawn(command, plugin, container_id=container_id, netns=netns, ifname=ifname)
    return _finish(proc, command, plugin)


def _plugin_conf(
    conflist: dict[str, Any], plugin: dict[str, Any], runtime_config: dict[str, Any],
    prev: dict[str, Any] | None,
) -> dict[str, Any]:  # fmt: skip
    conf = dict(plugin)
    conf["name"] = conflist["name"]
    conf["cniVersion"] = conflist.get("cniVersion", CNI_VERSION)
    caps = plugin.get("capabilities") or {}
    rc = {k: v for k, v in runtime_config.items() if caps.get(k)}
    if rc:
        conf["runtimeConfig"] = rc
    if prev is not None:
        conf["prevResult"] = prev
    return conf


def add(
    conflist: dict[str, Any], *, container_id: str, netns: str, ifname: str = "eth0",
    runtime_config: dict[str, Any] | None = None, skip: tuple[str, ...] = (),
) -> dict[str, Any]:  # fmt: skip
    """Run ADD through every plugin in order (but those whose type is in `skip`); the result.

    On failure, the plugins already run are undone with DEL before raising.
    """
    result: dict[str, Any] | None = None
    done: list[dict[str, Any]] = []
    try:
        for plugin in conflist["plugins"]:
            if plugin["type"] in skip:
                continue
            conf = _plugin_conf(conflist, plugin, runtime_config or {}, result)
            done.append(plugin)
            result = _invoke("ADD", conf, container_id=container_id, netns=netns, ifname=ifname) or result
    except CniError:
        _delete_plugins(conflist, list(reversed(done)), container_id, netns, ifname,
                        runtime_config or {}, result)  # fmt: skip
        raise
    return result or {}


def _delete_plugins(
    conflist: dict[str, Any], plugins: list[dict[str, Any]], container_id: str, netns: str,
    ifname: str, runtime_config: dict[str, Any], prev: dict[str, Any] | None,
) -> list[str]:  # fmt: skip
    """DEL through `plugins`, all at once: each undoes only its own part (veth and lease,
    port rules), so none waits for another."""
    running = []
    errors = []
    for plugin in plugins:
        conf = _plugin_conf(conflist, plugin, runtime_config, prev)
        try:
            proc = _spawn("DEL", conf, container_id=container_id, netns=netns, ifname=ifname)
        except CniError as exc:
            errors.append(str(exc))
            continue
        running.append((proc, conf))
    for proc, conf in running:
        try:
            _finish(proc, "DEL", conf)
        except CniError as exc:
            errors.append(str(exc))
    return errors


def delete(
    conflist: dict[str, Any], *, container_id: str, netns: str, ifname: str = "eth0",
    runtime_config: dict[str, Any] | None = None, prev_result: dict[str, Any] | None = None,
    skip: tuple[str, ...] = (),
) -> list[str]:  # fmt: skip
    """Run DEL through the plugins (but those in `skip`); errors are collected, never stop the rest.

    `netns` may be "" once the namespace is gone: the bridge plugin then only releases the
    address, and the kernel removed the veth pair with the namespace.
    """
    plugins = [p for p in reversed(conflist["plugins"]) if p["type"] not in skip]
    return _delete_plugins(conflist, plugins, container_id, netns, ifname,
                           runtime_config or {}, prev_result)  # fmt: skip


def loopback_up(netns: str, container_id: str) -> None:
    conf = {"cniVersion": CNI_VERSION, "name": "dockyard-lo", "type": "loopback"}
    _invoke("ADD", conf, container_id=container_id, netns=netns, ifname="lo")


def create_netns(name: str) -> str:
    """A persistent, named network namespace with `lo` up (network/netns.py); its path."""
    from dockyard.network import netns

    return netns.create(name)


def delete_netns(name: str) -> None:
    from dockyard.network import netns

    netns.delete(name)


def first_ipv4(result: dict[str, Any]) -> tuple[str | None, str | None]:
    """(address without prefix, gateway) of the first IPv4 in a CNI result."""
    for ip in result.get("ips") or []:
        addr = str(ip.get("address", ""))
        if ":" not in addr and addr:
            return addr.split("/")[0], ip.get("gateway")
    return None, None
