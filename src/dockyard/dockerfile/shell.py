"""Dockerfile word expansion: `$VAR`/`${VAR...}` substitution, quotes and word splitting (BuildKit's shell lexer)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

from dockyard.errors import InvalidArgument

__all__ = ["ShellExpansionError", "ShellLexer", "build_envs"]

_EOF = ""
# Go's unicode.IsSpace: the Latin-1 spaces plus every White_Space rune of category Z.
_LATIN1_SPACES = frozenset("\t\n\v\f\r \x85\xa0")
# $@ $* $# $? $- $$ $! $0: special parameters, never set in a Dockerfile.
_SPECIAL_PARAMS = frozenset("@*#?-$!0")
# Characters a shell pattern (`${V#pat}`, `${V/pat/r}`) must escape when it becomes a regexp.
_REGEX_SPECIALS = frozenset("[]{}.+()|^$")


def _is_space(ch: str) -> bool:
    if ch in _LATIN1_SPACES:
        return True
    return ord(ch) > 0xFF and unicodedata.category(ch) == "Zs"


def _is_digit(ch: str) -> bool:
    return unicodedata.category(ch) == "Nd"


def _is_letter(ch: str) -> bool:
    return unicodedata.category(ch).startswith("L")


def build_envs(env: Iterable[str]) -> dict[str, str]:
    """Turn a `NAME=value` list into a map: split at the first `=`, a bare name is empty, last wins."""
    envs: dict[str, str] = {}
    for entry in env:
        name, sep, value = entry.partition("=")
        envs[name] = value if sep else ""
    return envs


class ShellExpansionError(InvalidArgument):
    """A word could not be expanded (bad quoting, bad `${...}` syntax, `${VAR?msg}` on an unset VAR)."""


class _Fail(Exception):
    """Internal: an expansion error before it is wrapped with the word being processed."""


class _Words:
    """Accumulates the words of a ProcessWords call; quoted text never splits."""

    def __init__(self) -> None:
        self.word = ""
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if _is_space(ch):
            if self.in_word and self.word:
                self.words.append(self.word)
                self.word = ""
                self.in_word = False
        else:
            self.add_raw_char(ch)

    def add_raw_char(self, ch: str) -> None:
        self.word += ch
        self.in_word = True

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def add_raw_string(self, text: str) -> None:
        self.word += text
        self.in_word = True

    def finish(self) -> list[str]:
        if self.word:
            self.words.append(self.word)
            self.word = ""
            self.in_word = False
        return self.words


class _Scanner:
    """A rune reader with one character of lookahead; `_EOF` ("") at the end."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else _EOF

    def next(self) -> str:
        ch = self.peek()
        if ch:
            self.pos += 1
        return ch


