"""Dockerfile text -> syntax tree, exactly as BuildKit's front-end parser reads it: directives,
escape token, line continuations (with comments and empty lines inside), heredocs, warnings."""

from __future__ import annotations

import re

from dockyard.dockerfile.ast import Node, ParseResult, Warning
from dockyard.dockerfile.directives import BOM, DirectiveParser
from dockyard.dockerfile.errors import DockerfileSyntaxError, LocalError
from dockyard.dockerfile.heredoc import heredocs_from_line
from dockyard.dockerfile.line_parsers import DISPATCH, parse_ignore
from dockyard.dockerfile.words import go_trim_left, go_trim_space, split_command

MAX_LINE_BYTES = 65536  # bufio.MaxScanTokenSize: a line (with its newline) must fit
HEREDOC_KEYWORDS = frozenset({"add", "copy", "run"})
EMPTY_CONTINUATION_URL = "https://docs.docker.com/go/dockerfile/rule/no-empty-continuation/"
MAINTAINER_URL = "https://docs.docker.com/go/dockerfile/rule/maintainer-deprecated/"


def _continuation_regex(escape: str) -> re.Pattern[str]:
    e = re.escape(escape)
    return re.compile(rf"([^{e}]){e}[ \t]*\Z|^{e}[ \t]*\Z")


def _trim_newline(s: str) -> str:
    return s.rstrip("\r\n")


def _is_comment(s: str) -> bool:
    return go_trim_left(s).startswith("#")


def _split_lines(text: str) -> list[str]:
    """Lines with their "\\n" kept, as Go's scanner with BuildKit's scanLines gives them."""
    lines = text.split("\n")
    last = lines.pop()
    out = [line + "\n" for line in lines]
    if last:
        out.append(last)
    return out


def _too_long(raw: str) -> bool:
    return len(raw) > MAX_LINE_BYTES // 4 and len(raw.encode("utf-8", "surrogateescape")) > (
        MAX_LINE_BYTES
    )


