"""`build` / `image build` / `builder prune`: build an image from a Dockerfile, as `docker build`."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from dockyard.errors import InvalidArgument


def _store(ctx: click.Context) -> Any:
    from dockyard.store import Store

    return Store(ctx.find_root().obj.root)


def _pairs(values: tuple[str, ...], what: str, from_env: bool) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not key:
            raise InvalidArgument(f"invalid {what} {item!r}", hint=f"use --{what} KEY=VALUE")
        if not sep:
            if not from_env:
                value = ""
            elif key in os.environ:
                value = os.environ[key]
            else:
                continue
        out[key] = value
    return out


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
    from dockyard.build.options import BuildOptions
    from dockyard.build.progress import Progress
    from dockyard.cli.dockerfile_errors import report_syntax_error
    from dockyard.dockerfile.errors import DockerfileSyntaxError
    from dockyard.engine.build import BuildRequest, build, check_platform

    check_platform(kw["platform"])
    path: str = kw["path"]
    file_opt: str | None = kw["file"]
    if path == "-" and file_opt == "-":
        raise InvalidArgument("invalid argument: can't use stdin for both build context and"
                              " dockerfile", hint="give a context directory")  # fmt: skip
    req = BuildRequest(options=BuildOptions(
        tags=list(kw["tags"]), build_args=_pairs(kw["build_args"], "build-arg", True),
        target=kw["target"] or None, no_cache=kw["no_cache"],
        labels=_pairs(kw["labels"], "label", False), network=kw["network"],
        platform=kw["platform"], runtime=ctx.find_root().obj.runtime,
    ))  # fmt: skip
    if kw["secrets"]:
        from dockyard.build.mounts import secret_from_cli

        req.options.secrets = dict(secret_from_cli(v, os.environ) for v in kw["secrets"])
    if file_opt == "-":
        req.dockerfile_text = sys.stdin.read()
    else:
        req.dockerfile = file_opt
    if path == "-":
        req.context_tar = sys.stdin.buffer
    else:
        req.context_dir = Path(path)
    if kw["check"]:
        sys.exit(_check(ctx, req, file_opt))
    mode = "quiet" if kw["quiet"] else kw["progress"]
    progress = Progress(mode)
    try:
        result = build(_store(ctx), req, progress)
    except DockerfileSyntaxError as exc:
        report_syntax_error(exc)  # file:line:column, the line, a caret and what was expected
        sys.exit(exc.exit_code)
    if kw["iidfile"]:
        Path(kw["iidfile"]).write_text(result.image_id)
    if kw["quiet"]:
        click.echo(result.image_id)


def _options(fn: Any) -> Any:
    opts: list[Any] = [
        click.argument("path", metavar="PATH | -"),
        click.option("-t", "--tag", "tags", multiple=True, help="Name and optionally a tag."),
        click.option("-f", "--file", default=None, help="Name of the Dockerfile (- for stdin)."),
        click.option("--build-arg", "build_args", multiple=True, help="Set build-time variables."),
        click.option("--target", default=None, help="Set the target build stage to build."),
        click.option("--no-cache", is_flag=True, help="Do not use cache when building the image."),
        click.option("--label", "labels", multiple=True, help="Set metadata for an image."),
        click.option("--network", default="default",
                     help="Networking mode for RUN: default (bridge, NAT), host or none."),
        click.option("-q", "--quiet", is_flag=True, help="Print only the image ID on success."),
        click.option("--iidfile", default=None, help="Write the image ID to the file."),
        click.option("--platform", default=None, help="Target platform (the host's only)."),
        click.option("--progress", type=click.Choice(["auto", "plain", "tty"]), default="auto",
                     help="Type of progress output."),
        click.option("--check", is_flag=True, help="Check the Dockerfile without building."),
        click.option("--secret", "secrets", multiple=True,
                     help="Secret for RUN --mount=type=secret: id=ID,src=PATH or id=ID,env=VAR."),
        click.pass_context,
    ]  # fmt: skip
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def _image_group(root: click.Group) -> click.Group:
    """The `image` group (cmd_images adds the rest to it; importing that module here would cost
    every `dockyard build` its start-up time)."""
    existing = root.commands.get("image")
    if isinstance(existing, click.Group):
        return existing

    @root.group("image")
    def image() -> None:
        """Manage images."""

    return image


def register(root: click.Group) -> None:
    root.command("build")(_options(build_command))
    _image_group(root).command("build")(_options(build_command))

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
