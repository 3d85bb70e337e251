"""The typed Dockerfile commands (one dataclass per instruction), each tied to its source Node."""

from __future__ import annotations

from dataclasses import dataclass, field

from dockyard.dockerfile.ast import Heredoc, Node


@dataclass
class Command:
    """Base of every instruction: where it came from and how it reads."""

    node: Node

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


@dataclass
class From(Command):
    base: str = ""
    stage_name: str = ""  # lower-cased, "" when there is no `AS name`
    platform: str = ""


@dataclass
class Run(Command):
    cmd: list[str] | str = ""  # list in exec form, the shell string otherwise
    json_form: bool = False
    heredocs: list[Heredoc] = field(default_factory=list)  # inline files (raw content)
    mounts: list[Mount] = field(default_factory=list)
    network: str = ""  # "", "default", "none" or "host"
    security: str = ""  # "", "sandbox" or "insecure"


@dataclass
class Cmd(Command):
    cmd: list[str] | str = ""
    json_form: bool = False


@dataclass
class Entrypoint(Command):
    cmd: list[str] | str = ""
    json_form: bool = False


@dataclass
class Shell(Command):
    shell: list[str] = field(default_factory=list)


@dataclass
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


@dataclass
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


@dataclass
class Env(Command):
    pairs: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Label(Command):
    pairs: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Expose(Command):
    ports: list[str] = field(default_factory=list)


@dataclass
class Volume(Command):
    paths: list[str] = field(default_factory=list)


@dataclass
class User(Command):
    user: str = ""


@dataclass
class Workdir(Command):
    path: str = ""


@dataclass
class ArgPair:
    name: str
    default: str | None = None  # None: declared without a value


@dataclass
class Arg(Command):
    args: list[ArgPair] = field(default_factory=list)


@dataclass
class Onbuild(Command):
    expression: str = ""  # the trigger as written ("RUN echo hi"), heredocs appended


@dataclass
class Stopsignal(Command):
    signal: str = ""


@dataclass
class Healthcheck(Command):
    """`test` is ["NONE"], ["CMD", arg...] or ["CMD-SHELL", command]; durations in ns (0 = unset)."""

    test: list[str] = field(default_factory=list)
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0


@dataclass
class Maintainer(Command):
    maintainer: str = ""


EXPANDED_KINDS = (Add, Copy, Env, Expose, From, Label, Stopsignal, User, Volume, Workdir, Arg)
