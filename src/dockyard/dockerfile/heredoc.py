"""Heredoc detection for RUN/COPY/ADD lines (`<<EOF`, `<<-EOF`, `3<<'EOF'`, several per line).

Finding heredocs needs a small shell-word splitter that keeps `$VAR` text verbatim and can keep
quotes and escapes (BuildKit lexes the line with RawQuotes/RawEscapes/SkipUnsetEnv and then
lexes each delimiter twice to learn whether any part of it was quoted).
"""

from __future__ import annotations

import re

from dockyard.dockerfile.ast import Heredoc
from dockyard.dockerfile.errors import LocalError

_SHELL_SPACE = " \t\r\n"
RE_HEREDOC = re.compile(r"^([0-9]*)<<(-?)[\t\n\f\r ]*([^<]*)\Z")
RE_LEADING_TABS = re.compile(r"^\t+", re.MULTILINE)


def chomp_heredoc_content(content: str) -> str:
    """Strip leading tabs of every line, as `<<-` asks (applied by the instruction layer)."""
    return RE_LEADING_TABS.sub("", content)


def _dollar(text: str, pos: int, out: list[str]) -> int:
    """Copy a `$NAME` / `${...}` reference verbatim (no variables are known here)."""
    n = len(text)
    if pos + 1 < n and text[pos + 1] == "{":
        end = text.find("}", pos + 2)
        if end < 0:
            raise LocalError("syntax error: missing '}'")
        out.append(text[pos : end + 1])
        return end + 1
    out.append("$")
    return pos + 1


def shell_words(text: str, *, raw_quotes: bool, raw_escapes: bool, escape: str = "\\") -> list[str]:
    """Split `text` into shell words without expanding variables; raises LocalError on bad quotes."""
    words: list[str] = []
    cur: list[str] = []
    in_word = False
    n = len(text)
    pos = 0
    while pos < n:
        ch = text[pos]
        if ch in _SHELL_SPACE:
            if in_word:
                words.append("".join(cur))
                cur = []
                in_word = False
            pos += 1
            continue
        in_word = True
        if ch == escape:
            if raw_escapes:
                cur.append(ch)
            pos += 1
            if pos < n:
                cur.append(text[pos])
                pos += 1
            continue
        if ch == "'":
            end = text.find("'", pos + 1)
            if end < 0:
                raise LocalError(
                    "unexpected end of statement while looking for matching single-quote"
                )
            cur.append(text[pos : end + 1] if raw_quotes else text[pos + 1 : end])
            pos = end + 1
            continue
        if ch == '"':
            pos = _double_quoted(text, pos, cur, raw_quotes, raw_escapes, escape)
            continue
        if ch == "$":
            pos = _dollar(text, pos, cur)
            continue
        if ch == "<" and pos + 1 < n and text[pos + 1] == "<":
            # `<<` swallows an optional `-` and the blanks before its delimiter word.
            start = pos
            pos += 2
            if pos < n and text[pos] == "-":
                pos += 1
            while pos < n and text[pos] in " \t":
                pos += 1
            cur.append(text[start:pos])
            continue
        cur.append(ch)
        pos += 1
    if in_word:
        words.append("".join(cur))
    return words


def _double_quoted(
    text: str, pos: int, cur: list[str], raw_quotes: bool, raw_escapes: bool, escape: str
) -> int:
    n = len(text)
    if raw_quotes:
        cur.append('"')
    pos += 1
    while True:
        if pos >= n:
            raise LocalError("unexpected end of statement while looking for matching double-quote")
        ch = text[pos]
        if ch == '"':
            if raw_quotes:
                cur.append('"')
            return pos + 1
        if ch == "$":
            pos = _dollar(text, pos, cur)
            continue
        if ch == escape and pos + 1 < n and text[pos + 1] in ('"', "$", escape):
            if raw_escapes:
                cur.append(ch)
            cur.append(text[pos + 1])
            pos += 2
            continue
        cur.append(ch)
        pos += 1


def parse_heredoc(word: str) -> Heredoc | None:
    """The heredoc a single word such as `<<-'EOF'` opens, or None; LocalError for bad quoting."""
    match = RE_HEREDOC.match(word)
    if not match:
        return None
    fd_text, dash, rest = match.groups()
    if not rest:
        return None
    words = shell_words(rest, raw_quotes=False, raw_escapes=False)
    if len(words) != 1:
        return None
    raw = shell_words(rest, raw_quotes=True, raw_escapes=False)
    if len(raw) != 1:
        raise LocalError(f"internal lexing of heredoc produced inconsistent results: {rest}")
    name = words[0]
    quotes = name.count("'") + name.count('"')
    raw_quotes = raw[0].count("'") + raw[0].count('"')
    return Heredoc(
        name=name,
        content="",
        expand=quotes == raw_quotes,
        chomp=dash == "-",
        file_descriptor=int(fd_text) if fd_text else 0,
    )


def try_parse_heredoc(word: str) -> Heredoc | None:
    """parse_heredoc that treats bad quoting as "not a heredoc" (BuildKit MustParseHeredoc)."""
    try:
        return parse_heredoc(word)
    except LocalError:
        return None


def heredocs_from_line(line: str) -> list[Heredoc]:
    """Every heredoc opened on an instruction line, in order (none if the line does not lex)."""
    try:
        words = shell_words(line, raw_quotes=True, raw_escapes=True)
    except LocalError:
        return []
    docs: list[Heredoc] = []
    for word in words:
        doc = parse_heredoc(word)
        if doc is not None:
            docs.append(doc)
    return docs
