"""Registry commands: login, logout, pull, push, and `registry serve`."""

from __future__ import annotations

from pathlib import Path

import click

from dockyard.errors import InvalidArgument


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


def register(group: click.Group) -> None:
    existing = group.commands.get("registry")
    if isinstance(existing, click.Group):
        registry = existing
    else:
        @group.group("registry")
        def registry() -> None:
            """Run a registry of your own."""

    registry.add_command(_serve_command())
