"""What the rules look at: the parsed Dockerfile cut into stages and instructions, plus context."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

from dockyard.dockerfile.ast import Node, ParseResult
from dockyard.lint import shellparse
from dockyard.lint.config import LintConfig, Pragmas
from dockyard.lint.context import LintContext

_HEREDOC_MARK = re.compile(r"<<-?([\"']?)[A-Za-z_][A-Za-z0-9_]*\1")
_LEFTOVER_FLAGS = re.compile(r"^(?:\\?\s*--[a-z-]+=\S+\s*)*(?:\\\s+)")
_VAR = re.compile(r"\$(\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*)")


@dataclass
class Instr:
    """One instruction as the rules see it; an ONBUILD trigger appears as its inner instruction."""

    node: Node  # the effective instruction (the trigger for ONBUILD)
    outer: Node  # what was written at top level
    stage: int  # index into Facts.stages
    onbuild: bool = False

    @property
    def keyword(self) -> str:
        return self.node.keyword

    @property
    def line(self) -> int:
        return self.outer.start_line

    def flag(self, name: str) -> str | None:
        """The value of `--name=value` (or "" for a bare `--name`), else None."""
        for f in self.node.flags:
            key, sep, value = f.partition("=")
            if key == f"--{name}":
                return value if sep else ""
        return None

    @cached_property
    def all_flags(self) -> list[str]:
        """The flags, plus `--x=y` words left at the start of a RUN after an escaped space."""
        flags = list(self.node.flags)
        if self.keyword == "run" and not self.node.json_form and self.node.args:
            m = _LEFTOVER_FLAGS.match(self.node.args[0])
            if m and m.group(0).strip():
                flags += re.findall(r"--[a-z-]+=\S+", m.group(0))
        return flags

    def flag_values(self, name: str) -> list[str]:
        out = []
        for f in self.all_flags:
            key, _, value = f.partition("=")
            if key == f"--{name}":
                out.append(value)
        return out

    @cached_property
    def script(self) -> shellparse.Script:
        """The RUN's shell text read into commands (empty for exec form and other keywords)."""
        if self.keyword != "run" or self.node.json_form:
            return shellparse.Script(commands=[])
        text = " ".join(self.node.args)
        m = _LEFTOVER_FLAGS.match(text)
        if m:
            text = text[m.end() :]
        if self.node.heredocs:
            text = _HEREDOC_MARK.sub(" ", text)
            for heredoc in self.node.heredocs:
                text += "\n" + heredoc.content
        return shellparse.parse(text)

    @property
    def pairs(self) -> list[tuple[str, str, bool]]:
        """ENV/LABEL (name, value, is_key_value_form) triples."""
        a = self.node.args
        return [(a[i], a[i + 1], a[i + 2] == "=") for i in range(0, len(a) - 2, 3)]


@dataclass
class Stage:
    """One FROM and what follows it; index 0 may be a stage with no FROM (`from_instr` None)."""

    index: int
    from_instr: Instr | None
    image: str = ""
    name: str | None = None  # the AS alias as written
    instrs: list[Instr] = field(default_factory=list)
    parent: int | None = None  # index of an earlier stage this one is built FROM

    @property
    def alias(self) -> str | None:
        return self.name.lower() if self.name else None


def stage_parts(node: Node) -> tuple[str, str | None]:
    """(image, alias) of a FROM node."""
    args = node.args
    image = args[0] if args else ""
    name = args[2] if len(args) >= 3 and args[1].lower() == "as" else None
    return image, name


