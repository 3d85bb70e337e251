"""A small POSIX-shell reader for lint rules: splits a RUN script into simple commands and words.

It is not a shell: it understands quoting, escapes, `$(...)`/backticks, comments, redirections,
control operators and the reserved words well enough to tell which programs a RUN line calls
with which arguments, which is all the package and best-practice rules need.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_OPERATORS = ("&&", "||", ";;", "|&", ";", "|", "&", "(", ")", "\n")
_RESERVED = {
    "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "case", "esac",
    "{", "}", "!", "in", "function", "time",
}  # fmt: skip
_REDIRECT = re.compile(r"^(\d*|&)(>>|>&|<&|<<<|<<-|<<|<>|>\||>|<)$")
_REDIRECT_ATTACHED = re.compile(r"^(\d*|&)(>>|>&|<&|<<<|<>|>\||>|<)(.+)$")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?\+?=")


@dataclass
class Word:
    """One shell word: its value with quotes removed, and whether any part of it was quoted."""

    value: str
    raw: str
    quoted: bool = False


@dataclass
class Command:
    """One simple command: the program name, its arguments, and how it is connected."""

    name: str
    args: list[str] = field(default_factory=list)
    raw_args: list[str] = field(default_factory=list)
    assignments: list[str] = field(default_factory=list)
    piped: bool = False  # part of a pipeline with `|`
    background: bool = False  # ended by a single `&`
    nested: bool = False  # inside $(...) or backticks

    def flags(self) -> set[str]:
        """Every flag the command was given: `-yq` gives y and q, `--foo=bar` gives foo."""
        out: set[str] = set()
        for arg in self.args:
            if arg.startswith("--") and len(arg) > 2:
                out.add(arg[2:].split("=", 1)[0])
            elif arg.startswith("-") and len(arg) > 1 and not arg.startswith("--"):
                out.update(arg[1:])
        return out

    def has_flag(self, *names: str) -> bool:
        found = self.flags()
        return any(n in found for n in names)

    def positional(self) -> list[str]:
        """The arguments that are not flags."""
        return [a for a in self.args if not a.startswith("-")]

    def words(self) -> list[str]:
        return [self.name, *self.args]


@dataclass
class Script:
    """What a RUN script was read into."""

    commands: list[Command]
    has_pipe: bool = False
    text: str = ""

    def named(self, *names: str) -> list[Command]:
        return [c for c in self.commands if c.name in names]


def _read_until_close(text: str, i: int, opener: str, closer: str) -> int:
    """Index just past the `closer` matching an `opener` already consumed before index i."""
    depth = 1
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "'" and opener == "(":
            end = text.find("'", i + 1)
            i = len(text) if end < 0 else end + 1
            continue
        if ch == '"' and opener == "(":
            i = _read_double(text, i + 1, [])
            continue
        if ch == opener and opener != closer:
            depth += 1
        elif ch == closer:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return i


def _read_double(text: str, i: int, out: list[str]) -> int:
    """Read a double-quoted string body from i; return the index past the closing quote."""
    while i < len(text):
        ch = text[i]
        if ch == '"':
            return i + 1
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt in '"\\$`':
                out.append(nxt)
                i += 2
                continue
            if nxt == "\n":
                i += 2
                continue
            out.append(ch)
            i += 1
            continue
        if ch == "$" and text.startswith("$(", i):
            end = _read_until_close(text, i + 2, "(", ")")
            out.append(text[i:end])
            i = end
            continue
        out.append(ch)
        i += 1
    return i


def tokenize(text: str) -> list[tuple[str, Word | str]]:
    """Split script text into ("word", Word) and ("op", operator) tokens."""
    tokens: list[tuple[str, Word | str]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t\r":
            i += 1
            continue
        if ch == "\\" and i + 1 < n and text[i + 1] == "\n":
            i += 2
            continue
        if ch == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        op = next((o for o in _OPERATORS if text.startswith(o, i)), None)
        if op is not None:
            tokens.append(("op", op))
            i += len(op)
            continue
        value: list[str] = []
        start = i
        quoted = False
        while i < n:
            ch = text[i]
            if ch in " \t\r\n;&|()" and not (ch in "()" and value and value[-1] in "$<>="):
                break
            if ch == "\\":
                if i + 1 < n and text[i + 1] == "\n":
                    i += 2
                    continue
                if i + 1 < n:
                    value.append(text[i + 1])
                quoted = True
                i += 2
                continue
            if ch == "'":
                end = text.find("'", i + 1)
                end = n if end < 0 else end
                value.append(text[i + 1 : end])
                quoted = True
                i = end + 1
                continue
            if ch == '"':
                i = _read_double(text, i + 1, value)
                quoted = True
                continue
            if ch == "$" and text.startswith("$(", i):
                end = _read_until_close(text, i + 2, "(", ")")
                value.append(text[i:end])
                i = end
                continue
            if ch == "$" and text.startswith("${", i):
                end = _read_until_close(text, i + 2, "{", "}")
                value.append(text[i:end])
                i = end
                continue
            if ch == "`":
                end = text.find("`", i + 1)
                end = n if end < 0 else end + 1
                value.append(text[i:end])
                i = end
                continue
            value.append(ch)
            i += 1
        tokens.append(("word", Word("".join(value), text[start:i], quoted)))
    return tokens


def _substitutions(raw: str) -> list[str]:
    """The scripts inside `$(...)` and backticks of a raw word."""
    out: list[str] = []
    i = 0
    while i < len(raw):
        if raw.startswith("$(", i) and not raw.startswith("$((", i):
            end = _read_until_close(raw, i + 2, "(", ")")
            out.append(raw[i + 2 : end - 1])
            i = end
        elif raw[i] == "`":
            end = raw.find("`", i + 1)
            end = len(raw) if end < 0 else end
            out.append(raw[i + 1 : end])
            i = end + 1
        else:
            i += 1
    return out


def parse(text: str) -> Script:
    """Read a shell script into its simple commands (also those inside command substitutions)."""
    script = Script(commands=[], text=text)
    _parse_into(text, script, nested=False)
    return script


def _parse_into(text: str, script: Script, nested: bool) -> None:
    tokens = tokenize(text)
    current: Command | None = None
    words: list[Word] = []
    piped_next = False
    skip_words = 0  # `for x in a b c` / `case w in`: those words are not commands
    group: list[Command] = []

    def finish(op: str | None) -> None:
        nonlocal current, words, piped_next, group
        cmd = _build(words, nested)
        if cmd is not None:
            cmd.piped = piped_next or op == "|" or op == "|&"
            cmd.background = op == "&"
            script.commands.append(cmd)
            group.append(cmd)
        if op in ("|", "|&"):
            script.has_pipe = True
            piped_next = True
        elif op is not None and op != "(" and op != ")":
            piped_next = False
        words = []

    for kind, tok in tokens:
        if kind == "op":
            assert isinstance(tok, str)
            finish(tok)
            skip_words = 0
            continue
        assert isinstance(tok, Word)
        for sub in _substitutions(tok.raw):
            _parse_into(sub, script, nested=True)
        if not words and tok.value in _RESERVED and not tok.quoted:
            if tok.value in ("case",):
                skip_words = -1
            continue
        if not words and tok.value == "for" and not tok.quoted:
            skip_words = -1
            continue
        if skip_words == -1:
            if tok.value in ("do", "in") and not tok.quoted:
                if tok.value == "do":
                    skip_words = 0
                continue
            continue
        words.append(tok)
    finish(None)


def _build(words: list[Word], nested: bool) -> Command | None:
    assignments: list[str] = []
    rest: list[Word] = []
    i = 0
    while i < len(words) and not rest and _ASSIGNMENT.match(words[i].raw):
        assignments.append(words[i].value)
        i += 1
    skip_next = False
    for w in words[i:]:
        if skip_next:
            skip_next = False
            continue
        if not w.quoted and _REDIRECT.match(w.raw):
            skip_next = True
            continue
        if not w.quoted and _REDIRECT_ATTACHED.match(w.raw):
            continue
        rest.append(w)
    if not rest:
        return None
    name = rest[0].value
    return Command(
        name=name,
        args=[w.value for w in rest[1:]],
        raw_args=[w.raw for w in rest[1:]],
        assignments=assignments,
        nested=nested,
    )
