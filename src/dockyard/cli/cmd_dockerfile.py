"""`dockyard dockerfile parse FILE`: print the parsed syntax tree (a debugging aid)."""

from __future__ import annotations

import sys

import click

from dockyard.cli.dockerfile_errors import report_syntax_error
from dockyard.dockerfile import DockerfileSyntaxError, parse_file
from dockyard.dockerfile.stages import build_stages


@click.group("dockerfile")
def dockerfile_group() -> None:
    """Inspect Dockerfiles."""


@dockerfile_group.command("parse")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--warnings/--no-warnings", default=True, help="Print parser warnings to stderr.")
@click.option("--strict", is_flag=True, help="Also check every instruction (flags, arguments).")
def parse_command(path: str, warnings: bool, strict: bool) -> None:
    """Print FILE's syntax tree in BuildKit's dump format."""
    try:
        result = parse_file(path)
        if strict:
            build_stages(result)
    except DockerfileSyntaxError as exc:
        report_syntax_error(exc)
        sys.exit(exc.exit_code)
    except OSError as exc:
        click.echo(f"Error: cannot read {path}: {exc.strerror}", err=True)
        sys.exit(1)
    if warnings:
        for warning in result.warnings:
            click.echo(f"[WARNING]: {warning.message} (line {warning.line})", err=True)
    click.echo(result.dump())


def register(group: click.Group) -> None:
    group.add_command(dockerfile_group)
