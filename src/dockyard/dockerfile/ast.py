"""The Dockerfile syntax tree shared by the parser, the instruction layer and the linter."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Heredoc:
    """One heredoc body attached to a RUN/COPY/ADD line (`<<EOF`, `<<-EOF`, `<<"EOF"`)."""

    name: str  # the delimiter word, without quotes or the leading `-`
    content: str  # the raw body, each line ending in "\n" (as BuildKit: NOT tab-stripped;
    # use dockyard.dockerfile.heredoc.chomp_heredoc_content when `chomp` is set)
    expand: bool = True  # False when the delimiter was quoted
    chomp: bool = False  # True for `<<-`
    file_descriptor: int = 0  # N in `N<<EOF`, 0 when absent


@dataclass
class Node:
    """One instruction as written: the keyword, its flags and its arguments, and where it was."""

    keyword: str  # lower-case instruction keyword: "from", "run", "onbuild", ...
    args: list[str] = field(default_factory=list)  # as in BuildKit's `result` dumps
    flags: list[str] = field(default_factory=list)  # "--from=builder", "--link", in order
    original: str = ""  # the source text with continuations joined
    start_line: int = 0  # 1-based, first line of the instruction
    end_line: int = 0  # 1-based, last line (heredoc bodies included)
    json_form: bool = False  # exec form: args are the JSON array's elements
    heredocs: list[Heredoc] = field(default_factory=list)
    sub: Node | None = None  # the trigger of an ONBUILD
    comments: list[str] = field(default_factory=list)  # comment lines just above it
    raw_keyword: str = ""  # the keyword as written ("From", "RUN"), for casing checks


@dataclass
class Warning:
    """A non-fatal parser finding (empty continuation line, MAINTAINER, ...)."""

    message: str
    line: int
    short: str = ""  # a short code such as "NoEmptyContinuation"
    url: str = ""
    detail: str = ""  # a longer explanation ("... will become errors in a future release")


@dataclass
class ParseResult:
    """What `dockyard.dockerfile.parse` returns."""

    children: list[Node]
    warnings: list[Warning] = field(default_factory=list)
    directives: dict[str, str] = field(default_factory=dict)  # syntax, escape, check
    escape: str = "\\"
    start_line: int = 0
    end_line: int = 0
    filename: str = "Dockerfile"

    def dump(self) -> str:
        """The AST in the format of BuildKit's parser `result` files (no trailing newline)."""
        from dockyard.dockerfile.dump import dump_result

        return dump_result(self)
