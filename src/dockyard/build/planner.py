"""Which stages a build needs, in what order, what each one starts from, and how steps are named."""

from __future__ import annotations

from dockyard.dockerfile.ast import Warning
from dockyard.dockerfile.commands import Add, Command, Copy, Run, Workdir
from dockyard.dockerfile.expand import GlobalScope, expand_from, global_scope
from dockyard.dockerfile.stages import Dockerfile, Stage, stages_needed
from dockyard.errors import InvalidArgument
from dockyard.records import Record

LAYER_KINDS = (Add, Copy, Run, Workdir)


class StagePlan(Record):
    """One stage to build: where it starts (image ref, `scratch` or an earlier stage)."""

    _fields = ("stage", "base", "base_stage", "display_name", "total", "index")

    def __init__(self, stage: Stage, base: str, base_stage: int | None, display_name: str,
                 total: int = 0, index: int = 0) -> None:  # fmt: skip
        self.stage = stage
        self.base = base  # expanded FROM value
        self.base_stage = base_stage  # index of the stage it builds on, if any
        self.display_name = display_name  # "builder", "stage-1", or "" for a single-stage build
        self.total = total  # numbered steps ([i/total]) of this stage
        self.index = index  # the last number handed out

    @property
    def scratch(self) -> bool:
        return self.base_stage is None and self.base.lower() == "scratch"

    def label(self, text: str) -> str:
        """`[name i/total] TEXT` as BuildKit numbers a stage's steps."""
        self.index += 1
        name = f"{self.display_name} " if self.display_name else ""
        width = len(str(self.total))
        return f"[{name}{self.index:>{width}}/{self.total}] {text}"


class Plan(Record):
    _fields = ("stages", "scope", "warnings")

    def __init__(self, stages: list[StagePlan], scope: GlobalScope,
                 warnings: list[Warning] | None = None) -> None:  # fmt: skip
        self.stages = stages  # in build order; the last one is the target
        self.scope = scope
        self.warnings: list[Warning] = warnings if warnings is not None else []

    @property
    def target(self) -> StagePlan:
        return self.stages[-1]


def count_steps(commands: list[Command], from_image: bool) -> int:
    return (1 if from_image else 0) + sum(isinstance(c, LAYER_KINDS) for c in commands)


def plan(
    dockerfile: Dockerfile,
    target: str | None,
    build_args: dict[str, str],
    platform: str | None = None,
) -> Plan:
    """Stages needed for `target` (default: the last stage) with their expanded bases."""
    if not dockerfile.stages:
        raise InvalidArgument(
            "dockerfile contains no stages to build", hint="add a FROM instruction"
        )
    scope = global_scope(dockerfile.meta_args, build_args, platform, dockerfile.escape)
    needed = stages_needed(dockerfile.stages, target, scope.values)
    last = needed[-1]
    if target:
        last = next(s.index for s in dockerfile.stages if s.name == target.lower())
    if needed[-1] != last:
        later = dockerfile.stages[needed[-1]]
        raise InvalidArgument(
            f"cannot copy from stage {later.name or later.index!r}, it needs to be defined"
            f" before current stage",
            hint="move that stage above the stage that uses it",
        )
    warnings: list[Warning] = []
    plans: list[StagePlan] = []
    multi = len(dockerfile.stages) > 1
    for index in needed:
        stage = dockerfile.stages[index]
        expanded, found = expand_from(stage.from_, scope, dockerfile.escape)
        warnings.extend(found)
        base = expanded.base
        if not base:
            raise InvalidArgument(
                f"base name ({stage.base}) should not be blank",
                hint="give FROM an image name, or pass the ARG it uses with --build-arg",
            )
        base_stage = _earlier_stage(dockerfile.stages, base, index)
        display = (stage.name or f"stage-{index}") if multi else ""
        sp = StagePlan(stage, base, base_stage, display)
        sp.total = count_steps(stage.commands, base_stage is None and base.lower() != "scratch")
        plans.append(sp)
    return Plan(plans, scope, warnings)


def _earlier_stage(stages: list[Stage], base: str, index: int) -> int | None:
    wanted = base.lower()
    for stage in stages[:index]:
        if stage.name and stage.name == wanted:
            return stage.index
    return None