@dataclass
class Facts:
    """The whole input of a lint run."""

    result: ParseResult
    config: LintConfig
    context: LintContext | None
    text: str = ""
    filename: str = "Dockerfile"
    stages: list[Stage] = field(default_factory=list)
    instrs: list[Instr] = field(default_factory=list)
    preamble: list[Instr] = field(default_factory=list)  # before the first FROM
    pragmas: Pragmas = field(default_factory=Pragmas)

    @classmethod
    def build(
        cls,
        result: ParseResult,
        config: LintConfig,
        context: LintContext | None = None,
        text: str = "",
    ) -> Facts:
        facts = cls(result, config, context, text, result.filename)
        names: dict[str, int] = {}
        current: Stage | None = None
        for node in result.children:
            if node.keyword == "from":
                image, name = stage_parts(node)
                current = Stage(len(facts.stages), None, image, name)
                parent = names.get(image.lower())
                current.parent = parent
                facts.stages.append(current)
                instr = Instr(node, node, current.index)
                current.from_instr = instr
                if name:
                    names.setdefault(name.lower(), current.index)
            else:
                if current is None:
                    if node.keyword == "arg" and not facts.stages:
                        instr = Instr(node, node, -1)
                        facts.preamble.append(instr)
                        facts.instrs.append(instr)
                        continue
                    current = Stage(0, None)
                    facts.stages.append(current)
                sub = node.sub if node.keyword == "onbuild" and node.sub is not None else None
                instr = Instr(sub or node, node, current.index, onbuild=sub is not None)
            facts.instrs.append(instr)
            if current is not None:
                current.instrs.append(instr)
        return facts

    def stage_of(self, instr: Instr) -> Stage | None:
        return self.stages[instr.stage] if instr.stage >= 0 else None

    def ancestry(self, stage: Stage) -> list[Stage]:
        """The stage and the earlier stages it is built FROM, nearest first."""
        out = [stage]
        seen = {stage.index}
        while out[-1].parent is not None and out[-1].parent not in seen:
            seen.add(out[-1].parent)
            out.append(self.stages[out[-1].parent])
        return out

    def used_as_base(self, stage: Stage) -> bool:
        """True when a later stage is built FROM this one."""
        return any(s.parent == stage.index for s in self.stages)

    def final_stage(self) -> Stage | None:
        return self.stages[-1] if self.stages else None

    def known_vars(self, instr: Instr) -> dict[str, str]:
        """ARG values declared before `instr` anywhere, and ENV values of its stage's ancestry."""
        out: dict[str, str] = {}
        for other in self.instrs:
            if other is instr:
                break
            if other.keyword == "arg":
                for word in other.node.args:
                    name, _, value = word.partition("=")
                    out.setdefault(name, value.strip("\"'"))
        stage = self.stage_of(instr)
        if stage is None:
            return out
        for anc in reversed(self.ancestry(stage)):
            for other in anc.instrs:
                if other is instr:
                    break
                if other.keyword == "env" and not other.onbuild:
                    for name, value, _ in other.pairs:
                        out[name] = value.strip("\"'")
        return out

    def expand(self, instr: Instr, word: str) -> str:
        """`word` with the $NAME / ${NAME} references it knows replaced by their values."""
        if "$" not in word:
            return word
        known = self.known_vars(instr)

        def sub(m: re.Match[str]) -> str:
            ref = m.group(1)
            name = ref[1:-1] if ref.startswith("{") else ref
            return known.get(name, m.group(0))

        return _VAR.sub(sub, word)

    def is_alias(self, name: str, before: int | None = None) -> bool:
        for s in self.stages:
            if before is not None and s.index >= before:
                break
            if s.alias == name.lower():
                return True
        return False


def variables_in(text: str) -> list[str]:
    """Names referenced as $NAME or ${NAME...} in text."""
    out = []
    for m in _VAR.finditer(text):
        ref = m.group(1)
        if ref.startswith("{"):
            ref = re.split(r"[:#%/+\-?=}]", ref[1:], maxsplit=1)[0]
        out.append(ref)
    return out


def mounts(instr: Instr) -> list[dict[str, str]]:
    """The `RUN --mount=...` options of an instruction as key/value maps."""
    out = []
    for spec in instr.flag_values("mount"):
        fields: dict[str, str] = {"type": "bind"}
        for part in spec.split(","):
            key, sep, value = part.partition("=")
            key = key.strip().lower()
            if key in ("dst", "destination"):
                key = "target"
            fields[key] = value.strip() if sep else "true"
        out.append(fields)
    return out


def cache_mounted(instr: Instr, *targets: str) -> bool:
    """True when a cache or tmpfs mount covers every one of `targets`."""
    dirs = [
        m.get("target", "").rstrip("/")
        for m in mounts(instr)
        if m.get("type") in ("cache", "tmpfs")
    ]
    return all(t.rstrip("/") in dirs for t in targets)


def unquote(word: str) -> str:
    """A Dockerfile word without one pair of surrounding quotes."""
    if len(word) >= 2 and word[0] == word[-1] and word[0] in "\"'":
        return word[1:-1]
    return word
