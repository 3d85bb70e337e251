"""`.dockerignore` reading and matching with moby/patternmatcher semantics (Go `filepath.Match` plus `**`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from dockyard.errors import InvalidArgument

__all__ = [
    "PatternMatcher",
    "glob_segment_regex",
    "go_clean",
    "ignore_file_for",
    "read_ignore_file",
]

_GO_SPACE = " \t\n\v\f\r\x85\xa0"
# Characters that mean nothing special to filepath.Match but would to a regexp.
_SHOULD_ESCAPE = frozenset(".+()|{}$")


def go_clean(path: str) -> str:
    """Go's `path.Clean`: the shortest equivalent path, purely lexical."""
    if path == "":
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    out = "/".join(parts)
    if rooted:
        return "/" + out
    return out or "."


def _go_dir(path: str) -> str:
    """Go's `filepath.Dir` on a `/`-separated path."""
    return go_clean(path[: path.rfind("/") + 1])


def read_ignore_file(text: str) -> list[str]:
    """The patterns of a `.dockerignore` file, cleaned as Docker does (`!` kept in front)."""
    patterns: list[str] = []
    for index, line in enumerate(text.split("\n")):
        if index == 0:
            line = line.removeprefix("\ufeff")
        if line.startswith("#"):
            continue  # checked before trimming: an indented `#` is a pattern
        pattern = line.strip(_GO_SPACE)
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = pattern[1:].strip(_GO_SPACE)
        if pattern:
            pattern = go_clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        patterns.append("!" + pattern if invert else pattern)
    return patterns


def ignore_file_for(context_dir: Path, dockerfile: Path | None) -> list[str]:
    """The ignore patterns that apply: `<Dockerfile>.dockerignore` beside the Dockerfile wins
    over `<context>/.dockerignore`; no file means no patterns."""
    candidates: list[Path] = []
    if dockerfile is not None:
        candidates.append(dockerfile.with_name(dockerfile.name + ".dockerignore"))
    candidates.append(context_dir / ".dockerignore")
    for candidate in candidates:
        try:
            data = candidate.read_bytes()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise InvalidArgument(
                f"cannot read ignore file {candidate}: {exc.strerror}",
                hint="make the file readable or remove it",
            ) from exc
        return read_ignore_file(data.decode("utf-8", errors="surrogateescape"))
    return []


class _BadPattern(Exception):
    """Go's filepath.ErrBadPattern."""


def _class_regex(pattern: str, i: int) -> tuple[str, int]:
    """Translate the `[...]` class starting at pattern[i] ("[") with filepath.Match's syntax rules.

    Returns the Python regexp for the class and the index just past its `]`."""
    i += 1
    negated = i < len(pattern) and pattern[i] == "^"
    if negated:
        i += 1
    items: list[str] = []
    while True:
        if i < len(pattern) and pattern[i] == "]" and items:
            return ("[^" if negated else "[") + "".join(items) + "]", i + 1
        lo, i = _class_char(pattern, i)
        hi = lo
        if pattern[i] == "-":
            hi, i = _class_char(pattern, i + 1)
        if lo > hi:
            raise _BadPattern(f"invalid character class range {lo}-{hi}")
        items.append(re.escape(lo) if lo == hi else f"{re.escape(lo)}-{re.escape(hi)}")


def _class_char(pattern: str, i: int) -> tuple[str, int]:
    """One (possibly escaped) character of a class; as Go's getEsc, text must follow it."""
    if i >= len(pattern) or pattern[i] in "-]":
        raise _BadPattern("syntax error in pattern")
    if pattern[i] == "\\":
        i += 1
        if i >= len(pattern):
            raise _BadPattern("syntax error in pattern")
    ch = pattern[i]
    i += 1
    if i >= len(pattern):
        raise _BadPattern("syntax error in pattern")
    return ch, i


@dataclass
class _Pattern:
    text: str  # the cleaned pattern, without its `!`
    exclusion: bool
    kind: str  # "exact" | "prefix" | "suffix" | "regexp"
    regex: re.Pattern[str] | None

    def match(self, path: str) -> bool:
        if self.kind == "exact":
            return path == self.text
        if self.kind == "prefix":
            return path.startswith(self.text[:-2])
        if self.kind == "suffix":
            suffix = self.text[2:]
            if path.endswith(suffix):
                return True
            return suffix.startswith("/") and path == suffix[1:]
        assert self.regex is not None
        return self.regex.fullmatch(path) is not None


def _compile(text: str) -> tuple[str, re.Pattern[str] | None]:
    """Choose the match kind for a cleaned pattern and build its regexp (as patternmatcher)."""
    out: list[str] = []
    kind = "exact"
    i = 0
    token = 0
    n = len(text)
    while i < n:
        ch = text[i]
        i += 1
        if ch == "*":
            if i < n and text[i] == "*":
                i += 1
                if i < n and text[i] == "/":
                    i += 1
                if i >= n:
                    if kind == "exact":
                        kind = "prefix"
                    else:
                        out.append(".*")
                        kind = "regexp"
                else:
                    out.append("(?:.*/)?")
                    kind = "regexp"
                if token == 0:
                    kind = "suffix"
            else:
                out.append("[^/]*")
                kind = "regexp"
        elif ch == "?":
            out.append("[^/]")
            kind = "regexp"
        elif ch in _SHOULD_ESCAPE:
            out.append("\\" + ch)
        elif ch == "\\":
            if i < n:
                out.append(re.escape(text[i]))
                i += 1
                kind = "regexp"
            else:
                raise _BadPattern("syntax error in pattern")
        elif ch == "[":
            cls, i = _class_regex(text, i - 1)
            out.append(cls)
            kind = "regexp"
        elif ch == "]":
            out.append("\\]")
            kind = "regexp"
        else:
            out.append(re.escape(ch))
        token += 1
    if kind != "regexp":
        return kind, None
    return kind, re.compile("".join(out))


