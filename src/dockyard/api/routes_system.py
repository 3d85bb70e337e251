"""`/_ping`, `/version`, `/info`: what `docker version` and `docker info` ask first."""

from __future__ import annotations

import os
import platform
import socket
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from dockyard import __version__
from dockyard.api import API_VERSION, MIN_API_VERSION
from dockyard.engine.image_import import host_os_arch
from dockyard.hostinfo import mem_total, os_name

PING_HEADERS = {
    "API-Version": API_VERSION,
    "Docker-Experimental": "false",
    "OSType": "linux",
    "Builder-Version": "1",
    "Cache-Control": "no-cache, no-store, must-revalidate",
    "Pragma": "no-cache",
}


async def ping(request: Request) -> Response:
    if request.method == "HEAD":
        return Response(b"", headers={**PING_HEADERS, "Content-Type": "text/plain; charset=utf-8",
                                      "Content-Length": "0"})  # fmt: skip
    return PlainTextResponse("OK", headers=PING_HEADERS)


def _engine_details() -> dict[str, Any]:
    _os, arch, _variant = host_os_arch()
    return {
        "Version": __version__,
        "ApiVersion": API_VERSION,
        "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": "dockyard",
        "GoVersion": "python" + platform.python_version(),
        "Os": "linux",
        "Arch": arch,
        "KernelVersion": platform.release(),
        "BuildTime": "",
        "Experimental": "false",
    }


async def version(request: Request) -> Response:
    details = _engine_details()
    return JSONResponse({
        "Platform": {"Name": f"dockyard {__version__}"},
        "Components": [{"Name": "Engine", "Version": __version__,
                        "Details": {k: v for k, v in details.items() if k != "Version"}}],
        **{k: v for k, v in details.items() if k != "Experimental"},
        "Experimental": False,
    })  # fmt: skip


def info_sync(request: Request) -> Response:
    from dockyard.engine import open_store
    from dockyard.engine.containers import ContainerEngine

    state = request.app.state
    eng = ContainerEngine(state.root, runtime=state.runtime)
    containers = eng.list(all_=True)
    running = sum(1 for c in containers if c.state == "running")
    stopped = sum(1 for c in containers if c.state == "exited")
    images = len(open_store(state.root).images.list())
    _os, arch, _variant = host_os_arch()
    cgroup2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
    return JSONResponse({
        "ID": "dockyard", "Containers": len(containers), "ContainersRunning": running,
        "ContainersPaused": 0, "ContainersStopped": stopped, "Images": images,
        "Driver": "overlayfs", "DriverStatus": [["Backing Filesystem", "overlayfs"]],
        "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "null"],
                    "Authorization": None, "Log": ["k8s-file"]},
        "MemoryLimit": True, "SwapLimit": False, "CpuCfsPeriod": True, "CpuCfsQuota": True,
        "CPUShares": True, "CPUSet": True, "PidsLimit": True, "IPv4Forwarding": True,
        "Debug": False, "NFd": 0, "OomKillDisable": False, "NGoroutines": 0,
        "SystemTime": "", "LoggingDriver": "k8s-file",
        "CgroupDriver": "cgroupfs", "CgroupVersion": "2" if cgroup2 else "1",
        "NEventsListener": 0, "KernelVersion": platform.release(),
        "OperatingSystem": os_name(), "OSVersion": "", "OSType": "linux",
        "Architecture": platform.machine(), "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {"IndexConfigs": {}, "InsecureRegistryCIDRs": ["127.0.0.0/8"],
                           "Mirrors": []},
        "NCPU": os.cpu_count() or 1, "MemTotal": mem_total(), "GenericResources": None,
        "DockerRootDir": str(state.root), "HttpProxy": "", "HttpsProxy": "", "NoProxy": "",
        "Name": socket.gethostname(), "Labels": [], "ExperimentalBuild": False,
        "ServerVersion": __version__,
        "Runtimes": {eng.runtime.name: {"path": eng.runtime.path}},
        "DefaultRuntime": eng.runtime.name,
        "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive",
                  "ControlAvailable": False, "Error": "", "RemoteManagers": None},
        "LiveRestoreEnabled": False, "Isolation": "", "InitBinary": "catatonit",
        "ContainerdCommit": {"ID": ""}, "RuncCommit": {"ID": ""}, "InitCommit": {"ID": ""},
        "SecurityOptions": ["name=seccomp,profile=default"], "Warnings": None,
    })  # fmt: skip


ROUTES = [
    Route("/_ping", ping, methods=["GET", "HEAD"]),
    Route("/version", version, methods=["GET"]),
    Route("/info", info_sync, methods=["GET"]),
]
