"""Build stages: typed commands grouped under their `FROM`, the meta ARGs before the first FROM,
and which stages a target needs (FROM <stage>, COPY --from, RUN --mount=from=)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dockyard.dockerfile.ast import ParseResult
from dockyard.dockerfile.commands import Arg, Command, Copy, From, Run
from dockyard.dockerfile.errors import DockerfileSyntaxError, LocalError
from dockyard.dockerfile.flags import suggest
from dockyard.dockerfile.instructions import located, parse_command
from dockyard.dockerfile.parser import parse
from dockyard.errors import InvalidArgument


@dataclass
class Stage:
    """One `FROM ...` and the commands that follow it."""

    index: int
    from_: From
    commands: list[Command] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The `AS name` (lower-case), or "" for an unnamed stage."""
        return self.from_.stage_name

    @property
    def base(self) -> str:
        return self.from_.base


@dataclass
class Dockerfile:
    """A whole Dockerfile as the builder sees it."""

    stages: list[Stage]
    meta_args: list[Arg]
    ast: ParseResult

    @property
    def escape(self) -> str:
        return self.ast.escape

    def stage(self, name_or_index: str) -> Stage:
        """A stage by name (case-insensitive) or index; InvalidArgument when there is none."""
        return self.stages[find_stage(self.stages, name_or_index)]


def build_stages(result: ParseResult) -> Dockerfile:
    """Group a parse result into stages; DockerfileSyntaxError for any invalid instruction."""
    stages: list[Stage] = []
    meta: list[Arg] = []
    for node in result.children:
        command = parse_command(node, result.filename)
        if isinstance(command, From):
            stages.append(Stage(index=len(stages), from_=command))
        elif not stages:
            if isinstance(command, Arg):
                meta.append(command)
                continue
            raise located(
                LocalError(
                    "no build stage in current context",
                    expected="a FROM instruction before any other instruction (except ARG)",
                ),
                node,
                result.filename,
            )
        else:
            stages[-1].commands.append(command)
    return Dockerfile(stages=stages, meta_args=meta, ast=result)


def load(text: str, filename: str = "Dockerfile") -> Dockerfile:
    """Parse Dockerfile text straight into stages."""
    return build_stages(parse(text, filename))


def find_stage(stages: list[Stage], name_or_index: str, before: int | None = None) -> int:
    """Index of the stage called `name_or_index` (or with that number), searching only the
    stages before `before` when given; InvalidArgument when there is none."""
    limit = len(stages) if before is None else before
    if name_or_index.isdigit():
        index = int(name_or_index)
        if index < limit:
            return index
        raise InvalidArgument(
            f"stage index {index} is out of range: only {limit} stage(s) come before it",
            hint="use the name (FROM ... AS name) or the number of an earlier stage",
        )
    wanted = name_or_index.lower()
    for stage in stages[:limit]:
        if stage.name and stage.name == wanted:
            return stage.index
    names = [s.name for s in stages[:limit] if s.name]
    close = suggest(wanted, names)
    hint = f"did you mean {close}?" if close else "known stages: " + (", ".join(names) or "none")
    raise InvalidArgument(f"stage {name_or_index!r} not found", hint=hint)


def _stage_ref(stages: list[Stage], ref: str, current: int) -> int | None:
    """The stage a FROM / --from value names (a number must name an earlier stage; a name may
    name any other stage), or None when it names an image."""
    if ref.isdigit():
        return find_stage(stages, ref, current)
    wanted = ref.lower()
    for stage in stages:
        if stage.name and stage.name == wanted and stage.index != current:
            return stage.index
    return None


def stage_dependencies(
    stages: list[Stage], index: int, global_args: Mapping[str, str] | None = None
) -> set[int]:
    """The stages stage `index` uses directly (as its base, COPY --from, RUN --mount from=)."""
    from dockyard.dockerfile.shell import ShellLexer

    stage = stages[index]
    deps: set[int] = set()
    base = stage.base
    if global_args is not None:
        base = ShellLexer().process_word(base, global_args)
    refs: list[tuple[str, Command]] = [(base, stage.from_)]
    for command in stage.commands:
        if isinstance(command, Copy) and command.from_:
            refs.append((command.from_, command))
        elif isinstance(command, Run):
            refs.extend((m.from_, command) for m in command.mounts if m.from_)
    for ref, command in refs:
        try:
            found = _stage_ref(stages, ref, index)
        except InvalidArgument as exc:
            raise DockerfileSyntaxError(
                exc.message,
                line=command.line,
                line_text=command.node.original,
                hint=exc.hint,
            ) from None
        if found is not None:
            deps.add(found)
    return deps


def stages_needed(
    stages: list[Stage], target: str | None = None, global_args: Mapping[str, str] | None = None
) -> list[int]:
    """Indices (ascending) of the stages needed to build `target` (default: the last stage)."""
    if not stages:
        raise InvalidArgument("the Dockerfile has no build stage", hint="add a FROM instruction")
    if target is None or target == "":
        start = len(stages) - 1
    else:
        names = [s.name for s in stages if s.name]
        start = next((s.index for s in stages if s.name == target.lower()), -1)
        if start < 0:
            close = suggest(target, names)
            raise InvalidArgument(
                f"target stage {target!r} could not be found",
                hint=f"did you mean {close}?"
                if close
                else "known stages: " + (", ".join(names) or "none"),
            )
    needed: set[int] = set()
    _visit(stages, start, global_args, needed, [])
    return sorted(needed)


def _visit(
    stages: list[Stage],
    index: int,
    global_args: Mapping[str, str] | None,
    done: set[int],
    path: list[int],
) -> None:
    if index in path:
        stage = stages[index]
        raise DockerfileSyntaxError(
            f"circular dependency detected on stage: {stage.name or index}",
            line=stage.from_.line,
            line_text=stage.from_.node.original,
        )
    if index in done:
        return
    path.append(index)
    for dep in sorted(stage_dependencies(stages, index, global_args)):
        _visit(stages, dep, global_args, done, path)
    path.pop()
    done.add(index)
