"""`network create|ls|rm|inspect|connect|disconnect|prune` with Docker's flags and output."""

from __future__ import annotations

import json
from typing import Any

import click


def _engine(obj: Any) -> Any:
    from dockyard.engine.containers import ContainerEngine

    return ContainerEngine(obj.root, runtime=obj.runtime)


@click.group()
def network() -> None:
    """Manage networks."""


@network.command("create")
@click.option("-d", "--driver", default="bridge", help="Driver (bridge).")
@click.option("--subnet", default=None, help="Subnet in CIDR form.")
@click.option("--gateway", default=None, help="Gateway address.")
@click.option("--internal", is_flag=True, help="No outbound access.")
@click.option("--label", multiple=True, help="key=value metadata.")
@click.argument("name")
@click.pass_obj
def create(obj: Any, driver: str, subnet: str | None, gateway: str | None, internal: bool,
           label: tuple[str, ...], name: str) -> None:  # fmt: skip
    """Create a network."""
    from dockyard.runtime.requests import parse_labels

    net = _engine(obj).networks.create(name, subnet=subnet, gateway=gateway, internal=internal,
                                       labels=parse_labels(list(label)), driver=driver)  # fmt: skip
    click.echo(net.id)


@network.command("ls")
@click.option("-q", "--quiet", is_flag=True)
@click.option("--no-trunc", is_flag=True)
@click.pass_obj
def ls(obj: Any, quiet: bool, no_trunc: bool) -> None:
    """List networks."""
    from dockyard.cli.formatting import render_table

    eng = _engine(obj)
    nets = eng.networks.list()
    rows = [["0000000000000000"[:12] if False else (n.id if no_trunc else n.id[:12]), n.name, n.driver, "local"]
            for n in nets]  # fmt: skip
    rows += [["none" if no_trunc else "none", "none", "null", "local"],
             ["host", "host", "host", "local"]]  # fmt: skip
    if quiet:
        for r in rows:
            click.echo(r[0])
        return
    click.echo(render_table(["NETWORK ID", "NAME", "DRIVER", "SCOPE"], rows).rstrip("\n"))


@network.command("rm")
@click.argument("names", nargs=-1, required=True)
@click.pass_obj
def rm(obj: Any, names: tuple[str, ...]) -> None:
    """Remove networks (not while containers use them)."""
    from dockyard.errors import Conflict

    eng = _engine(obj)
    for name in names:
        net = eng.networks.get(name)
        users = [c.name for c in eng.list(all_=True)
                 if c.config.get("network_mode") == net.name or net.name in c.config.get("extra_networks", [])]  # fmt: skip
        if users:
            raise Conflict(f"error while removing network: network {net.name} id {net.id} has active endpoints",
                           hint=f"remove the containers first: {', '.join(users)}")  # fmt: skip
        eng.networks.remove(net.name)
        click.echo(name)


@network.command("inspect")
@click.argument("names", nargs=-1, required=True)
@click.pass_obj
def inspect(obj: Any, names: tuple[str, ...]) -> None:
    """Show networks in Docker's JSON shape."""
    from dockyard.engine.networks import network_inspect

    eng = _engine(obj)
    containers = eng.list(all_=False)
    click.echo(json.dumps([network_inspect(eng.networks.get(n), containers) for n in names], indent=4))


@network.command("connect")
@click.option("--alias", "aliases", multiple=True, help="Add a network-scoped alias for the container.")
@click.argument("name")
@click.argument("container")
@click.pass_obj
def connect(obj: Any, aliases: tuple[str, ...], name: str, container: str) -> None:
    """Connect a container to a network."""
    from dockyard.engine import networks as netengine

    eng = _engine(obj)
    netengine.connect(eng.networks, eng.records, eng.get(container), name, list(aliases))


@network.command("disconnect")
@click.argument("name")
@click.argument("container")
@click.pass_obj
def disconnect(obj: Any, name: str, container: str) -> None:
    """Disconnect a container from a network."""
    from dockyard.engine import networks as netengine

    eng = _engine(obj)
    netengine.disconnect(eng.networks, eng.records, eng.get(container), name)


@network.command("prune")
@click.option("-f", "--force", is_flag=True)
@click.pass_obj
def prune(obj: Any, force: bool) -> None:
    """Remove user-defined networks no container uses."""
    eng = _engine(obj)
    used = set()
    for c in eng.list(all_=True):
        used.add(c.config.get("network_mode"))
        used.update(c.config.get("extra_networks", []))
    removed = [n.name for n in eng.networks.list() if n.user_defined and n.name not in used]
    for name in removed:
        eng.networks.remove(name)
    if removed:
        click.echo("Deleted Networks:\n" + "\n".join(removed))


def register(group: click.Group) -> None:
    group.add_command(network, "network")
