"""`dockyard version` and `dockyard info`: what `docker version` and `docker info` tell a user."""

from __future__ import annotations

import os
import platform
import shutil
import sys
from typing import Any

import click

from dockyard import __version__


@click.command("version")
@click.pass_obj
def version(obj: Any) -> None:
    """Show the dockyard version and the versions of the tools it runs."""
    from dockyard.api import API_VERSION
    from dockyard.engine.image_import import host_os_arch
    from dockyard.hostinfo import tool_version

    os_, arch, _variant = host_os_arch()
    rows = [
        ("Client", ""),
        (" Version", __version__),
        (" API version", API_VERSION),
        (" Python", platform.python_version()),
        (" OS/Arch", f"{os_}/{arch}"),
        ("Components", ""),
    ]
    for tool in (obj.runtime or "runc", "conmon"):
        path = shutil.which(tool) or (tool if os.path.isabs(tool) else None)
        rows.append((f" {os.path.basename(tool)}", tool_version(path) if path else "not installed"))
    _print_rows(rows)


@click.command("info")
@click.pass_obj
def info(obj: Any) -> None:
    """Show the store, its images and containers, the runtime and the host."""
    from dockyard.engine import open_store
    from dockyard.engine.containers import ContainerEngine
    from dockyard.hostinfo import mem_total, os_name

    store = open_store(obj.root)
    engine = ContainerEngine(obj.root, runtime=obj.runtime)
    containers = engine.list(all_=True)
    running = sum(1 for c in containers if c.state == "running")
    stopped = sum(1 for c in containers if c.state == "exited")
    _print_rows([
        ("Containers", str(len(containers))),
        (" Running", str(running)),
        (" Stopped", str(stopped)),
        ("Images", str(len(store.images.list()))),
        ("Storage Driver", store.snapshots.driver),
        ("Dockyard Root Dir", str(store.root)),
        ("Runtime", engine.runtime.name),
        ("Kernel Version", platform.release()),
        ("Operating System", os_name()),
        ("Architecture", platform.machine()),
        ("CPUs", str(os.cpu_count() or 1)),
        ("Total Memory", f"{mem_total() / 2**30:.2f}GiB"),
    ])  # fmt: skip


def _print_rows(rows: list[tuple[str, str]]) -> None:
    for key, value in rows:
        sys.stdout.write(f"{key}:{' ' + value if value else ''}\n")


def register(group: click.Group) -> None:
    group.add_command(version, "version")
    group.add_command(info, "info")
