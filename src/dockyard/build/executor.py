"""Runs a build plan: each stage from its base, each step through the cache or for real
(metadata steps change the config; WORKDIR/COPY/ADD/RUN commit a layer)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from dockyard.build import imaging, meta, planner, step_text
from dockyard.build.context import BuildContext
from dockyard.build.copy import Copier, Owner, dest_path, parse_chmod, resolve_chown
from dockyard.build.layers import LayerWork, readonly_rootfs, writable_layer
from dockyard.build.options import BuildOptions, network_mode
from dockyard.build.progress import Progress, Vertex
from dockyard.build.sources import exclude_of, is_url, prepare, resolve_late
from dockyard.build.stepcache import BuildCache, step_key
from dockyard.dockerfile.commands import Add, Arg, Command, Copy, Run, Workdir
from dockyard.dockerfile.expand import StageEnv, Step
from dockyard.dockerfile.stages import Dockerfile
from dockyard.errors import DockyardError, InvalidArgument, NotFound
from dockyard.image import StoredImage
from dockyard.oci.config import ImageConfig, now
from dockyard.store import Store
from dockyard.store.snapshots import rmtree


class Canceled(DockyardError):
    """A stage stopped because another stage of the build failed."""

    code = "build_canceled"
    exit_code = 1


class StepFailed(DockyardError):
    """A build step failed; the message is BuildKit's `failed to solve: ...`."""

    code = "build_failed"
    exit_code = 1


class _StageState:
    """A stage being built. `image` is the last image written to the store; metadata-only
    steps after it change only `config` (BuildKit keys them on the previous step's key, `key`,
    and writes no image for them), and `dirty` says the stage's image is still to be written."""

    def __init__(self, plan: planner.StagePlan, image: StoredImage, tracker: StageEnv,
                 config: ImageConfig, key: str) -> None:  # fmt: skip
        self.plan = plan
        self.image = image
        self.tracker = tracker
        self.config = config
        self.key = key
        self.flags = meta.StageFlags()
        self.declared: list[str] = []
        self.cache_ok = True
        self.dirty = False
        self.in_trigger = False  # running the base's ONBUILD triggers (shown as `ONBUILD ...`)
        self.commands: list[Command] = []  # the stage's commands (triggers first) ...
        self.position = 0  # ... and the index of the one being run

    def label(self, text: str) -> str:
        return self.plan.label(("ONBUILD " if self.in_trigger else "") + text)