class _Expansion:
    """One expansion of one word against one environment."""

    def __init__(self, word: str, env: Mapping[str, str], escape: str) -> None:
        self.scanner = _Scanner(word)
        self.env = env
        self.escape = escape
        self.raw_escapes = False
        self.matched: set[str] = set()
        self.unmatched: set[str] = set()

    # -- the main loop ---------------------------------------------------------------------
    def process_stop_on(self, stop: str, raw_escapes: bool) -> tuple[str, list[str]]:
        saved, self.raw_escapes = self.raw_escapes, raw_escapes
        try:
            return self._process_stop_on(stop)
        finally:
            self.raw_escapes = saved

    def _process_stop_on(self, stop: str) -> tuple[str, list[str]]:
        sc = self.scanner
        result: list[str] = []
        words = _Words()
        while sc.peek() != _EOF:
            ch = sc.peek()
            if stop and ch == stop:
                sc.next()
                return "".join(result), words.finish()
            if ch == "$":
                text = self.process_dollar()
                result.append(text)
                words.add_string(text)
                continue
            if ch in ("'", '"'):
                text = self.process_single_quote() if ch == "'" else self.process_double_quote()
                result.append(text)
                words.add_raw_string(text)
                continue
            ch = sc.next()
            if ch == self.escape:
                if self.raw_escapes:
                    words.add_raw_char(ch)
                    result.append(ch)
                ch = sc.next()
                if ch == _EOF:
                    break
                words.add_raw_char(ch)
            else:
                words.add_char(ch)
            result.append(ch)
        if stop:
            raise _Fail(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words.finish()

    # -- quotes ----------------------------------------------------------------------------
    def process_single_quote(self) -> str:
        sc = self.scanner
        sc.next()
        out: list[str] = []
        while True:
            ch = sc.next()
            if ch == _EOF:
                raise _Fail("unexpected end of statement while looking for matching single-quote")
            if ch == "'":
                return "".join(out)
            out.append(ch)

    def process_double_quote(self) -> str:
        sc = self.scanner
        sc.next()
        out: list[str] = []
        while True:
            peek = sc.peek()
            if peek == _EOF:
                raise _Fail("unexpected end of statement while looking for matching double-quote")
            if peek == '"':
                sc.next()
                return "".join(out)
            if peek == "$":
                out.append(self.process_dollar())
                continue
            ch = sc.next()
            if ch == self.escape:
                if self.raw_escapes:
                    out.append(ch)
                following = sc.peek()
                if following == _EOF:
                    continue  # a trailing escape inside quotes is dropped
                if following in ('"', "$", self.escape):
                    ch = sc.next()
            out.append(ch)

    # -- variables -------------------------------------------------------------------------
    def lookup(self, name: str) -> tuple[str, bool]:
        if name in self.env:
            self.matched.add(name)
            return self.env[name], True
        self.unmatched.add(name)
        return "", False

    def process_name(self) -> str:
        sc = self.scanner
        name: list[str] = []
        while sc.peek() != _EOF:
            ch = sc.peek()
            if not name and _is_digit(ch):
                while sc.peek() != _EOF and _is_digit(sc.peek()):
                    name.append(sc.next())
                return "".join(name)
            if not name and ch in _SPECIAL_PARAMS:
                return sc.next()
            if not (_is_letter(ch) or _is_digit(ch) or ch == "_"):
                break
            name.append(sc.next())
        return "".join(name)

    def process_dollar(self) -> str:
        sc = self.scanner
        sc.next()
        if sc.peek() != "{":
            name = self.process_name()
            if not name:
                return "$"
            return self.lookup(name)[0]
        sc.next()
        peek = sc.peek()
        if peek == _EOF:
            raise _Fail("syntax error: missing '}'")
        if peek in "{}:":
            raise _Fail("syntax error: bad substitution")
        name = self.process_name()
        ch = sc.next()
        if ch == "}":
            return self.lookup(name)[0]
        if ch == "/":
            return self._substitute(name)
        if ch == _EOF:
            raise _Fail("syntax error: missing '}'")
        modifier = ch
        null_is_unset = False
        if ch == ":":
            null_is_unset = True
            ch = sc.next()
            modifier += ch
        elif ch not in "+-?#%":
            raise _Fail(f"unsupported modifier ({modifier}) in substitution")
        raw_escapes = ch in ("#", "%")
        if null_is_unset and raw_escapes:
            raise _Fail(f"unsupported modifier ({modifier}) in substitution")
        word = self._stop_on("}", raw_escapes, "syntax error: missing '}'")
        if ch == _EOF or ch not in "+-?#%":
            raise _Fail(f"unsupported modifier ({modifier}) in substitution")
        value, is_set = self.lookup(name)
        unset = not is_set or (null_is_unset and value == "")
        if ch == "-":
            return word if unset else value
        if ch == "+":
            return "" if unset else word
        if ch == "?":
            if not is_set:
                raise _Fail(f"{name}: {word or 'is not allowed to be unset'}")
            if unset:
                raise _Fail(f"{name}: {word or 'is not allowed to be empty'}")
            return value
        greedy = word.startswith(ch)
        if greedy:
            word = word[1:]
        if ch == "%":
            return _trim_suffix(word, value, greedy)
        return _trim_prefix(word, value, greedy)

    def _stop_on(self, stop: str, raw_escapes: bool, eof_message: str) -> str:
        try:
            return self.process_stop_on(stop, raw_escapes)[0]
        except _Fail:
            if self.scanner.peek() == _EOF:
                raise _Fail(eof_message) from None
            raise

    def _substitute(self, name: str) -> str:
        """`${VAR/pat/repl}` (first match) and `${VAR//pat/repl}` (every match)."""
        replace_all = self.scanner.peek() == "/"
        if replace_all:
            self.scanner.next()
        pattern = self._stop_on("/", True, "syntax error: missing '/' in ${}")
        replacement = self._stop_on("}", True, "syntax error: missing '}'")
        value, _ = self.lookup(name)
        regex = _compile_pattern(pattern, greedy=True, anchored=False)
        if not replace_all:
            m = regex.search(value)
            return value if m is None else value[: m.start()] + replacement + value[m.end() :]
        out: list[str] = []
        pos = 0
        last_end = -1
        for m in regex.finditer(value):
            if m.start() == m.end() == last_end:
                continue  # as Go: an empty match right after a match is not replaced
            out.append(value[pos : m.start()])
            out.append(replacement)
            pos = last_end = m.end()
        out.append(value[pos:])
        return "".join(out)


def _compile_pattern(pattern: str, greedy: bool, anchored: bool) -> re.Pattern[str]:
    """A shell pattern (`*`, `?`, `\\` escapes; no bracket expressions) as a regexp."""
    out = ["^"] if anchored else []
    star = ".*" if greedy else ".*?"
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        i += 1
        if ch == "*":
            out.append(star)
        elif ch == "?":
            out.append(".")
        elif ch == "\\":
            following = pattern[i] if i < len(pattern) else ""
            if following in ("}", "/"):
                continue  # the escape only protected the ${} delimiter
            i += 1
            if following not in ("*", "?", "\\"):
                raise _Fail(
                    f"invalid pattern ({pattern}) in substitution: invalid escape '\\{following}'"
                )
            out.append("\\" + following)
        elif ch in _REGEX_SPECIALS:
            out.append("\\" + ch)
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out))


