"""Registry commands: login, logout, pull, push, and `registry serve`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from dockyard.cli import registry_command
from dockyard.cli.clicktools import options
from dockyard.errors import InvalidArgument

if TYPE_CHECKING:
    from dockyard.transports.registry.client import RegistryOptions


def _store_root(ctx: click.Context) -> Path:
    return Path(ctx.find_root().obj.root)


def _serve_command() -> click.Command:
    @click.command("serve")
    @click.option("--addr", default="127.0.0.1:5000", show_default=True,
                  help="Listen address HOST:PORT (port 0 picks a free one).")
    @click.option("--root", "root", type=click.Path(file_okay=False, path_type=Path),
                  default=None, help="Storage directory (default: <store root>/registry).")
    @click.option("--htpasswd", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="bcrypt htpasswd file: require these users (htpasswd -Bbn user pass).")
    @click.option("--token-auth", is_flag=True,
                  help="With --htpasswd: issue bearer tokens at /token instead of Basic auth.")
    @click.option("--anonymous-pull", is_flag=True,
                  help="With --token-auth: anyone may pull, users may push.")
    @click.option("--tls-cert", type=click.Path(dir_okay=False, path_type=Path), default=None)
    @click.option("--tls-key", type=click.Path(dir_okay=False, path_type=Path), default=None)
    @click.option("--read-only", is_flag=True, help="Refuse pushes and deletes.")
    @click.option("--ready-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  hidden=True)
    @click.pass_context
    def serve(ctx: click.Context, addr: str, root: Path | None, htpasswd: Path | None,
              token_auth: bool, anonymous_pull: bool, tls_cert: Path | None,
              tls_key: Path | None, read_only: bool, ready_file: Path | None) -> None:
        """Serve a registry (OCI distribution spec) from a directory."""
        from dockyard.registry_server.app import ServerConfig
        from dockyard.registry_server.serve import serve as run

        if token_auth and htpasswd is None:
            raise InvalidArgument("--token-auth needs --htpasswd", hint="pass --htpasswd FILE")
        config = ServerConfig(
            root=root or _store_root(ctx) / "registry", htpasswd=htpasswd,
            token_auth=token_auth, anonymous_pull=anonymous_pull, read_only=read_only,
        )
        run(config, addr, tls_cert=tls_cert, tls_key=tls_key, ready_file=ready_file)

    return serve


def _options(insecure: tuple[str, ...]) -> RegistryOptions:
    from dockyard.transports.registry.client import load_options

    return load_options(insecure)


@click.command("login")
@click.argument("server", required=False)
@click.option("-u", "--username", default=None, help="Username.")
@click.option("-p", "--password", default=None, help="Password (prefer --password-stdin).")
@click.option("--password-stdin", is_flag=True, help="Take the password from stdin.")
@click.option("--insecure-registry", "insecure", multiple=True,
              help="Allow plain HTTP / unverified TLS for this registry (repeatable).")
def login_cmd(server: str | None, username: str | None, password: str | None,
              password_stdin: bool, insecure: tuple[str, ...]) -> None:
    """Log in to a registry (credentials go to Docker's config.json)."""
    from dockyard.engine import registry as engine

    if password_stdin:
        if password:
            raise InvalidArgument("--password and --password-stdin are mutually exclusive")
        if not username:
            raise InvalidArgument("must provide --username with --password-stdin")
        password = engine.read_password(sys.stdin)
    if password and not password_stdin:
        click.echo("WARNING! Using --password via the CLI is insecure. Use --password-stdin.",
                   err=True)
    if (not username or not password) and not sys.stdin.isatty():
        raise InvalidArgument(
            "Cannot perform an interactive login from a non TTY device",
            hint="pass -u USER and the password with --password-stdin",
        )
    if not username:
        username = click.prompt("Username")
    if not password:
        password = engine.read_password(None)
    click.echo(engine.login(server, username or "", password or "", _options(insecure)))


@click.command("logout")
@click.argument("server", required=False)
def logout_cmd(server: str | None) -> None:
    """Log out from a registry."""
    from dockyard.engine import registry as engine

    click.echo(engine.logout(server))


@click.command("pull")
@click.argument("ref")
@options(registry_command.PULL_OPTS)
@click.pass_context
def pull_cmd(ctx: click.Context, ref: str, **kw: Any) -> None:
    """Download an image from a registry."""
    registry_command.pull(_store_root(ctx), ref, kw)


@click.command("push")
@click.argument("ref")
@options(registry_command.PUSH_OPTS, hidden=("chunk_size",))
@click.pass_context
def push_cmd(ctx: click.Context, ref: str, **kw: Any) -> None:
    """Upload an image to a registry."""
    registry_command.push(_store_root(ctx), ref, kw)


def register(group: click.Group) -> None:
    for command in (login_cmd, logout_cmd, pull_cmd, push_cmd):
        group.add_command(command)
    existing = group.commands.get("registry")
    if isinstance(existing, click.Group):
        registry = existing
    else:
        @group.group("registry")
        def registry() -> None:
            """Run a registry of your own."""

    registry.add_command(_serve_command())
