"""Low-level word handling of the Dockerfile parser: Go-style whitespace, quote-aware splitting,
the `--flag` prefix of an instruction's arguments, and the keyword/arguments split."""

from __future__ import annotations

import re

# Go's unicode.IsSpace: these Latin-1 characters plus the Unicode White_Space Z* runes.
GO_SPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)
GO_SPACE_STR = "".join(sorted(GO_SPACE))
# BuildKit's reWhitespace / tokenWhitespace.
RE_WHITESPACE = re.compile(r"[\t\v\f\r ]+")


def go_trim_space(s: str) -> str:
    return s.strip(GO_SPACE_STR)


def go_trim_left(s: str) -> str:
    return s.lstrip(GO_SPACE_STR)


def parse_words(rest: str, escape: str) -> list[str]:
    """Split on unquoted whitespace, keeping quotes and escapes in the words (BuildKit parseWords)."""
    words: list[str] = []
    n = len(rest)
    pos = 0
    in_word = False
    in_quote = ""
    blank_ok = False
    buf: list[str] = []
    while pos < n:
        ch = rest[pos]
        if not in_word:
            if ch in GO_SPACE:
                pos += 1
                continue
            in_word = True
        if in_quote:
            if ch == in_quote:
                in_quote = ""
            elif ch == escape and in_quote != "'":
                if pos + 1 == n:
                    in_quote = ""
                    pos += 1
                    continue  # an escape token at the very end is dropped
                buf.append(ch)
                pos += 1
                ch = rest[pos]
            buf.append(ch)
            pos += 1
            continue
        if ch in GO_SPACE:
            in_word = False
            if blank_ok or buf:
                words.append("".join(buf))
            buf = []
            blank_ok = False
            pos += 1
            continue
        if ch in "'\"":
            in_quote = ch
            blank_ok = True
        if ch == escape:
            if pos + 1 == n:
                pos += 1
                continue
            buf.append(ch)
            pos += 1
            ch = rest[pos]
        buf.append(ch)
        pos += 1
    if in_word and (blank_ok or buf):
        words.append("".join(buf))
    return words


def extract_builder_flags(line: str) -> tuple[str, list[str]]:
    """Move leading `--flag[=value]` words out of `line`: returns (rest, flags).

    Quotes and backslashes inside a flag are interpreted; a bare `--` ends the flags and
    is dropped (BuildKit extractBuilderFlags).
    """
    flags: list[str] = []
    n = len(line)
    pos = 0
    in_word = False
    quote = ""
    blank_ok = False
    word: list[str] = []
    while True:
        if not in_word:
            if pos == n:
                return "", flags
            ch = line[pos]
            if ch in GO_SPACE:
                pos += 1
                continue
            if ch != "-" or pos + 1 == n or line[pos + 1] != "-":
                return line[pos:], flags
            in_word = True
        if pos == n:
            text = "".join(word)
            if text != "--" and (blank_ok or word):
                flags.append(text)
            return "", flags
        ch = line[pos]
        if quote:
            if ch == quote:
                quote = ""
                pos += 1
                continue
            if ch == "\\":
                if pos + 1 == n:
                    quote = ""
                    pos += 1
                    continue
                pos += 1
                ch = line[pos]
            word.append(ch)
            pos += 1
            continue
        if ch in GO_SPACE:
            in_word = False
            text = "".join(word)
            if text == "--":
                return line[pos:], flags
            if blank_ok or word:
                flags.append(text)
            word = []
            blank_ok = False
            pos += 1
            continue
        if ch in "'\"":
            quote = ch
            blank_ok = True
            pos += 1
            continue
        if ch == "\\":
            if pos + 1 == n:
                pos += 1
                continue
            pos += 1
            ch = line[pos]
        word.append(ch)
        pos += 1


def split_command(line: str) -> tuple[str, list[str], str]:
    """(keyword as written, flags, the trimmed argument text) of one joined instruction line."""
    parts = RE_WHITESPACE.split(go_trim_space(line), maxsplit=1)
    cmd = parts[0]
    args = ""
    flags: list[str] = []
    if len(parts) == 2:
        args, flags = extract_builder_flags(parts[1])
    return cmd, flags, go_trim_space(args)
