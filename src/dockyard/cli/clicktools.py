"""click pieces several cmd_*.py modules share: options made from optspec tables, the `image` group."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from dockyard.cli.optspec import FLAG, MULTI, Opt


def options(opts: list[Opt], hidden: tuple[str, ...] = ()) -> Callable[[Any], Any]:
    """A decorator adding `opts` (cli/optspec rows, which the fast entry parses too) as click options."""

    def apply(f: Any) -> Any:
        for o in reversed(opts):
            kind: dict[str, Any] = {"is_flag": True}
            if o.kind == MULTI:
                kind = {"multiple": True}
            elif o.kind != FLAG:
                kind = {"default": o.default, "type": click.Choice(list(o.choices)) if o.choices else o.type}
            f = click.option(*o.names, o.dest, help=o.help, hidden=o.dest in hidden, **kind)(f)
        return f

    return apply


def image_group(root: click.Group) -> click.Group:
    """The `image` subcommand group, created once; each area adds its own (`image build`, ...)."""
    existing = root.commands.get("image")
    if isinstance(existing, click.Group):
        return existing

    @root.group("image")
    def image() -> None:
        """Manage images."""

    return image
