"""`volume create|ls|rm|inspect|prune` with Docker's flags and output."""

from __future__ import annotations

import json
from typing import Any

import click


def _engine(obj: Any) -> Any:
    from dockyard.engine.containers import ContainerEngine

    return ContainerEngine(obj.root, runtime=obj.runtime)


@click.group()
def volume() -> None:
    """Manage volumes."""


@volume.command("create")
@click.option("--label", multiple=True)
@click.option("-d", "--driver", default="local")
@click.argument("name", required=False)
@click.pass_obj
def create(obj: Any, label: tuple[str, ...], driver: str, name: str | None) -> None:
    """Create a volume."""
    from dockyard.errors import InvalidArgument
    from dockyard.runtime.requests import parse_labels

    if driver != "local":
        raise InvalidArgument(f"volume driver {driver!r} is not supported", hint="use local")
    click.echo(_engine(obj).volumes.create(name, parse_labels(list(label))).name)


@volume.command("ls")
@click.option("-q", "--quiet", is_flag=True)
@click.pass_obj
def ls(obj: Any, quiet: bool) -> None:
    """List volumes."""
    from dockyard.cli.formatting import render_table

    vols = _engine(obj).volumes.list()
    if quiet:
        for v in vols:
            click.echo(v.name)
        return
    click.echo(render_table(["DRIVER", "VOLUME NAME"], [["local", v.name] for v in vols]).rstrip("\n"))


@volume.command("inspect")
@click.argument("names", nargs=-1, required=True)
@click.pass_obj
def inspect(obj: Any, names: tuple[str, ...]) -> None:
    """Show volumes in Docker's JSON shape."""
    eng = _engine(obj)
    click.echo(json.dumps([eng.volumes.get(n).inspect() for n in names], indent=4))


@volume.command("rm")
@click.option("-f", "--force", is_flag=True)
@click.argument("names", nargs=-1, required=True)
@click.pass_obj
def rm(obj: Any, force: bool, names: tuple[str, ...]) -> None:
    """Remove volumes (not while a container uses them)."""
    eng = _engine(obj)
    for name in names:
        eng.volumes.remove(name, eng.users_of_volume(name), force=False)
        click.echo(name)


@volume.command("prune")
@click.option("-f", "--force", is_flag=True)
@click.option("-a", "--all", "all_", is_flag=True, help="Named volumes too.")
@click.pass_obj
def prune(obj: Any, force: bool, all_: bool) -> None:
    """Remove volumes no container uses (anonymous ones unless -a)."""
    eng = _engine(obj)
    removed = []
    for v in eng.volumes.list():
        if (v.anonymous or all_) and not eng.users_of_volume(v.name):
            eng.volumes.remove(v.name, [])
            removed.append(v.name)
    click.echo("Deleted Volumes:\n" + "".join(n + "\n" for n in removed) + "\nTotal reclaimed space: 0B")


def register(group: click.Group) -> None:
    group.add_command(volume, "volume")
