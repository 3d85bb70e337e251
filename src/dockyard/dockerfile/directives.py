"""Parser directives (`# syntax=`, `# escape=`, `# check=`) at the top of a Dockerfile, and syntax
detection as BuildKit does it (also `//syntax=` and a JSON `{"syntax": ...}` document)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from dockyard.dockerfile.errors import LocalError
from dockyard.dockerfile.words import go_trim_left

VALID_DIRECTIVES = frozenset({"syntax", "escape", "check"})
_RE_DIRECTIVE = re.compile(r"^([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*\Z")
BOM = "\ufeff"


@dataclass
class Directive:
    name: str  # lower-case
    value: str
    line: int  # 1-based


class DirectiveParser:
    """Feed lines one by one; directives are recognised only until the first other line."""

    def __init__(self, comment: str = "#", line: int = 0) -> None:
        self.comment = comment
        self.line = line
        self.done = False
        self.seen: set[str] = set()

    def parse_line(self, text: str) -> Directive | None:
        self.line += 1
        if self.done:
            return None
        if not text.startswith(self.comment):
            self.done = True
            return None
        match = _RE_DIRECTIVE.match(go_trim_left(text[len(self.comment) :]))
        if not match:
            self.done = True
            return None
        name = match.group(1).lower()
        if name not in VALID_DIRECTIVES:
            self.done = True
            return None
        if name in self.seen:
            raise LocalError(f"only one {name} parser directive can be used")
        self.seen.add(name)
        return Directive(name, match.group(2), self.line)

    def parse_all(self, text: str) -> list[Directive]:
        found: list[Directive] = []
        for raw in text.split("\n"):
            if self.done:
                break
            try:
                directive = self.parse_line(raw.rstrip("\r"))
            except LocalError:
                break
            if directive is not None:
                found.append(directive)
        return found


@dataclass
class DetectedDirective:
    value: str  # the first word ("docker/dockerfile:1")
    cmdline: str  # the whole value ("docker/dockerfile:1 // opts")
    line: int  # 1-based line, 0 for the JSON form


def _parse_directive(key: str, text: str, any_format: bool) -> DetectedDirective | None:
    text = text.removeprefix(BOM)
    line = 0
    first, sep, rest = text.partition("\n")
    if first.startswith("#!"):
        text = rest if sep else ""
        line = 1
    prefixes = ["#", "//"] if any_format else ["#"]
    for prefix in prefixes:
        for directive in DirectiveParser(prefix, line).parse_all(text):
            if directive.name == key:
                value = directive.value.split(" ", 1)[0]
                return DetectedDirective(value, directive.value, directive.line)
    if any_format:
        try:
            doc = json.loads(text)
        except ValueError:
            return None
        if isinstance(doc, dict) and isinstance(doc.get(key), str):
            return DetectedDirective(doc[key], doc[key], line)
    return None


def detect_syntax(text: str) -> DetectedDirective | None:
    """The `syntax` directive of a Dockerfile (`#`, `//` or JSON style), or None."""
    return _parse_directive("syntax", text, True)


def parse_directive(key: str, text: str) -> DetectedDirective | None:
    """A `# key=value` directive (only the `#` style), e.g. parse_directive("check", text)."""
    return _parse_directive(key, text, False)