def _trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    m = _compile_pattern(pattern, greedy, anchored=True).search(value)
    return value if m is None else value[m.end() :]


def _reverse_pattern(pattern: str) -> str:
    """Reverse a pattern, keeping each `\\x` escape pair in order."""
    tokens: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            tokens.append(pattern[i : i + 2])
            i += 2
        else:
            tokens.append(pattern[i])
            i += 1
    return "".join(reversed(tokens))


def _trim_suffix(pattern: str, value: str, greedy: bool) -> str:
    # Find the shortest/longest rightmost match as a leftmost match on the reversed strings.
    return _trim_prefix(_reverse_pattern(pattern), value[::-1], greedy)[::-1]


class ShellLexer:
    """Expands Dockerfile words as BuildKit does; `escape` is the Dockerfile's escape token."""

    def __init__(self, escape: str = "\\") -> None:
        if len(escape) != 1:
            raise InvalidArgument(f"invalid escape token {escape!r}: must be one character")
        self.escape = escape

    def _run(self, word: str, env: Mapping[str, str]) -> tuple[_Expansion, str, list[str]]:
        expansion = _Expansion(word, env, self.escape)
        try:
            result, words = expansion.process_stop_on(_EOF, False)
        except _Fail as exc:
            raise ShellExpansionError(
                f'failed to process "{word}": {exc}',
                hint="check the quotes and ${...} syntax of the word",
            ) from None
        return expansion, result, words

    def process_word(self, word: str, env: Mapping[str, str]) -> str:
        """Expand variables and remove quotes; whitespace inside the word is kept."""
        return self._run(word, env)[1]

    def process_words(self, word: str, env: Mapping[str, str]) -> list[str]:
        """Expand, then split into words on unquoted whitespace (quoted text never splits)."""
        return self._run(word, env)[2]

    def process_word_with_matches(
        self, word: str, env: Mapping[str, str]
    ) -> tuple[str, set[str], set[str]]:
        """Expand, and say which referenced names were set in `env` and which were not."""
        expansion, result, _ = self._run(word, env)
        return result, expansion.matched, expansion.unmatched