class Executor:
    def __init__(
        self, store: Store, context: BuildContext, dockerfile: Dockerfile, lines: list[str],
        options: BuildOptions, progress: Progress,
        pull: Callable[[Store, str], None] | None = None,
    ) -> None:  # fmt: skip
        self.main_store = store
        self._local = threading.local()  # a stage thread's own Store and BuildCache
        self._stores: list[Store] = []
        self.context = context
        self.dockerfile = dockerfile
        self.lines = lines
        self.opts = options
        self.progress = progress
        self.main_cache = BuildCache(store, enabled=not options.no_cache)
        self.results: dict[int, StoredImage] = {}
        self.stage_states: dict[int, _StageState] = {}  # finished stages (their ARGs)
        self.filename = dockerfile.ast.filename
        self.pull = pull  # fetches a missing base image into a store (the registry client)
        self._pulling: dict[str, threading.Lock] = {}  # one pull per image at a time
        self._pulls_lock = threading.Lock()
        self.externals: dict[str, str] = {}  # image names the build resolved -> image IDs
        self.used_keys: list[str] = []  # cache keys of every step (linked to the result)
        self.volatile = False  # read something outside the context (ADD of a URL)
        self.cancel: threading.Event | None = None  # set when a parallel stage failed

    @property
    def store(self) -> Store:
        """The Store of the calling thread (a stage thread has its own)."""
        store: Store = getattr(self._local, "store", None) or self.main_store
        return store

    @property
    def cache(self) -> BuildCache:
        cache: BuildCache = getattr(self._local, "cache", None) or self.main_cache
        return cache

    # -- whole build ---------------------------------------------------------------------
    def run(self) -> StoredImage:
        plan = planner.plan(self.dockerfile, self.opts.target, self.opts.build_args,
                            self.opts.platform)  # fmt: skip
        self.plan = plan
        if len(plan.stages) == 1:
            sp = plan.stages[0]
            self.results[sp.stage.index] = self._stage(sp)
        else:
            from dockyard.build import parallel

            try:
                parallel.run_stages(self, plan)
            finally:
                for store in self._stores:
                    store.close()
        final = StoredImage(self.main_store, self.results[plan.target.stage.index].record)
        if self.opts.labels:
            config = final.config
            labels = {**(config.cfg.labels or {}), **self.opts.labels}
            final = imaging.store_image(
                self.store, config.replace(config=config.cfg.replace(labels=labels)), final.layers
            )
        return final

    # -- stages --------------------------------------------------------------------------
    def stage_in_thread(self, sp: planner.StagePlan) -> StoredImage:
        """Build one stage on a worker thread, through a Store of its own."""
        store = Store(self.main_store.root)
        self._stores.append(store)
        self._local.store = store
        self._local.cache = BuildCache(store, enabled=not self.opts.no_cache)
        return self._stage(sp)

    def _check_canceled(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Canceled("canceled: another stage failed")

    def _stage(self, sp: planner.StagePlan) -> StoredImage:
        image = self._base(sp)
        triggers = self._triggers(image)
        if triggers:
            cfg = image.config.cfg.replace(on_build=None)
            image = imaging.store_image(self.store, image.config.replace(config=cfg), image.layers)
            sp.total += sum(isinstance(c, planner.LAYER_KINDS) for c in triggers)
        tracker = StageEnv(image.config.cfg.env or (), self.opts.build_args, self.plan.scope,
                           self.dockerfile.escape)  # fmt: skip
        state = _StageState(sp, image, tracker, image.config, image.id)
        state.cache_ok = not self.opts.no_cache
        if sp.base_stage is not None:  # BuildKit: a stage on a stage inherits its ARGs (values
            base = self.stage_states[sp.base_stage]  # and the `RUN |N K=V` list), in order
            tracker.args.update(base.tracker.args)
            tracker.declared |= base.tracker.declared
            state.declared = list(base.declared)
        state.commands = [*triggers, *sp.stage.commands]
        if not state.cache_ok:  # --no-cache: every RUN step will run
            self._prewarm_network(state)
        for n, command in enumerate(state.commands):
            self._check_canceled()
            state.position = n
            state.in_trigger = n < len(triggers)
            try:
                step = tracker.step(command)
            except DockyardError as exc:
                raise self._located(exc, command) from exc
            state.image = self._dispatch(state, step, command)
        state.image = self._materialize(state)
        self.stage_states[sp.stage.index] = state
        return state.image

    def _materialize(self, state: _StageState) -> StoredImage:
        """The stage's image after its last step: written (once) when metadata-only steps
        followed the last stored image, reusing the cached one when every step hit."""
        if not state.dirty:
            return state.image
        self.used_keys.append(state.key)
        if state.cache_ok:
            hit = self.cache.get(state.key)
            if hit is not None:
                return hit
        image = imaging.store_image(self.store, state.config, state.image.layers)
        self.cache.put(state.key, image)
        return image

    def _base(self, sp: planner.StagePlan) -> StoredImage:
        if sp.base_stage is not None:
            return imaging.start_from_stage(self.store, self.results[sp.base_stage])
        if sp.scratch:
            return imaging.scratch(self.store)
        from dockyard.store.images import simple_ref

        simple = simple_ref(sp.base)  # the common `name:tag`, without dockyard.reference
        if simple is not None:
            shown = f"{simple.repository}:{simple.tag}"
        else:
            from dockyard import reference

            try:
                shown = reference.normalize(sp.base)
            except DockyardError as exc:
                raise self._located(exc, sp.stage.from_) from exc
        vertex = self.progress.vertex(sp.label(f"FROM {shown}"))
        try:
            base = self._find_or_pull(sp.base, vertex)
        except DockyardError as exc:
            vertex.error(f"{shown}: {exc.message}")
            raise NotFound(
                f"failed to resolve source metadata for {shown}: {exc.message}",
                hint="import or build it first (see scripts/base-images.sh for"
                " python:3.11-slim and debian:bookworm-slim), or fix the FROM line",
            ) from exc
        self.externals[sp.base] = base.id
        image = imaging.start_from_image(self.store, base)
        vertex.done()
        return image

    def _find_or_pull(self, ref: str, vertex: Vertex) -> StoredImage:
        """The base image from the store, pulled through the registry client when missing:
        into the calling stage's own Store, and once when two stages need the same image."""
        try:
            return self.store.image(ref)
        except NotFound:
            if self.pull is None:
                raise NotFound("no such image in the local store, and no registry to pull it"
                               " from") from None  # fmt: skip
        with self._pulls_lock:
            lock = self._pulling.setdefault(ref, threading.Lock())
        with lock:
            try:
                return self.store.image(ref)  # another stage pulled it meanwhile
            except NotFound:
                vertex.note(f"pulling {ref}")
                self.pull(self.store, ref)
        return self.store.image(ref)

    def _triggers(self, image: StoredImage) -> list[Command]:
        from dockyard.dockerfile.instructions import parse_command
        from dockyard.dockerfile.parser import parse

        out: list[Command] = []
        for expression in image.config.cfg.on_build or ():
            result = parse(expression + "\n", "ONBUILD")
            out.extend(parse_command(node, "ONBUILD") for node in result.children)
        return out

    def _located(self, exc: DockyardError, command: Command) -> DockyardError:
        from dockyard.dockerfile.errors import DockerfileSyntaxError

        if isinstance(exc, DockerfileSyntaxError):
            return exc
        line = max(command.line, 1)
        return type(exc)(f"{self.filename}:{line}: {exc.message}", exc.hint)

    # -- steps ---------------------------------------------------------------------------
    def _used_args(self, state: _StageState, step: Step) -> dict[str, str]:
        args = state.tracker.args
        return {n: args.get(n, self.opts.build_args.get(n, "")) for n in sorted(step.used_args)}

    def _dispatch(self, state: _StageState, step: Step, original: Command) -> StoredImage:
        command = step.command
        if isinstance(command, Arg):
            return self._arg(state, step, command)
        if isinstance(command, meta.META_KINDS):
            config, created_by = meta.apply_meta(state.config, command, state.flags)
            return self._meta_step(state, step, config, created_by)
        if isinstance(command, Workdir):
            return self._workdir(state, step, command)
        if isinstance(command, Run):
            return self._run(state, step, command)
        if isinstance(command, (Copy, Add)):
            return self._copy(state, step, command)
        raise InvalidArgument(f"{command.name} is not supported here", hint="remove it")

    def _meta_step(
        self, state: _StageState, step: Step, config: ImageConfig, created_by: str | None
    ) -> StoredImage:
        """A metadata-only step: keyed on the previous step's key, applied to the config in
        memory (the stage's image is written once, by _materialize or the next layer step)."""
        details = step_text.canonical(step.command)
        state.key = step_key(state.key, created_by or "", details, self._used_args(state, step))
        entry = imaging.history(now(), created_by, True) if created_by is not None else None
        state.config = imaging.with_entry(config, entry)
        state.dirty = True
        return state.image

    def _arg(self, state: _StageState, step: Step, command: Arg) -> StoredImage:
        parts = []
        for pair in command.args:
            if pair.name not in state.declared:
                state.declared.append(pair.name)
            value = state.tracker.args.get(pair.name)
            parts.append(pair.name if value is None else f"{pair.name}={value}")
        return self._meta_step(state, step, state.config, "ARG " + " ".join(parts))

    def _layer_step(
        self, state: _StageState, step: Step, label: str, config: ImageConfig, created_by: str,
        work: Callable[[LayerWork, Vertex], None], sources: str = "",
        extra: dict[str, Any] | None = None,
    ) -> StoredImage:  # fmt: skip
        parent = state.image
        vertex = self.progress.vertex(state.label(label))
        details = {**step_text.canonical(step.command), **(extra or {})}
        key = step_key(state.key, created_by, details, self._used_args(state, step), sources)
        state.key = key
        self.used_keys.append(key)
        if state.cache_ok:
            hit = self.cache.get(key)
            if hit is not None:
                vertex.cached()
                state.config, state.dirty = hit.config, False
                return hit
        if state.cache_ok:  # the first miss: the rest of the stage runs for real
            state.cache_ok = False  # (a miss invalidates the rest of the stage)
            self._prewarm_network(state)
        try:
            with writable_layer(self.store, parent) as layer:
                work(layer, vertex)
        except DockyardError as exc:
            self._fail(vertex, step.command, exc)
        entry = imaging.history(now(), created_by, layer.result is None)
        image = imaging.add_step(self.store, parent, config, entry, layer.result)
        self.cache.put(key, image)
        state.config, state.dirty = image.config, False
        vertex.done()
        return image

    def _prewarm_network(self, state: _StageState) -> None:
        """When a RUN step with a network is to run after this one, attach its network now, on
        a thread, while the steps before it run (build/run_step.py: prewarm)."""
        upcoming = next((c for c in state.commands[state.position + 1:] if isinstance(c, Run)),
                        None)  # fmt: skip
        if upcoming is None:
            return
        try:
            mode = network_mode(upcoming.network or self.opts.network)
        except DockyardError:
            return  # the step itself reports it
        if mode == "default":
            from dockyard.build import run_step

            run_step.prewarm(self.store, mode)

    def _fail(self, vertex: Vertex, command: Command, exc: DockyardError) -> None:
        if self.cancel is not None and self.cancel.is_set():
            vertex.canceled()  # another stage failed first: its error is the build's
            raise Canceled("canceled: another stage failed") from exc
        vertex.error(exc.message)
        line = max(command.line, 1)
        end = max(command.node.end_line, line)
        shown = []
        for n in range(max(1, line - 2), min(len(self.lines), end + 2) + 1):
            marker = ">>>" if line <= n <= end else "   "
            shown.append(f" {n:>3} | {marker} {self.lines[n - 1]}")
        self.progress.failure_report(vertex.name, bytes(vertex.output),
                                     f"{self.filename}:{line}", shown, exc.message)  # fmt: skip
        raise StepFailed(f"failed to solve: {exc.message}", exc.hint) from exc

    def _workdir(self, state: _StageState, step: Step, command: Workdir) -> StoredImage:
        config, wd = meta.workdir_config(state.config, command)
        created_by = f"WORKDIR {wd}"
        if wd == "/":
            return self._meta_step(state, step, config, created_by)
        user = config.cfg.user

        def work(layer: LayerWork, _vertex: Vertex) -> None:
            from dockyard.build.copy import Copier, Owner
            from dockyard.runtime.users import resolve_user

            rootfs = layer.rootfs
            owner = Owner(0, 0)
            if user:
                resolved = resolve_user(rootfs, user)
                owner = Owner(resolved.uid, resolved.gid)
            Copier(rootfs, wd, owner, None)._mkdirs(wd)

        return self._layer_step(state, step, step_text.display(command), config, created_by, work)

    def _run(self, state: _StageState, step: Step, command: Run) -> StoredImage:
        config = state.config
        args, files = step_text.run_args(config, command)
        env_map = dict(e.partition("=")[::2] for e in config.cfg.env or ())
        stage_args = [(n, env_map.get(n, state.tracker.args.get(n, ""))) for n in state.declared]
        created_by = meta.run_created_by(args, stage_args)
        network = network_mode(command.network or self.opts.network)
        workdir = config.cfg.working_dir or "/"
        images = {m.from_: self._from_image(state, m.from_, command)
                  for m in command.mounts if m.from_}  # fmt: skip
        mount_keys: list[str] = []
        if command.mounts:
            from dockyard.build import mounts as run_mounts

            try:
                mount_keys = run_mounts.key_details(command.mounts, self.context, images)
            except DockyardError as exc:
                raise self._located(exc, command) from exc

        def work(layer: LayerWork, vertex: Vertex) -> None:
            # imported only when the step runs: a cached RUN needs no runtime machinery
            from dockyard.build import run_step

            request = run_step.RunRequest(
                args=args, env=step.run_env(self.opts.build_args), user=config.cfg.user,
                workdir=workdir, network=network, files=files,
            )  # fmt: skip
            if not command.mounts:
                layer.prunable = run_step.run(self.store, layer.rootfs, request, vertex.log,
                                              self.opts.runtime, self.cancel)  # fmt: skip
                return
            from dockyard.build import mounts as run_mounts

            with run_mounts.prepared(
                self.store, layer.rootfs, workdir, command.mounts, context=self.context,
                images=images, secrets=self.opts.secrets,
            ) as prepared:  # fmt: skip
                import dataclasses

                req = dataclasses.replace(request, env=[*request.env, *prepared.env],
                                          mounts=prepared.mounts)  # fmt: skip
                layer.prunable = run_step.run(self.store, layer.rootfs, req, vertex.log,
                                              self.opts.runtime, self.cancel)  # fmt: skip

        extra: dict[str, Any] = {"run_env": step.run_env(None), "network": network}
        if mount_keys:
            extra["mounts"] = mount_keys
        return self._layer_step(state, step, step_text.display(command), config, created_by, work,
                                extra=extra)  # fmt: skip

    def _copy(self, state: _StageState, step: Step, command: Copy | Add) -> StoredImage:
        config = state.config
        dest = dest_path(config.cfg.working_dir or "/", command.dest)
        mode = parse_chmod(command.chmod)
        from_image = self._copy_from(state, command) if isinstance(command, Copy) else None
        if isinstance(command, Add) and any(is_url(src) for src in command.sources):
            self.volatile = True
        work_dir = self.store.tmpdir("build-src-")
        env = dict(e.partition("=")[::2] for e in step.run_env(None))
        try:
            try:
                prepared = prepare(self.store, command, None if from_image else self.context,
                                   env, work_dir)  # fmt: skip
            except DockyardError as exc:
                vertex = self.progress.vertex(state.label(step_text.display(command)))
                self._fail(vertex, command, exc)
            sources = prepared.digest + (f" from {from_image.id}" if from_image else "")
            created_by = step_text.copy_created_by(command)

            def work(layer: LayerWork, _vertex: Vertex) -> None:
                rootfs = layer.rootfs
                owner = resolve_chown(rootfs, command.chown) if command.chown else Owner(0, 0)
                exclude = exclude_of(command)
                if from_image is None:
                    Copier(rootfs, dest, owner, mode, exclude).copy(prepared.sources)
                    return
                with readonly_rootfs(self.store, from_image) as src_root:
                    resolve_late(prepared, command, BuildContext(src_root))
                    keep = owner if command.chown else Owner(None, None)
                    Copier(rootfs, dest, keep, mode, exclude).copy(prepared.sources)

            label = step_text.display(command)
            return self._layer_step(state, step, label, config, created_by, work,
                                    sources=sources, extra={"dest": dest})  # fmt: skip
        finally:
            rmtree(work_dir)

    def _copy_from(self, state: _StageState, command: Copy) -> StoredImage | None:
        return self._from_image(state, command.from_, command) if command.from_ else None

    def _from_image(self, state: _StageState, ref: str, command: Command) -> StoredImage:
        """The stage (by name or index) or image a `--from=` / `from=` names."""
        stages = self.dockerfile.stages
        current = state.plan.stage.index
        if ref.isdigit():
            index = int(ref)
            if index >= current:
                raise self._located(InvalidArgument(
                    f"invalid stage index {index}: it needs to be defined before the current stage",
                    hint="--from=N names an earlier stage by its number"), command)  # fmt: skip
            return self.results[index]
        for stage in stages:
            if stage.name and stage.name == ref.lower():
                if stage.index not in self.results:
                    raise self._located(InvalidArgument(
                        f"cannot copy from stage {ref!r}, it needs to be defined before current"
                        " stage", hint="move that stage above this one"), command)  # fmt: skip
                return self.results[stage.index]
        try:
            image = self.store.image(ref)
            self.externals[ref] = image.id
            return image
        except NotFound as exc:
            what = "COPY --from" if isinstance(command, Copy) else "RUN --mount from"
            raise self._located(NotFound(
                f"{what}={ref}: no stage or image named {ref!r}",
                hint="name an earlier stage (FROM ... AS name) or an image in the store"),
                command) from exc  # fmt: skip
