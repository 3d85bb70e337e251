"""The root `dockyard` command: global options, command discovery, one-line errors."""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
from pathlib import Path
from typing import Any

import click

import dockyard.cli as cli_pkg
from dockyard import __version__
from dockyard.errors import DockyardError

DEFAULT_ROOT = "/var/lib/dockyard"


class Context:
    """What every command gets through `click.pass_obj`: the chosen store root and options."""

    def __init__(self, root: Path, runtime: str | None, debug: bool) -> None:
        self.root = root
        self.runtime = runtime
        self.debug = debug


class DockyardGroup(click.Group):
    """A group that turns DockyardError into one `Error: ...` line and docker's exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DockyardError as exc:
            if os.environ.get("DOCKYARD_DEBUG"):
                raise
            report_error(exc)
            sys.exit(exc.exit_code)


def report_error(exc: DockyardError) -> None:
    click.echo(f"Error: {exc.message}", err=True)
    if exc.hint:
        click.echo(f"Hint: {exc.hint}", err=True)


@click.group(cls=DockyardGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="DOCKYARD_ROOT",
    default=DEFAULT_ROOT,
    show_default=True,
    help="Store root directory (env DOCKYARD_ROOT).",
)
@click.option("--runtime", default=None, help="OCI runtime to use (runc or crun).")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.version_option(__version__, prog_name="dockyard")
@click.pass_context
def cli(ctx: click.Context, root: Path, runtime: str | None, debug: bool) -> None:
    """dockyard: build, run, push and save containers the way Docker does, without a daemon."""
    if debug:
        os.environ["DOCKYARD_DEBUG"] = "1"
    ctx.obj = Context(root=root, runtime=runtime, debug=debug)


def _register_commands() -> None:
    # Every module dockyard/cli/cmd_*.py defines `register(group)`; discovering them here
    # keeps this file free of per-area edits.
    for info in sorted(pkgutil.iter_modules(cli_pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("cmd_"):
            module = importlib.import_module(f"dockyard.cli.{info.name}")
            module.register(cli)


_register_commands()


def main() -> None:
    cli(prog_name="dockyard")


if __name__ == "__main__":
    main()
