"""Docker's views of a container: `inspect` JSON, `ps` STATUS and COMMAND columns."""

from __future__ import annotations

import time
from typing import Any

from dockyard.runtime import spec_defaults
from dockyard.runtime.containers import CREATED, EXITED, RUNNING, Container

ZERO_TIME = "0001-01-01T00:00:00Z"


def iso(ts: float | None) -> str:
    if not ts:
        return ZERO_TIME
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts))
    return f"{whole}.{int((ts % 1) * 1e9):09d}Z"


def _duration(seconds: float) -> str:
    from dockyard.cli.formatting import human_duration  # formatting is shared CLI data

    return human_duration(seconds)


def status_text(c: Container, now: float | None = None) -> str:
    now = time.time() if now is None else now
    if c.state == RUNNING:
        from dockyard.runtime.health import status_suffix

        return f"Up {_duration(now - (c.started_at or now))}{status_suffix(c.health)}"
    if c.state == EXITED:
        return f"Exited ({c.exit_code}) {_duration(now - (c.finished_at or now))} ago"
    if c.state == CREATED:
        return "Created"
    return c.state.capitalize()


def command_text(c: Container) -> str:
    args = c.config.get("args") or []
    return " ".join(args)


def ports_text(c: Container) -> str:
    from dockyard.network.ports import PortMapping

    out = []
    if c.state == RUNNING:
        out = [PortMapping.from_json(p).display() for p in c.config.get("ports", [])]
    return ", ".join(out)


def _port_map(c: Container) -> dict[str, Any]:
    ports: dict[str, Any] = {}
    for key in c.config.get("exposed", []):
        ports.setdefault(key, None)
    for p in c.config.get("ports", []):
        key = f"{p['containerPort']}/{p['protocol']}"
        if ports.get(key) is None:
            ports[key] = []
        ports[key].append({"HostIp": p["hostIP"] or "0.0.0.0", "HostPort": str(p["hostPort"])})
    return ports


# HostConfig fields Docker always shows, at the values a `docker run` without those flags gets
HOST_CONFIG_DEFAULTS: dict[str, Any] = {
    "ContainerIDFile": "", "LogConfig": {"Type": "json-file", "Config": {}}, "VolumeDriver": "",
    "VolumesFrom": None, "ConsoleSize": [0, 0], "CgroupnsMode": "host", "Dns": [],
    "DnsOptions": [], "DnsSearch": [], "ExtraHosts": None, "GroupAdd": None, "IpcMode": "private",
    "Cgroup": "", "Links": None, "OomScoreAdj": 0, "PidMode": "", "SecurityOpt": None,
    "UTSMode": "", "UsernsMode": "", "ShmSize": 67108864, "Isolation": "", "CpuShares": 0,
    "CgroupParent": "", "BlkioWeight": 0, "CpuPeriod": 0, "CpuQuota": 0, "CpuRealtimePeriod": 0,
    "CpuRealtimeRuntime": 0, "CpusetCpus": "", "CpusetMems": "", "Devices": [],
    "MemoryReservation": 0, "MemorySwap": 0, "MemorySwappiness": None, "OomKillDisable": False,
    "PidsLimit": None, "Ulimits": None,
}


def _mount_view(m: dict[str, Any]) -> dict[str, Any]:
    """One `.Mounts` entry as Docker shows it: Name and Driver for volumes only."""
    view: dict[str, Any] = {"Type": m["kind"], "Source": m["source"], "Destination": m["destination"]}
    if m["kind"] == "volume":
        view.update({"Name": m.get("name") or "", "Driver": "local"})
    view.update({"Mode": "ro" if m["readonly"] else ("z" if m["kind"] == "volume" else ""),
                 "RW": not m["readonly"],
                 "Propagation": "rprivate" if m["kind"] == "bind" else ""})  # fmt: skip
    return view


