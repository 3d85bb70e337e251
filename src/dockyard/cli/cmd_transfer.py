"""`save` / `load` (and `image save` / `image load`): images to and from tar archives."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, cast

import click

from dockyard.cli.clicktools import image_group
from dockyard.engine import transfer
from dockyard.errors import InvalidArgument
from dockyard.store import Store


def _store(ctx: click.Context) -> Store:
    return Store(ctx.find_root().obj.root)


@contextmanager
def _progress(label: str, total: int | None, enabled: bool) -> Iterator[Callable[[int], None] | None]:
    """A rich progress bar on stderr when it is a terminal; None otherwise."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TransferSpeedColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
               TransferSpeedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def _std_stream(std: Any, mode: str) -> Any:
    """A big-buffered binary stream over stdin/stdout's fd (a dup: closing it leaves std open)."""
    try:
        return os.fdopen(os.dup(std.fileno()), mode, buffering=1 << 20)
    except (OSError, ValueError, io.UnsupportedOperation):
        return _Unclosed(std.buffer)


class _Unclosed(io.BufferedIOBase):
    """Wraps a stream whose owner closes it (click's test runner gives no fd)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def read(self, n: int | None = -1) -> bytes:
        return bytes(self._inner.read(n))

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return int(self._inner.write(data))

    def flush(self) -> None:
        self._inner.flush()

    def close(self) -> None:
        self.flush() if not self._inner.closed else None


def _save(ctx: click.Context, output: str | None, images: tuple[str, ...]) -> None:
    store = _store(ctx)
    items = transfer.save_items(store, images)
    total = transfer.save_size(items)
    if output:
        with _progress("Saving", total, True) as progress:
            transfer.save_to_file(items, Path(output), progress)
        return
    if sys.stdout.isatty():
        raise InvalidArgument(
            "cowardly refusing to save to a terminal. Use the -o flag or redirect",
            hint="dockyard save -o FILE IMAGE, or dockyard save IMAGE > FILE",
        )
    out = _std_stream(sys.stdout, "wb")
    try:
        with _progress("Saving", total, True) as progress:
            transfer.write_archive(items, cast(BinaryIO, out), progress)
    except BrokenPipeError as exc:
        raise InvalidArgument("the reader of the archive went away (broken pipe)") from exc
    finally:
        try:
            out.close()
        except BrokenPipeError:
            pass


def _load(ctx: click.Context, input_: str | None, quiet: bool) -> None:
    store = _store(ctx)
    if input_ and input_ != "-":
        path = Path(input_)
        total = path.stat().st_size if path.is_file() else None
        with _progress("Loading", total, not quiet) as progress:
            loaded = transfer.load(store, path, progress)
    else:
        if sys.stdin.isatty():
            raise InvalidArgument(
                "requested load from stdin, but stdin is empty",
                hint="dockyard load -i FILE, or dockyard load < FILE",
            )
        stream = _std_stream(sys.stdin, "rb")
        with stream, _progress("Loading", None, not quiet) as progress:
            loaded = transfer.load(store, cast(BinaryIO, stream), progress)
    for image in loaded:
        for line in image.messages():
            click.echo(line)


def _save_command(group: click.Group) -> None:
    @group.command("save")
    @click.option("-o", "--output", metavar="FILE", help="Write to a file, instead of STDOUT.")
    @click.argument("images", nargs=-1, required=True)
    @click.pass_context
    def save(ctx: click.Context, output: str | None, images: tuple[str, ...]) -> None:
        """Save one or more images to a tar archive (streamed to STDOUT by default)."""
        _save(ctx, output, images)


def _load_command(group: click.Group) -> None:
    @group.command("load")
    @click.option("-i", "--input", "input_", metavar="FILE",
                  help="Read from a tar archive file (or an OCI layout directory), instead of STDIN.")
    @click.option("-q", "--quiet", is_flag=True, help="Suppress the load progress.")
    @click.pass_context
    def load(ctx: click.Context, input_: str | None, quiet: bool) -> None:
        """Load images from a tar archive (docker-archive, oci-archive) or STDIN."""
        _load(ctx, input_, quiet)


def register(root: click.Group) -> None:
    group: Any = image_group(root)
    for target in (root, group):
        _save_command(target)
        _load_command(target)
