"""`build` / `image build` / `builder prune`: build an image from a Dockerfile, as `docker build`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from dockyard.cli import build_command as build_command_data
from dockyard.cli.clicktools import image_group, options
from dockyard.errors import InvalidArgument


def _store(ctx: click.Context) -> Any:
    from dockyard.store import Store

    return Store(ctx.find_root().obj.root)


def _lint(text: str, name: str, context_dir: Path | None) -> int:
    try:
        from dockyard.lint.report import render
        from dockyard.lint.runner import exit_code, lint_text, load_rules, visible
    except ImportError:
        raise InvalidArgument("--check needs dockyard.lint, which is not installed") from None
    findings = visible(lint_text(text, name))
    click.echo(render(findings, "tty", load_rules()), nl=False)
    if not findings:
        click.echo("Check complete, no warnings found.")
    return exit_code(findings, None)


def _check(ctx: click.Context, req: Any, file_opt: str | None) -> int:
    """`build --check`: lint instead of building (the lint area's entry point when it has one)."""
    try:
        from dockyard.cli.cmd_lint import check_for_build
    except ImportError:
        pass
    else:
        df = Path(file_opt) if file_opt and file_opt != "-" else None
        return int(check_for_build(req.context_dir, df, ctx.find_root().obj.root,
                                   req.dockerfile_text))  # fmt: skip
    if req.dockerfile_text is None:
        base = req.context_dir or Path(".")
        df = Path(file_opt) if file_opt else base / "Dockerfile"
        try:
            req.dockerfile_text = df.read_text()
        except OSError as exc:
            raise InvalidArgument(f"cannot read {df}: {exc.strerror}") from exc
    return _lint(req.dockerfile_text, "Dockerfile", req.context_dir)


def build_command(ctx: click.Context, **kw: Any) -> None:
    """Build an image from a Dockerfile."""
    obj = ctx.find_root().obj
    req = build_command_data.request(kw.pop("path"), kw, obj.runtime)
    if kw["check"]:
        sys.exit(_check(ctx, req, kw["file"]))
    code = build_command_data.build(obj.root, req, kw)
    if code:
        sys.exit(code)


def _options(fn: Any) -> Any:
    """`PATH` and the options of cli/build_command.BUILD_OPTS (the fast entry reads the same)."""
    fn = click.pass_context(fn)  # first: it wraps `fn`, so the options go on the wrapper
    fn = options(build_command_data.BUILD_OPTS)(fn)
    return click.argument("path", metavar="PATH | -")(fn)


def register(root: click.Group) -> None:
    root.command("build")(_options(build_command))
    image_group(root).command("build")(_options(build_command))

    @root.group("builder")
    def builder() -> None:
        """Manage the build cache."""

    @builder.command("prune")
    @click.option("-a", "--all", "all_", is_flag=True, help="Remove all build cache.")
    @click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation.")
    @click.pass_context
    def prune(ctx: click.Context, all_: bool, force: bool) -> None:
        """Remove build cache."""
        from dockyard.build import cache

        if not force and not click.confirm(
            "WARNING! This will remove all build cache. Are you sure you want to continue?"
        ):
            return
        store = _store(ctx)
        _, size = cache.usage(store)
        dropped = cache.prune(store)  # also the RUN --mount=type=cache directories
        click.echo(f"Deleted {dropped} build cache records")
        click.echo(f"Total:\t{size / 1e6:.3g}MB")

    @builder.command("du")
    @click.pass_context
    def du(ctx: click.Context) -> None:
        """Show build cache disk usage."""
        from dockyard.build import cache

        records, size = cache.usage(_store(ctx))
        click.echo(f"Records:\t{records}\nLayers:\t{size / 1e6:.3g}MB")