class _Parser:
    def __init__(self, text: str, filename: str) -> None:
        self.filename = filename
        self.lines = _split_lines(text)
        self.pos = 0
        self.current_line = 0
        self.escape = "\\"
        self.continuation = _continuation_regex(self.escape)
        self.directives = DirectiveParser()
        self.found_directives: dict[str, str] = {}
        self.warnings: list[Warning] = []
        self.too_long_at: int | None = None
        for index, raw in enumerate(self.lines):
            if _too_long(raw):
                self.too_long_at = index
                self.lines = self.lines[:index]
                break

    # -- errors -------------------------------------------------------------------------
    def error(self, exc: LocalError, line: int) -> DockerfileSyntaxError:
        line = max(line, 1)
        text = self.source_line(line)
        column = 1
        if exc.needle and exc.needle in text:
            column = text.index(exc.needle) + 1
        elif text:
            column = len(text) - len(go_trim_left(text)) + 1
        return DockerfileSyntaxError(
            exc.message,
            filename=self.filename,
            line=line,
            column=column,
            line_text=text,
            expected=exc.expected,
        )

    def source_line(self, line: int) -> str:
        if 1 <= line <= len(self.lines):
            return _trim_newline(self.lines[line - 1]).removeprefix(BOM)
        return ""

    # -- directives ---------------------------------------------------------------------
    def directive(self, token: str) -> bool:
        try:
            found = self.directives.parse_line(token)
            if found is None:
                return False
            if found.name == "escape":
                if found.value not in ("`", "\\"):
                    raise LocalError(
                        f"invalid escape token '{found.value}' does not match ` or \\",
                        expected="# escape=\\ or # escape=`",
                    )
                self.escape = found.value
                self.continuation = _continuation_regex(self.escape)
        except LocalError as exc:
            raise self.error(exc, self.current_line + 1) from None
        self.found_directives[found.name] = found.value
        return True

    def trim_continuation(self, line: str) -> tuple[str, bool]:
        match = self.continuation.search(line)
        if match is None:
            return line, True
        return line[: match.start()] + (match.group(1) or ""), False

    # -- main loop ----------------------------------------------------------------------
    def parse(self) -> ParseResult:
        root_start = -1
        root_end = 0
        children: list[Node] = []
        comments: list[str] = []
        lines = self.lines
        while self.pos < len(lines):
            raw = lines[self.pos]
            self.pos += 1
            if self.current_line == 0:
                raw = raw.removeprefix(BOM)
            comment_line = _is_comment(raw)
            if comment_line:
                comment = go_trim_space(raw[1:])
                if comment == "":
                    comments = []
                else:
                    comments.append(comment)
            token = go_trim_left(_trim_newline(raw))
            if self.directive(token) and comments:
                comments.pop()
            if _is_comment(token):
                token = ""
            self.current_line += 1
            start_line = self.current_line
            token, end_of_line = self.trim_continuation(token)
            if end_of_line and token == "":
                continue
            parts = [token]
            has_empty = False
            while not end_of_line and self.pos < len(lines):
                raw = lines[self.pos]
                self.pos += 1
                self.directives.parse_line(_trim_newline(raw))
                self.current_line += 1
                if _is_comment(raw):
                    continue
                piece = _trim_newline(raw)
                if go_trim_left(piece) == "":
                    has_empty = True
                    continue
                piece, end_of_line = self.trim_continuation(piece)
                parts.append(piece)
            line = "".join(parts)
            if has_empty:
                self.warnings.append(
                    Warning(
                        message="Empty continuation line found in: " + line,
                        line=self.current_line,
                        short="NoEmptyContinuation",
                        url=EMPTY_CONTINUATION_URL,
                        detail="Empty continuation lines will become errors in a future release",
                    )
                )
            try:
                child = self.node_from_line(line, comments)
            except LocalError as exc:
                raise self.error(exc, start_line) from None
            if _can_contain_heredoc(child) and "<<" in line:
                self.read_heredocs(child, line, start_line)
            child.start_line = start_line
            child.end_line = self.current_line
            if root_start < 0:
                root_start = start_line
            root_end = self.current_line
            children.append(child)
            comments = []
        if root_start < 0:
            raise self.error(
                LocalError("file with no instructions", expected="at least one instruction"),
                self.current_line,
            )
        if self.too_long_at is not None:
            raise self.error(
                LocalError(
                    f"dockerfile line greater than max allowed size of {MAX_LINE_BYTES - 1}"
                ),
                self.too_long_at + 1,
            )
        return ParseResult(
            children=children,
            warnings=self.warnings,
            directives=self.found_directives,
            escape=self.escape,
            start_line=root_start,
            end_line=root_end,
            filename=self.filename,
        )

    def node_from_line(self, line: str, comments: list[str]) -> Node:
        cmd, flags, rest = split_command(line)
        keyword = cmd.lower()
        parsed = DISPATCH.get(keyword, parse_ignore)(rest, self.escape)
        node = Node(
            keyword=keyword,
            args=parsed.args,
            flags=flags,
            original=line,
            json_form=parsed.json_form,
            comments=list(comments),
            raw_keyword=cmd,
        )
        if parsed.sub_line is not None:
            node.sub = self.node_from_line(parsed.sub_line, [])
        if keyword == "maintainer":
            self.warnings.append(
                Warning(
                    message="Maintainer instruction is deprecated in favor of using label",
                    line=self.current_line,
                    short="MaintainerDeprecated",
                    url=MAINTAINER_URL,
                    detail="The MAINTAINER instruction is deprecated, use a label instead to "
                    "define an image author",
                )
            )
        return node

    def read_heredocs(self, child: Node, line: str, start_line: int) -> None:
        try:
            heredocs = heredocs_from_line(line)
        except LocalError as exc:
            raise self.error(exc, start_line) from None
        for heredoc in heredocs:
            body: list[str] = []
            terminated = False
            while self.pos < len(self.lines):
                raw = self.lines[self.pos]
                self.pos += 1
                self.current_line += 1
                candidate = _trim_newline(raw)
                if heredoc.chomp:
                    candidate = candidate.lstrip("\t")
                if candidate == heredoc.name:
                    terminated = True
                    break
                body.append(raw)
            if not terminated:
                raise self.error(
                    LocalError(
                        "unterminated heredoc", expected=f"a line holding only {heredoc.name}"
                    ),
                    start_line,
                )
            heredoc.content = "".join(body)
            child.heredocs.append(heredoc)


def _can_contain_heredoc(node: Node) -> bool:
    if node.keyword == "onbuild" and node.sub is not None:
        node = node.sub
    return node.keyword in HEREDOC_KEYWORDS and not node.json_form


def parse(text: str, filename: str = "Dockerfile") -> ParseResult:
    """Parse Dockerfile text; raises DockerfileSyntaxError (with file:line:column) when invalid."""
    return _Parser(text, filename).parse()


def parse_file(path: str) -> ParseResult:
    """Read and parse a Dockerfile; undecodable bytes are kept as surrogate escapes."""
    with open(path, "rb") as fh:
        data = fh.read()
    return parse(data.decode("utf-8", "surrogateescape"), filename=path)