def _segment_regex(segment: str) -> re.Pattern[str] | None:
    """A regexp for one `/`-free pattern segment, or None when it cannot be judged alone."""
    if "**" in segment:
        return None
    try:
        kind, regex = _compile(segment)
    except (_BadPattern, re.error):
        return None
    return regex if regex is not None else re.compile(re.escape(segment))


def glob_segment_regex(segment: str) -> re.Pattern[str]:
    """Go `filepath.Match` for one path segment (COPY wildcards): `*`, `?`, `[...]`, `\\` escapes."""
    collapsed: list[str] = []
    i = 0
    while i < len(segment):
        ch = segment[i]
        if ch == "\\" and i + 1 < len(segment):
            collapsed.append(segment[i : i + 2])
            i += 2
            continue
        if not (ch == "*" and collapsed and collapsed[-1] == "*"):
            collapsed.append(ch)
        i += 1
    text = "".join(collapsed)
    try:
        kind, regex = _compile(text)
    except (_BadPattern, re.error) as exc:
        raise InvalidArgument(
            f"invalid wildcard {segment!r}: syntax error in pattern ({exc})",
            hint="check the [...] classes and `\\` escapes of the source path",
        ) from None
    return regex if regex is not None else re.compile(re.escape(text))


class PatternMatcher:
    """A compiled `.dockerignore` pattern list: the last matching pattern wins, `!` re-includes."""

    def __init__(self, patterns: list[str]) -> None:
        self._patterns: list[_Pattern] = []
        for raw in patterns:
            text = raw.strip(_GO_SPACE)
            if not text:
                continue
            text = go_clean(text)
            exclusion = text.startswith("!")
            if exclusion:
                if len(text) == 1:
                    raise InvalidArgument(
                        'illegal exclusion pattern: "!"',
                        hint="a `!` line must name what to re-include, e.g. `!docs/README.md`",
                    )
                text = text[1:]
            try:
                kind, regex = _compile(text)
            except (_BadPattern, re.error) as exc:
                raise InvalidArgument(
                    f"invalid .dockerignore pattern {raw.strip()!r}: syntax error in pattern ({exc})",
                    hint="check the [...] classes and `\\` escapes of the pattern",
                ) from None
            self._patterns.append(_Pattern(text, exclusion, kind, regex))
        self._exclusions = any(p.exclusion for p in self._patterns)
        self._exception_segments = [p.text.split("/") for p in self._patterns if p.exclusion]

    @property
    def exclusions(self) -> bool:
        """True when any pattern is a `!` exception."""
        return self._exclusions

    @property
    def patterns(self) -> list[str]:
        """The cleaned patterns, `!` in front of exceptions."""
        return [("!" if p.exclusion else "") + p.text for p in self._patterns]

    def __bool__(self) -> bool:
        return bool(self._patterns)

    def matches(self, path: str) -> bool:
        """Is `path` (relative to the context, `/`-separated) excluded? It is cleaned first."""
        path = go_clean(path)
        if path == ".":
            return False
        return self.matches_or_parent_matches(path)

    def matches_or_parent_matches(self, path: str) -> bool:
        """patternmatcher's MatchesOrParentMatches: each pattern may match the path or a parent."""
        matched = False
        parent = _go_dir(path)
        parent_dirs = parent.split("/")
        for pattern in self._patterns:
            if pattern.exclusion != matched:
                continue
            hit = pattern.match(path)
            if not hit and parent != ".":
                hit = any(
                    pattern.match("/".join(parent_dirs[: i + 1])) for i in range(len(parent_dirs))
                )
            if hit:
                matched = not pattern.exclusion
        return matched

    def matches_with_parent(
        self, path: str, parent: tuple[bool, ...] | None
    ) -> tuple[bool, tuple[bool, ...]]:
        """patternmatcher's MatchesUsingParentResults, for walks: pass the parent's second value
        (None at the top, or without context) and get this path's result and its own info."""
        matched = False
        info: list[bool] = []
        for index, pattern in enumerate(self._patterns):
            hit = parent[index] if parent else False
            if not hit:
                if pattern.exclusion != matched:
                    info.append(False)
                    continue
                hit = pattern.match(path)
                if not hit and not parent:
                    up = _go_dir(path)
                    if up != ".":
                        dirs = up.split("/")
                        hit = any(pattern.match("/".join(dirs[: i + 1])) for i in range(len(dirs)))
            info.append(hit)
            if hit:
                matched = not pattern.exclusion
        return matched, tuple(info)

    def may_include_inside(self, directory: str) -> bool:
        """Could some `!` exception re-include a path strictly below the excluded `directory`?

        Conservative: True unless every exception provably cannot match deeper than it."""
        dir_parts = go_clean(directory).split("/")
        for parts in self._exception_segments:
            if self._exception_may_reach(parts, dir_parts):
                return True
        return False

    @staticmethod
    def _exception_may_reach(parts: list[str], dir_parts: list[str]) -> bool:
        for depth, name in enumerate(dir_parts):
            if depth >= len(parts):
                return False  # the exception ends above or at the directory
            segment = parts[depth]
            regex = _segment_regex(segment)
            if regex is None:
                return True  # `**` (or something unusual): it may match at any depth
            if regex.fullmatch(name) is None:
                return False
        return len(parts) > len(dir_parts)
