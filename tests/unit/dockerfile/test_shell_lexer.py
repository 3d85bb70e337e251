"""ShellLexer behaviour beyond the upstream fixtures: the backtick escape token and error text."""

from __future__ import annotations

import pytest

from dockyard.dockerfile.shell import ShellExpansionError, ShellLexer
from dockyard.errors import InvalidArgument

ENV = {"HOME": "/root", "EMPTY": "", "PATH_LIST": "/a:/b"}


def test_backtick_escape_token_leaves_backslashes_alone() -> None:
    lexer = ShellLexer("`")
    assert lexer.process_word(r"C:\Windows\$HOME", ENV) == r"C:\Windows\/root"
    assert lexer.process_word("`$HOME", ENV) == "$HOME"
    assert lexer.process_word('"a`"b"', ENV) == 'a"b'
    assert lexer.process_words("a` b c", ENV) == ["a b", "c"]


def test_words_split_only_unquoted_expansions() -> None:
    lexer = ShellLexer()
    env = {"X": "one two"}
    assert lexer.process_words("$X '$X' \"$X\"", env) == ["one", "two", "$X", "one two"]
    assert lexer.process_word("$X  '$X'", env) == "one two  $X"


def test_pattern_and_replacement_modifiers() -> None:
    lexer = ShellLexer()
    env = {"F": "archive.tar.gz", "P": "/usr/local/bin"}
    assert (
        lexer.process_word("${F%.*}|${F%%.*}|${F#*.}|${F##*.}", env)
        == "archive.tar|archive|tar.gz|gz"
    )
    assert lexer.process_word("${P/\\//:}|${P//\\//:}", env) == ":usr/local/bin|:usr:local:bin"


@pytest.mark.parametrize(
    ("word", "message"),
    [
        ("${X", "missing '}'"),
        ("${}", "bad substitution"),
        ("${X:=1}", "unsupported modifier (:=) in substitution"),
        ("${EMPTY:?must be set}", "EMPTY: must be set"),
        ("${UNSET?}", "UNSET: is not allowed to be unset"),
        ("${EMPTY:?}", "EMPTY: is not allowed to be empty"),
        ("'open", "matching single-quote"),
        ("${HOME#\\a}", "invalid escape"),
    ],
)
def test_errors_are_one_clear_line(word: str, message: str) -> None:
    with pytest.raises(ShellExpansionError) as info:
        ShellLexer().process_word(word, ENV)
    text = str(info.value)
    assert message in text
    assert text.startswith(f'failed to process "{word}": ')
    assert "\n" not in text
    assert isinstance(info.value, InvalidArgument)


def test_matches_track_nested_references() -> None:
    result, matched, unmatched = ShellLexer().process_word_with_matches(
        "${NOPE:-${HOME}}-$MISSING", ENV
    )
    assert result == "/root-"
    assert matched == {"HOME"}
    assert unmatched == {"NOPE", "MISSING"}


def test_bad_escape_token_is_refused() -> None:
    with pytest.raises(InvalidArgument):
        ShellLexer("ab")
