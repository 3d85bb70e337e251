"""The root `dockyard` command: global options, command discovery, one-line errors."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Any

import click

from dockyard import __version__
from dockyard.cli.entry import error_lines
from dockyard.errors import DockyardError
from dockyard.paths import default_root

DEFAULT_ROOT = default_root()  # /var/lib/dockyard for root, else per user (paths.py)


class Context:
    """What every command gets through `click.pass_obj`: the chosen store root and options."""

    def __init__(self, root: Path, runtime: str | None, debug: bool) -> None:
        self.root = root
        self.runtime = runtime
        self.debug = debug


# Which cmd_<area> modules define each top-level command. Modules are imported only when one of
# their commands runs, so `dockyard ps` does not pay for importing the builder or the registry
# client. Only groups (`image`) may be shared: each listed module adds its subcommands to the one
# group. tests/unit/cli/test_command_table.py checks this table against what the modules register.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "build": ("cmd_build",),
    "builder": ("cmd_build",),
    "commit": ("cmd_containers",),
    "container": ("cmd_containers",),
    "create": ("cmd_containers",),
    "dockerfile": ("cmd_dockerfile",),
    "exec": ("cmd_containers",),
    "history": ("cmd_images",),
    "image": ("cmd_build", "cmd_images", "cmd_transfer"),
    "images": ("cmd_images",),
    "import": ("cmd_images",),
    "info": ("cmd_info",),
    "inspect": ("cmd_images",),
    "kill": ("cmd_containers",),
    "lint": ("cmd_lint",),
    "load": ("cmd_transfer",),
    "login": ("cmd_registry",),
    "logout": ("cmd_registry",),
    "logs": ("cmd_containers",),
    "network": ("cmd_network",),
    "port": ("cmd_containers",),
    "ps": ("cmd_containers",),
    "pull": ("cmd_registry",),
    "push": ("cmd_registry",),
    "registry": ("cmd_registry",),
    "rename": ("cmd_containers",),
    "restart": ("cmd_containers",),
    "rm": ("cmd_containers",),
    "rmi": ("cmd_images",),
    "run": ("cmd_containers",),
    "save": ("cmd_transfer",),
    "start": ("cmd_containers",),
    "stop": ("cmd_containers",),
    "system": ("cmd_api",),
    "tag": ("cmd_images",),
    "top": ("cmd_containers",),
    "version": ("cmd_info",),
    "volume": ("cmd_volume",),
    "wait": ("cmd_containers",),
}
# The registration order when every module is loaded (help, or a name not in the table).
ALL_MODULES: tuple[str, ...] = tuple(sorted({m for mods in COMMAND_MODULES.values() for m in mods}))


class DockyardGroup(click.Group):
    """The root group: loads command modules on demand and turns DockyardError into one line."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaded: set[str] = set()

    def load_modules(self, names: tuple[str, ...]) -> None:
        for name in names:
            if name not in self._loaded:
                self._loaded.add(name)
                importlib.import_module(f"dockyard.cli.{name}").register(self)
        for command in self.commands.values():
            _accept_root_anywhere(command)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self.load_modules(COMMAND_MODULES.get(cmd_name, ALL_MODULES))
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self.load_modules(ALL_MODULES)
        return super().list_commands(ctx)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DockyardError as exc:
            if os.environ.get("DOCKYARD_DEBUG"):
                raise
            report_error(exc)
            sys.exit(exc.exit_code)


def _set_root(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.find_object(Context).root = value  # type: ignore[union-attr]


def _accept_root_anywhere(command: click.Command) -> None:
    """Let `--root DIR` also follow the command name (`dockyard images --root DIR`).

    Commands with a `--root` of their own (`registry serve`) keep theirs.
    """
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _accept_root_anywhere(sub)
        return
    if any("--root" in getattr(p, "opts", ()) for p in command.params):
        return
    command.params.append(
        click.Option(
            ["--root"],
            type=click.Path(file_okay=False, path_type=Path),
            hidden=True,
            expose_value=False,
            callback=_set_root,
        )
    )


def report_error(exc: DockyardError) -> None:
    click.echo(error_lines(exc), err=True, nl=False)


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


def main() -> None:
    cli(prog_name="dockyard")


if __name__ == "__main__":
    main()
