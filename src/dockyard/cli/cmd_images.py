"""Image commands: import, images / image ls, tag, rmi / image rm, inspect, history, image prune."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import click

from dockyard.cli.clicktools import image_group
from dockyard.cli.formatting import (
    ellipsis,
    format_rows,
    go_time,
    human_size,
    render_table,
    render_template,
    time_ago,
)
from dockyard.engine import images as engine
from dockyard.engine.image_import import import_image
from dockyard.errors import DockyardError, InvalidArgument, NotFound
from dockyard.store import Store

# -- shared helpers -----------------------------------------------------------------------


def _store(ctx: click.Context) -> Store:
    return Store(ctx.find_root().obj.root)


def _show_rows(rows: list[dict[str, Any]], headers: dict[str, str], cols: list[str],
               quiet: bool, fmt: str | None) -> None:
    """Print a listing as docker does: only the IDs (-q), a --format, or the default table."""
    if quiet:
        for row in rows:
            click.echo(row["ID"])
        return
    if fmt and fmt != "table":
        out = format_rows(fmt, rows, headers)
        if out:
            click.echo(out)
        return
    click.echo(render_table([headers[c] for c in cols], [[r[c] for c in cols] for r in rows]))


InspectFn = Callable[[Any, str], dict[str, Any]]  # (the CLI Context object, ref) -> document


def _inspect_container(obj: Any, ref: str) -> dict[str, Any]:
    from dockyard.engine.containers import ContainerEngine

    doc: dict[str, Any] = ContainerEngine(obj.root, runtime=obj.runtime).inspect(ref)
    return doc


def _inspect_image(obj: Any, ref: str) -> dict[str, Any]:
    with Store(obj.root) as store:
        return engine.inspect_image(store, ref)


# `dockyard inspect` tries each type in order (Docker's: containers, then images);
# other areas add theirs with register_inspect_type.
INSPECT_TYPES: dict[str, InspectFn] = {"container": _inspect_container, "image": _inspect_image}


def register_inspect_type(name: str, fn: InspectFn) -> None:
    INSPECT_TYPES[name] = fn


def _print_inspect(docs: list[dict[str, Any]], fmt: str | None) -> None:
    if fmt:
        for doc in docs:
            click.echo(render_template(fmt, doc))
    else:
        click.echo(json.dumps(docs, indent=4))


def _inspect(obj: Any, refs: tuple[str, ...], kind: str | None, fmt: str | None) -> None:
    types = {kind: INSPECT_TYPES[kind]} if kind else INSPECT_TYPES
    docs: list[dict[str, Any]] = []
    missing: list[str] = []
    for ref in refs:
        for fn in types.values():
            try:
                docs.append(fn(obj, ref))
                break
            except (NotFound, ImportError):
                continue
        else:
            missing.append(ref)
    _print_inspect(docs, fmt)
    if missing:
        what = {"image": "image", "container": "container"}.get(kind or "", "object")
        raise NotFound(f"No such {what}: {missing[0]}")


# -- images -------------------------------------------------------------------------------

_IMAGE_HEADERS = {
    "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST", "ID": "IMAGE ID",
    "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
    "Containers": "CONTAINERS", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE",
    "VirtualSize": "VIRTUAL SIZE",
}


def _image_rows(summaries: list[engine.ImageSummary], no_trunc: bool) -> list[dict[str, str]]:
    rows = []
    for s in summaries:
        shown_id = s.id if no_trunc else s.id.split(":", 1)[1][:12]
        digests = {d.rpartition("@")[0]: d.rpartition("@")[2] for d in s.repo_digests}
        pairs = [engine_split(t) for t in s.repo_tags]
        if not pairs:
            pairs = [(repo, "<none>") for repo in digests] or [("<none>", "<none>")]
        for repo, tag in pairs:
            rows.append({
                "Containers": "N/A",
                "CreatedAt": go_time(s.created) if s.created is not None else "",
                "CreatedSince": time_ago(s.created),
                "Digest": digests.get(repo, "<none>"),
                "ID": shown_id,
                "Repository": repo,
                "SharedSize": "N/A",
                "Size": human_size(s.size),
                "Tag": tag,
                "UniqueSize": "N/A",
                "VirtualSize": human_size(s.size, 4),
            })
    return rows


def engine_split(familiar_tag: str) -> tuple[str, str]:
    repo, _, tag = familiar_tag.rpartition(":")
    return repo, tag


def _images(ctx: click.Context, repository: str | None, quiet: bool, all_: bool, digests: bool,
            no_trunc: bool, filters: tuple[str, ...], fmt: str | None) -> None:
    store = _store(ctx)
    wanted = list(filters)
    if repository:
        wanted.append(f"reference={repository}")
    rows = _image_rows(engine.list_images(store, all=all_, filters=wanted), no_trunc)
    cols = ["Repository", "Tag", *(["Digest"] if digests else []), "ID", "CreatedSince", "Size"]
    _show_rows(rows, _IMAGE_HEADERS, cols, quiet, fmt)


def _images_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    decorators: list[Any] = [
        click.argument("repository", required=False),
        click.option("-q", "--quiet", is_flag=True, help="Only show image IDs."),
        click.option("-a", "--all", "all_", is_flag=True, help="Show all images (also intermediate)."),
        click.option("--digests", is_flag=True, help="Show digests."),
        click.option("--no-trunc", is_flag=True, help="Don't truncate output."),
        click.option("-f", "--filter", "filters", multiple=True,
                     help="Filter: dangling=true, reference=PATTERN, label=K[=V], before/since=IMAGE."),
        click.option("--format", "fmt", default=None,
                     help="'table', 'json' or a Go template ('{{.Repository}}:{{.Tag}}')."),
        click.pass_context,
    ]
    for deco in reversed(decorators):
        fn = deco(fn)
    return fn


# -- history ------------------------------------------------------------------------------

_HISTORY_HEADERS = {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
                    "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"}


def _history(ctx: click.Context, ref: str, human: bool, no_trunc: bool, quiet: bool,
             fmt: str | None) -> None:
    store = _store(ctx)
    rows = []
    for h in engine.image_history(store, ref):
        shown = h.image if (no_trunc or h.image == "<missing>") else h.image.split(":", 1)[1][:12]
        created_by = h.created_by.replace("\t", " ")
        rows.append({
            "ID": shown,
            "CreatedSince": time_ago(h.created) if human else
            (go_time(h.created) if h.created is not None else "N/A"),
            "CreatedAt": go_time(h.created) if h.created is not None else "",
            "CreatedBy": created_by if no_trunc else ellipsis(created_by, 45),
            "Size": human_size(h.size) if human else str(h.size),
            "Comment": h.comment,
        })
    _show_rows(rows, _HISTORY_HEADERS, ["ID", "CreatedSince", "CreatedBy", "Size", "Comment"],
               quiet, fmt)


def _history_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    decorators: list[Any] = [
        click.argument("image"),
        click.option("-H", "--human", type=click.BOOL, default=True, show_default=True,
                     help="Print sizes and dates in human readable format."),
        click.option("--no-trunc", is_flag=True, help="Don't truncate output."),
        click.option("-q", "--quiet", is_flag=True, help="Only show image IDs."),
        click.option("--format", "fmt", default=None, help="'table', 'json' or a Go template."),
        click.pass_context,
    ]
    for deco in reversed(decorators):
        fn = deco(fn)
    return fn


# -- rmi / tag / import / prune -----------------------------------------------------------


def _rmi(ctx: click.Context, images: tuple[str, ...], force: bool, no_prune: bool) -> None:
    lines, errors = engine.remove_images(_store(ctx), images, force=force, prune=not no_prune)
    for line in lines:
        click.echo(line)
    if errors:
        for exc in errors[:-1]:
            click.echo(f"Error: {exc.message}", err=True)
        raise errors[-1]


def _import(ctx: click.Context, file: str, reference: str | None, changes: tuple[str, ...],
            message: str, platform: str | None) -> None:
    store = _store(ctx)
    if file == "-":
        stream: BinaryIO = sys.stdin.buffer
        image_id = import_image(store, stream, reference, changes=changes, message=message,
                                platform=platform, source_name="-")
    else:
        path = Path(file)
        if not path.is_file():
            raise InvalidArgument(
                f"cannot import {file}: no such file", hint="give a tarball path, or - for stdin"
            )
        with open(path, "rb") as f:
            image_id = import_image(store, f, reference, changes=changes, message=message,
                                    platform=platform, source_name="-")
    click.echo(image_id)


def _prune(ctx: click.Context, all_: bool, force: bool, filters: tuple[str, ...]) -> None:
    if not force:
        what = "all images without at least one container associated to them" if all_ \
            else "all dangling images"
        click.echo(f"WARNING! This will remove {what}.", err=False)
        answer = click.prompt("Are you sure you want to continue? [y/N]", default="",
                              show_default=False, prompt_suffix=" ")
        if answer.strip().lower() not in ("y", "yes"):
            return
    report = engine.prune_images(_store(ctx), all=all_, filters=filters)
    if report.deleted:
        click.echo("Deleted Images:")
        for line in report.deleted:
            click.echo(line)
        click.echo("")
    click.echo(f"Total reclaimed space: {human_size(report.space_reclaimed, 4)}")


# -- registration -------------------------------------------------------------------------


def register(root: click.Group) -> None:
    image = image_group(root)

    def images_cmd(ctx: click.Context, **kw: Any) -> None:
        """List images."""
        _images(ctx, kw["repository"], kw["quiet"], kw["all_"], kw["digests"], kw["no_trunc"],
                kw["filters"], kw["fmt"])

    root.command("images")(_images_options(images_cmd))
    image.command("ls")(_images_options(images_cmd))
    image.command("list", hidden=True)(_images_options(images_cmd))

    def history_cmd(ctx: click.Context, image: str, human: bool, no_trunc: bool, quiet: bool,
                    fmt: str | None) -> None:
        """Show the history of an image."""
        _history(ctx, image, human, no_trunc, quiet, fmt)

    root.command("history")(_history_options(history_cmd))
    image.command("history")(_history_options(history_cmd))

    def rmi_cmd(ctx: click.Context, images: tuple[str, ...], force: bool, no_prune: bool) -> None:
        """Remove one or more images."""
        _rmi(ctx, images, force, no_prune)

    for group, name in ((root, "rmi"), (image, "rm"), (image, "remove")):
        cmd: Any = click.pass_context(rmi_cmd)
        cmd = click.option("--no-prune", is_flag=True, help="Do not delete untagged parents.")(cmd)
        cmd = click.option("-f", "--force", is_flag=True, help="Force removal of the image.")(cmd)
        cmd = click.argument("images", nargs=-1, required=True)(cmd)
        group.command(name, hidden=(name == "remove"))(cmd)

    def tag_cmd(ctx: click.Context, source: str, target: str) -> None:
        """Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE."""
        engine.tag_image(_store(ctx), source, target)

    for group in (root, image):
        cmd2: Any = click.argument("source")(click.argument("target")(click.pass_context(tag_cmd)))
        group.command("tag")(cmd2)

    def import_cmd(ctx: click.Context, file: str, reference: str | None,
                   changes: tuple[str, ...], message: str, platform: str | None) -> None:
        """Import the contents from a tarball to create a filesystem image."""
        _import(ctx, file, reference, changes, message, platform)

    for group in (root, image):
        cmd3: Any = click.pass_context(import_cmd)
        cmd3 = click.option("--platform", default=None, help="Set platform (os/arch[/variant]).")(cmd3)
        cmd3 = click.option("-m", "--message", default="", help="Commit message for the image.")(cmd3)
        cmd3 = click.option("-c", "--change", "changes", multiple=True,
                           help="Apply a Dockerfile instruction to the image.")(cmd3)
        cmd3 = click.argument("reference", required=False)(cmd3)
        cmd3 = click.argument("file")(cmd3)
        group.command("import")(cmd3)

    @image.command("inspect")
    @click.argument("images", nargs=-1, required=True)
    @click.option("-f", "--format", "fmt", default=None, help="Format output with a Go template.")
    @click.pass_context
    def image_inspect(ctx: click.Context, images: tuple[str, ...], fmt: str | None) -> None:
        """Display detailed information on one or more images."""
        _inspect(ctx.find_root().obj, images, "image", fmt)

    # replaces a containers-only `inspect` registered earlier: this one tries every type
    @root.command("inspect")
    @click.argument("names", nargs=-1, required=True)
    @click.option("-f", "--format", "fmt", default=None, help="Format with a Go template.")
    @click.option("--type", "kind", default=None, help="Only this type (container or image).")
    @click.pass_context
    def inspect(ctx: click.Context, names: tuple[str, ...], fmt: str | None,
                kind: str | None) -> None:
        """Return low-level information on containers and images."""
        if kind and kind not in INSPECT_TYPES:
            raise InvalidArgument(f'"{kind}" is not a valid value for --type',
                                  hint="use one of " + ", ".join(INSPECT_TYPES))
        _inspect(ctx.find_root().obj, names, kind, fmt)

    @image.command("prune")
    @click.option("-a", "--all", "all_", is_flag=True, help="Remove all unused images.")
    @click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation.")
    @click.option("--filter", "filters", multiple=True, help="Filter (label=..., ...).")
    @click.pass_context
    def prune(ctx: click.Context, all_: bool, force: bool, filters: tuple[str, ...]) -> None:
        """Remove unused images."""
        _prune(ctx, all_, force, filters)


__all__ = ["register", "image_group", "register_inspect_type", "DockyardError"]