def inspect(c: Container, container_dir: str) -> dict[str, Any]:
    cfg = c.config
    opts = cfg.get("options", {})
    restart = cfg.get("restart", {"name": "no", "max_retries": 0})
    running = c.state == RUNNING
    nets = {}
    for name, info in (cfg.get("networks_state") or {}).items():
        nets[name] = {
            "Aliases": ([c.name, *(cfg.get("aliases") or {}).get(name, []), c.short_id]
                        if name != "bridge" else None),
            "IPAMConfig": None, "Links": None, "DriverOpts": None,
            "NetworkID": info.get("NetworkID", ""), "EndpointID": "",
            "Gateway": info.get("Gateway", ""), "IPAddress": info.get("IPAddress", ""),
            "IPPrefixLen": info.get("IPPrefixLen", 0), "IPv6Gateway": "",
            "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
            "MacAddress": info.get("MacAddress", ""),
            "DNSNames": ([c.name, *(cfg.get("aliases") or {}).get(name, []), c.short_id]
                         if name != "bridge" else None),
        }  # fmt: skip
    primary = next(iter(nets.values()), {})
    mounts = []
    for m in opts.get("mounts", []):
        mounts.append(_mount_view(m))
    return {
        "Id": c.id,
        "Created": iso(c.created),
        "Path": (cfg.get("args") or [""])[0],
        "Args": (cfg.get("args") or [])[1:],
        "State": {
            "Status": c.state, "Running": running, "Paused": False, "Restarting": False,
            "OOMKilled": False, "Dead": False, "Pid": c.pid if running else 0,
            "ExitCode": c.exit_code, "Error": cfg.get("error", ""),
            "StartedAt": iso(c.started_at), "FinishedAt": iso(c.finished_at),
            **({"Health": c.health} if c.health is not None else {}),
        },  # fmt: skip
        "Image": c.image_id,
        "ResolvConfPath": f"{container_dir}/resolv.conf",
        "HostnamePath": f"{container_dir}/hostname",
        "HostsPath": f"{container_dir}/hosts",
        "LogPath": f"{container_dir}/ctr.log",
        "Name": "/" + c.name,
        "RestartCount": c.restart_count,
        "Driver": "overlay2",
        "Platform": "linux",
        "MountLabel": "", "ProcessLabel": "", "AppArmorProfile": "",
        "ExecIDs": None,
        "HostConfig": {
            "Binds": [f"{m['source']}:{m['destination']}" + (":ro" if m["readonly"] else "")
                      for m in opts.get("mounts", []) if m["kind"] == "bind"] or None,
            "NetworkMode": cfg.get("network_mode", "bridge"),
            "PortBindings": {f"{p['containerPort']}/{p['protocol']}": [
                {"HostIp": p["hostIP"], "HostPort": str(p["hostPort"]) if p["hostPort"] else ""}]
                for p in cfg.get("requested_ports", [])},
            "RestartPolicy": {"Name": restart["name"], "MaximumRetryCount": restart["max_retries"]},
            "AutoRemove": cfg.get("auto_remove", False),
            "CapAdd": opts.get("cap_add") or None, "CapDrop": opts.get("cap_drop") or None,
            "Memory": opts.get("memory") or 0,
            "NanoCpus": int((opts.get("cpus") or 0) * 1e9),
            "ReadonlyRootfs": opts.get("read_only", False),
            "Init": opts.get("init") or None,
            "Privileged": False, "PublishAllPorts": cfg.get("publish_all", False),
            "Runtime": cfg.get("runtime", "runc"),
            **HOST_CONFIG_DEFAULTS,
            "MaskedPaths": list(spec_defaults.MASKED_PATHS),
            "ReadonlyPaths": list(spec_defaults.READONLY_PATHS),
        },  # fmt: skip
        "GraphDriver": {"Name": "overlay2", "Data": None},
        "Mounts": mounts,
        "Config": {
            "Hostname": cfg.get("hostname", c.short_id), "Domainname": "",
            "User": opts.get("user") or cfg.get("image_user", ""),
            "AttachStdin": opts.get("interactive", False) and not cfg.get("detach", False),
            "AttachStdout": not cfg.get("detach", False), "AttachStderr": not cfg.get("detach", False),
            "ExposedPorts": {k: {} for k in cfg.get("exposed", [])} or None,
            "Tty": opts.get("tty", False), "OpenStdin": opts.get("interactive", False),
            "StdinOnce": False, "Env": cfg.get("env", []), "Cmd": cfg.get("cmd"),
            "Image": c.image, "Volumes": None, "WorkingDir": cfg.get("workdir", ""),
            "Entrypoint": cfg.get("entrypoint"), "OnBuild": None,
            "Labels": cfg.get("labels", {}), "StopSignal": cfg.get("stop_signal", "SIGTERM"),
            **({"Healthcheck": cfg["healthcheck"]} if cfg.get("healthcheck") else {}),
        },  # fmt: skip
        "NetworkSettings": {
            "Bridge": "", "SandboxID": c.id if running else "", "HairpinMode": False,
            "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
            "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None, "EndpointID": "",
            "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPv6Gateway": "",
            "Ports": _port_map(c) if running else {},
            "SandboxKey": cfg.get("netns", ""),
            "Gateway": primary.get("Gateway", ""), "IPAddress": primary.get("IPAddress", ""),
            "IPPrefixLen": primary.get("IPPrefixLen", 0), "MacAddress": primary.get("MacAddress", ""),
            "Networks": nets,
        },  # fmt: skip
    }
