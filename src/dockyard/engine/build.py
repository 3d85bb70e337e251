"""`build` by plain values: a context (directory or tar stream) and a Dockerfile -> a tagged image."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from dockyard.build.options import BuildOptions
from dockyard.errors import InvalidArgument, NotFound

if TYPE_CHECKING:
    from dockyard.build.context import BuildContext
    from dockyard.build.progress import Progress
    from dockyard.build.replay import Signature
    from dockyard.store import Store

__all__ = ["BuildOptions", "BuildRequest", "BuildResult", "build", "check_platform"]


@dataclass
class BuildRequest:
    """Where the context and the Dockerfile come from."""

    context_dir: Path | None = None  # a directory
    context_tar: BinaryIO | None = None  # or a tar stream (`-`)
    dockerfile: str | None = None  # -f value: a path, or None for <context>/Dockerfile
    dockerfile_text: str | None = None  # the Dockerfile itself (`-f -`)
    options: BuildOptions = field(default_factory=BuildOptions)


@dataclass
class BuildResult:
    image_id: str
    names: list[str]
    warnings: list[str] = field(default_factory=list)


def check_platform(platform: str | None) -> None:
    """Only the host's platform can be built (no emulation)."""
    if not platform:
        return
    from dockyard.dockerfile.expand import host_platform

    host = host_platform()
    wanted = platform.lower().strip()
    if wanted != host and not (wanted.startswith(host + "/") or host.startswith(wanted + "/")):
        raise InvalidArgument(
            f"platform {platform} is not supported: this machine builds {host} only",
            hint=f"drop --platform or use --platform {host}",
        )


def _read_dockerfile(req: BuildRequest, context: BuildContext) -> tuple[str, str]:
    """(text, name shown in errors)."""
    if req.dockerfile_text is not None:
        return req.dockerfile_text, "Dockerfile"
    if req.dockerfile:
        path = Path(req.dockerfile)
        if req.context_tar is not None and not path.is_absolute():
            path = context.root / path
    else:
        path = context.root / "Dockerfile"
    try:
        return path.read_text(), path.name
    except FileNotFoundError:
        raise NotFound(
            f"failed to read dockerfile: open {path.name}: no such file or directory",
            hint="pass -f PATH, or put a Dockerfile in the context directory",
        ) from None
    except (IsADirectoryError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"failed to read dockerfile {path}: {exc}") from exc


def build(store: Store, req: BuildRequest, progress: Progress) -> BuildResult:
    """Build and tag; nothing is tagged if any step fails.

    A directory build whose inputs provably did not change since a recorded build in this
    store is answered from that record (build/replay.py) without parsing or hashing anything."""
    from dockyard.build import replay

    opts = req.options
    check_platform(opts.platform)
    names = [_check_tag(t) for t in opts.tags]
    keyed = None
    if req.context_tar is None and req.context_dir is not None:
        dockerfile = Path(req.dockerfile) if req.dockerfile else None
        keyed = replay.request_key(req.context_dir, dockerfile, req.dockerfile_text, opts)
        if keyed is not None and not opts.no_cache:
            image_id = replay.replay(store, keyed[0], keyed[1], names, progress)
            if image_id is not None:
                return BuildResult(image_id, names)
    return _build(store, req, progress, names, keyed)


def _build(store: Store, req: BuildRequest, progress: Progress, names: list[str],
           keyed: tuple[str, Path] | None) -> BuildResult:  # fmt: skip
    from dockyard.build import replay, stepcache
    from dockyard.build.context import BuildContext
    from dockyard.build.executor import Executor
    from dockyard.dockerfile.parser import parse
    from dockyard.dockerfile.stages import build_stages
    from dockyard.image import mutate

    opts = req.options
    tmp: Path | None = None
    try:
        if req.context_tar is not None:
            tmp = store.tmpdir("build-context-")
            context = BuildContext.from_tar(req.context_tar, tmp, req.dockerfile or "Dockerfile")
        else:
            assert req.context_dir is not None
            dockerfile_path = Path(req.dockerfile) if req.dockerfile else None
            context = BuildContext.from_dir(req.context_dir, dockerfile_path)
        skipped: list[str] = []
        sig = _signature(context, skipped) if keyed is not None else None  # before any read
        text, name = _read_dockerfile(req, context)
        progress.header()
        vertex = progress.vertex("[internal] load build definition from " + name)
        result = parse(text, name)
        dockerfile = build_stages(result)
        vertex.done()
        warnings = [f"{w.short or 'Warning'}: {w.message} (line {w.line})" for w in result.warnings]
        with store.lease():
            executor = Executor(store, context, dockerfile, text.splitlines(), opts, progress,
                                _puller(opts.platform))
            image = executor.run()
            export = progress.vertex("exporting to image")
            export.note(f"writing image {image.id} done")
            stored = mutate.register(image, names)
            stepcache.link(store, executor.used_keys, stored.id)
            for n in names:
                export.note(f"naming to {n} done")
            export.done()
        progress.summary(True)
        if keyed is not None and sig is not None and not sig.racy and not executor.volatile:
            record = replay.Record(sig.digest, stored.id, stored.manifest_digest,
                                   replay.externals_of(store, executor.externals),
                                   replay.steps_of(progress), skipped)
            replay.save(store, keyed[0], record)
        return BuildResult(stored.id, names, warnings)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _puller(platform: str | None) -> Callable[[Store, str], None]:
    """FROM an image missing from the store: `docker pull` it (quietly) through the registry,
    into the store given (a parallel stage's own)."""

    def pull(store: Store, ref: str) -> None:
        from dockyard.engine import registry

        registry.pull(store, ref, platform=platform)

    return pull


def _signature(context: BuildContext, skipped: list[str]) -> Signature | None:
    """The context's stat signature, leaving out (and listing) what .dockerignore excludes."""
    from dockyard.build import replay

    def skip(rel: str, is_dir: bool) -> bool:
        if not context.is_excluded(rel):
            return False
        if is_dir and context.may_hold_included(rel):
            return False
        skipped.append(rel)
        return True

    return replay.signature(context.root, skip)


_SIMPLE_TAG = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?")


def _check_tag(tag: str) -> str:
    """The stored name of a tag: a one-part name (`app`, `app:1.0`) is read here, as Docker does
    (docker.io/library/NAME, tag latest); anything else goes through dockyard.reference."""
    if _SIMPLE_TAG.fullmatch(tag) and len(tag.partition(":")[0]) <= 255:
        name, _, version = tag.partition(":")
        return f"docker.io/library/{name}:{version or 'latest'}"
    from dockyard.store.images import normalize_name

    try:
        return normalize_name(tag)
    except InvalidArgument as exc:
        raise InvalidArgument(
            f"invalid tag {tag!r}: {exc.message}", hint="use name[:tag], e.g. my-app:1.0"
        ) from exc
