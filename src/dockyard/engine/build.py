"""`build` by plain values: a context (directory or tar stream) and a Dockerfile -> a tagged image."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from dockyard.build.options import BuildOptions
from dockyard.errors import InvalidArgument, NotFound

if TYPE_CHECKING:
    from collections.abc import Callable

    from dockyard.build.context import BuildContext
    from dockyard.build.progress import Progress
    from dockyard.build.replay import Signature
    from dockyard.dockerfile.stages import Dockerfile
    from dockyard.store import Store

__all__ = ["BuildOptions", "BuildRequest", "BuildResult", "build", "check_platform"]


class BuildRequest:
    """Where the context and the Dockerfile come from (plain classes here, not dataclasses:
    see build/options.py)."""

    def __init__(
        self, context_dir: Path | None = None, context_tar: BinaryIO | None = None,
        dockerfile: str | None = None, dockerfile_text: str | None = None,
        options: BuildOptions | None = None,
    ) -> None:  # fmt: skip
        self.context_dir = context_dir  # a directory
        self.context_tar = context_tar  # or a tar stream (`-`)
        self.dockerfile = dockerfile  # -f value: a path, or None for <context>/Dockerfile
        self.dockerfile_text = dockerfile_text  # the Dockerfile itself (`-f -`)
        self.options = options if options is not None else BuildOptions()


class BuildResult:
    def __init__(self, image_id: str, names: list[str], warnings: list[str] | None = None) -> None:
        self.image_id = image_id
        self.names = names
        self.warnings: list[str] = warnings if warnings is not None else []

    def __repr__(self) -> str:
        return f"BuildResult(image_id={self.image_id!r}, names={self.names!r})"


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
    try:
        result = _build(store, req, progress, names, keyed)
    except BaseException:
        _wait_run_teardowns(quiet=True)
        raise
    _wait_run_teardowns()
    return result


def _wait_run_teardowns(quiet: bool = False) -> None:
    """Join what RUN steps undo on a thread after they ran (runc's state, the network, the
    bundle): all of it is gone when a build returns. `quiet`: the build failed already."""
    import sys

    run_step = sys.modules.get("dockyard.build.run_step")  # (only if a RUN step ran)
    if run_step is None:
        return
    if not quiet:
        run_step.wait_teardowns()
        return
    try:
        run_step.wait_teardowns()
    except Exception:  # the build's own error is the one to report
        pass


def _build(store: Store, req: BuildRequest, progress: Progress, names: list[str],
           keyed: tuple[str, Path] | None) -> BuildResult:  # fmt: skip
    from dockyard.build.context import BuildContext
    from dockyard.dockerfile.parser import parse
    from dockyard.dockerfile.stages import build_stages

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
        if opts.no_cache:  # every RUN step will run: attach the first one's network meanwhile
            _prewarm_run_network(store, dockerfile, opts)
        from dockyard.build import replay, stepcache  # (after the prewarm: ~60 ms of imports)
        from dockyard.build.executor import Executor
        from dockyard.image import mutate

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
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)


def _prewarm_run_network(store: Store, dockerfile: Dockerfile, opts: BuildOptions) -> None:
    """Start attaching a RUN step's network (build/run_step.py: prewarm) while the executor
    is imported and the steps before it run; undone at the end if no step takes it."""
    from dockyard.build.options import network_mode
    from dockyard.dockerfile.commands import Run
    from dockyard.errors import DockyardError

    for stage in dockerfile.stages:
        for command in stage.commands:
            if not isinstance(command, Run):
                continue
            try:
                mode = network_mode(command.network or opts.network)
            except DockyardError:
                continue  # the step reports it
            if mode == "default":
                from dockyard.build import run_step

                run_step.prewarm(store, mode)
                return


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


def _check_tag(tag: str) -> str:
    """The stored name of a tag: a one-part name (`app`, `app:1.0`) is read without
    dockyard.reference, as Docker does (docker.io/library/NAME, tag latest)."""
    from dockyard.store.images import normalize_name

    try:
        return normalize_name(tag)
    except InvalidArgument as exc:
        raise InvalidArgument(
            f"invalid tag {tag!r}: {exc.message}", hint="use name[:tag], e.g. my-app:1.0"
        ) from exc
