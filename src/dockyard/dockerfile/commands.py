"""The typed Dockerfile commands (one dataclass per instruction), each tied to its source Node.

The instruction classes are dataclasses whose `__repr__` and `__eq__` come from `Command`
(the same results as generated ones) instead of being generated per class: generating them for
twenty classes cost every `dockyard build` several milliseconds at import.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from dockyard.dockerfile.ast import Heredoc, Node


@dataclass(repr=False, eq=False)
class Command:
    """Base of every instruction: where it came from and how it reads."""

    node: Node

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f.name) for f in fields(self) if f.compare)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Command)
        return self._values() == other._values()

    __hash__ = None  # type: ignore[assignment]  # mutable, as a generated dataclass with eq

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.repr)
        return f"{self.__class__.__qualname__}({shown})"

    @property
    def name(self) -> str:
        """The upper-case instruction keyword, e.g. "RUN"."""
        return self.node.keyword.upper()

    @property
    def line(self) -> int:
        return self.node.start_line

    @property
    def source(self) -> str:
        """The instruction as written (continuations joined), e.g. for `created_by`."""
        return self.node.original.strip()


@dataclass
class SourceContent:
    """A COPY/ADD source given inline as a heredoc (`COPY <<EOF /dest`)."""

    path: str  # the heredoc name, used as the file name
    data: str  # content, tabs already stripped for `<<-`
    expand: bool


@dataclass
class Mount:
    """One `RUN --mount=...` (type bind by default)."""

    type: str = "bind"
    target: str = ""
    source: str = ""
    from_: str = ""
    readonly: bool = False
    id: str = ""
    sharing: str = "shared"
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    required: bool = False
    size: str = ""
    env: str = ""
    options: dict[str, str] = field(default_factory=dict)  # every key=value as written


@dataclass(repr=False, eq=False)
class From(Command):
    base: str = ""
    stage_name: str = ""  # lower-cased, "" when there is no `AS name`
    platform: str = ""


@dataclass(repr=False, eq=False)
class Run(Command):
    cmd: list[str] | str = ""  # list in exec form, the shell string otherwise
    json_form: bool = False
    heredocs: list[Heredoc] = field(default_factory=list)  # inline files (raw content)
    mounts: list[Mount] = field(default_factory=list)
    network: str = ""  # "", "default", "none" or "host"
    security: str = ""  # "", "sandbox" or "insecure"


@dataclass(repr=False, eq=False)
class Cmd(Command):
    cmd: list[str] | str = ""
    json_form: bool = False


@dataclass(repr=False, eq=False)
class Entrypoint(Command):
    cmd: list[str] | str = ""
    json_form: bool = False


@dataclass(repr=False, eq=False)
class Shell(Command):
    shell: list[str] = field(default_factory=list)


@dataclass(repr=False, eq=False)
class Copy(Command):
    sources: list[str] = field(default_factory=list)  # paths (heredoc sources are in heredocs)
    dest: str = ""
    from_: str = ""
    chown: str = ""
    chmod: str = ""
    link: bool = False
    parents: bool = False
    exclude: list[str] = field(default_factory=list)
    heredocs: list[SourceContent] = field(default_factory=list)


@dataclass(repr=False, eq=False)
class Add(Command):
    sources: list[str] = field(default_factory=list)
    dest: str = ""
    chown: str = ""
    chmod: str = ""
    link: bool = False
    exclude: list[str] = field(default_factory=list)
    heredocs: list[SourceContent] = field(default_factory=list)
    checksum: str = ""
    keep_git_dir: bool = False
    unpack: bool | None = None


@dataclass(repr=False, eq=False)
class Env(Command):
    pairs: list[tuple[str, str]] = field(default_factory=list)


@dataclass(repr=False, eq=False)
class Label(Command):
    pairs: list[tuple[str, str]] = field(default_factory=list)


@dataclass(repr=False, eq=False)
class Expose(Command):
    ports: list[str] = field(default_factory=list)


@dataclass(repr=False, eq=False)
class Volume(Command):
    paths: list[str] = field(default_factory=list)


@dataclass(repr=False, eq=False)
class User(Command):
    user: str = ""


@dataclass(repr=False, eq=False)
class Workdir(Command):
    path: str = ""


@dataclass
class ArgPair:
    name: str
    default: str | None = None  # None: declared without a value


@dataclass(repr=False, eq=False)
class Arg(Command):
    args: list[ArgPair] = field(default_factory=list)


@dataclass(repr=False, eq=False)
class Onbuild(Command):
    expression: str = ""  # the trigger as written ("RUN echo hi"), heredocs appended


@dataclass(repr=False, eq=False)
class Stopsignal(Command):
    signal: str = ""


@dataclass(repr=False, eq=False)
class Healthcheck(Command):
    """`test` is ["NONE"], ["CMD", arg...] or ["CMD-SHELL", command]; durations in ns (0 = unset)."""

    test: list[str] = field(default_factory=list)
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0


@dataclass(repr=False, eq=False)
class Maintainer(Command):
    maintainer: str = ""


EXPANDED_KINDS = (Add, Copy, Env, Expose, From, Label, Stopsignal, User, Volume, Workdir, Arg)
