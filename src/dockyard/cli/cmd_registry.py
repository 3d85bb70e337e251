"""Registry commands: login, logout, pull, push, and `registry serve`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from dockyard.errors import InvalidArgument

if TYPE_CHECKING:
    from dockyard.transports.registry.client import RegistryOptions
    from dockyard.transports.registry.progress import Progress


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


def _progress(quiet: bool) -> Progress:
    from dockyard.transports.registry.progress import Progress

    return Progress(sys.stdout, quiet=quiet)


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
@click.option("-a", "--all-tags", is_flag=True, help="Download all tagged images.")
@click.option("--platform", default=None, help="Platform os/arch[/variant] (default: host).")
@click.option("-q", "--quiet", is_flag=True, help="Print only the image reference.")
@click.option("--insecure-registry", "insecure", multiple=True,
              help="Allow plain HTTP / unverified TLS for this registry (repeatable).")
@click.pass_context
def pull_cmd(ctx: click.Context, ref: str, all_tags: bool, platform: str | None, quiet: bool,
             insecure: tuple[str, ...]) -> None:
    """Download an image from a registry."""
    from dockyard.engine import registry as engine
    from dockyard.store import Store

    with Store(_store_root(ctx)) as store:
        result = engine.pull(store, ref, platform=platform, all_tags=all_tags,
                             options=_options(insecure), progress=_progress(quiet))
    for line in result.lines:
        click.echo(line)


@click.command("push")
@click.argument("ref")
@click.option("-a", "--all-tags", is_flag=True, help="Push all tags of the repository.")
@click.option("-q", "--quiet", is_flag=True, help="Suppress verbose output.")
@click.option("--insecure-registry", "insecure", multiple=True,
              help="Allow plain HTTP / unverified TLS for this registry (repeatable).")
@click.option("--chunk-size", type=int, default=None, hidden=True,
              help="Upload layers in chunks of this many bytes.")
@click.pass_context
def push_cmd(ctx: click.Context, ref: str, all_tags: bool, quiet: bool,
             insecure: tuple[str, ...], chunk_size: int | None) -> None:
    """Upload an image to a registry."""
    from dockyard.engine import registry as engine
    from dockyard.store import Store

    with Store(_store_root(ctx)) as store:
        engine.push(store, ref, all_tags=all_tags, options=_options(insecure),
                    progress=_progress(quiet), chunk_size=chunk_size)


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
