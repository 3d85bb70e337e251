"""The root command's lazy-loading table must name every module that registers each command."""

from __future__ import annotations

import importlib
import pkgutil

import click
from click.testing import CliRunner

import dockyard.cli as cli_pkg
from dockyard.cli import main


def _registered_by_module() -> dict[str, list[str]]:
    table: dict[str, list[str]] = {}
    for info in sorted(pkgutil.iter_modules(cli_pkg.__path__), key=lambda i: i.name):
        if not info.name.startswith("cmd_"):
            continue
        group = click.Group()
        importlib.import_module(f"dockyard.cli.{info.name}").register(group)
        for name in group.commands:
            table.setdefault(name, []).append(info.name)
    return table


def test_table_matches_what_modules_register() -> None:
    real = {name: tuple(mods) for name, mods in _registered_by_module().items()}
    assert main.COMMAND_MODULES == real


def test_loading_one_command_gives_the_same_definition_as_loading_all() -> None:
    everything = main.DockyardGroup(name="all")
    everything.load_modules(main.ALL_MODULES)
    for name, modules in main.COMMAND_MODULES.items():
        one = main.DockyardGroup(name=name)
        one.load_modules(modules)
        assert _code(one.commands[name]) is _code(everything.commands[name]), name
        if isinstance(everything.commands[name], click.Group):
            assert sorted(one.commands[name].commands) == sorted(everything.commands[name].commands)


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(main.cli, ["--help"])
    assert result.exit_code == 0
    for name in main.COMMAND_MODULES:
        assert name in result.output


def _code(command: click.Command) -> object:
    # register() may build a fresh closure each call: compare the code, not the function object.
    callback = command.callback
    return getattr(callback, "__code__", callback)


def test_only_groups_are_shared_between_modules() -> None:
    # A plain command defined by two modules would depend on which module loaded first.
    everything = main.DockyardGroup(name="all")
    everything.load_modules(main.ALL_MODULES)
    for name, modules in main.COMMAND_MODULES.items():
        if len(modules) > 1:
            assert isinstance(everything.commands[name], click.Group), name
