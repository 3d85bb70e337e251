"""`dockyard system service`: serve the Docker Engine API (like `podman system service`)."""

from __future__ import annotations

from typing import Any

import click

from dockyard.paths import run_dir

DEFAULT_HOST = f"unix://{run_dir() / 'docker.sock'}"  # /run/dockyard/docker.sock for root


@click.group("system")
def system() -> None:
    """Manage dockyard as a service."""


@system.command("service")
@click.option("-H", "--host", default=DEFAULT_HOST, show_default=True,
              help="Where to listen: unix:///path.sock or tcp://IP:PORT.")  # fmt: skip
@click.option("--log-level", default="warning",
              type=click.Choice(["critical", "error", "warning", "info", "debug"]),
              help="Server log level.")  # fmt: skip
@click.argument("uri", required=False)
@click.pass_obj
def service(obj: Any, host: str, log_level: str, uri: str | None) -> None:
    """Serve the Docker Engine API so the docker CLI and docker-py work against dockyard.

    Point a client at it with DOCKER_HOST, e.g. DOCKER_HOST=unix:///run/dockyard/docker.sock.
    """
    from dockyard.api.app import parse_host, serve

    where = uri or host
    parse_host(where)  # a bad address fails here with one line
    serve(obj.root, where, runtime=obj.runtime, log_level=log_level)


def register(group: click.Group) -> None:
    group.add_command(system, "system")
