"""Parser behaviour beyond the fixtures: error locations, directives, heredocs, fuzzing, the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from dockyard.cli.main import cli
from dockyard.dockerfile import DockerfileSyntaxError, parse
from dockyard.dockerfile.dump import go_quote


def test_keywords_are_case_insensitive_and_raw_case_is_kept() -> None:
    result = parse("from alpine\nRuN echo hi\n")
    assert [c.keyword for c in result.children] == ["from", "run"]
    assert result.children[1].raw_keyword == "RuN"
    assert result.dump() == '(from "alpine")\n(run "echo hi")'


def test_error_carries_file_line_column_and_text() -> None:
    text = 'FROM busybox\n\n   CMD ["a", ["b"]]\n'
    with pytest.raises(DockerfileSyntaxError) as info:
        parse(text, filename="app/Dockerfile")
    err = info.value
    assert (err.filename, err.line, err.column) == ("app/Dockerfile", 3, 4)
    assert err.line_text == '   CMD ["a", ["b"]]'
    assert str(err).startswith("app/Dockerfile:3:4: when using JSON array syntax")
    assert err.exit_code == 1


def test_backtick_escape_directive() -> None:
    result = parse("# escape=`\nFROM windows\nRUN dir `\n  c:\\\n")
    assert result.escape == "`"
    assert result.directives == {"escape": "`"}
    assert result.dump() == '(from "windows")\n(run "dir   c:\\\\")'


def test_directives_only_at_top() -> None:
    result = parse("FROM a\n# escape=`\nRUN a \\\n b\n")
    assert result.escape == "\\"
    assert result.dump() == '(from "a")\n(run "a  b")'


def test_duplicate_and_invalid_directives_fail() -> None:
    with pytest.raises(DockerfileSyntaxError, match="only one escape parser directive"):
        parse("# escape=\\\n# escape=`\nFROM a\n")
    with pytest.raises(DockerfileSyntaxError, match="invalid escape token"):
        parse("# escape=x\nFROM a\n")


def test_syntax_and_check_directives_recorded() -> None:
    result = parse("# syntax=docker/dockerfile:1\n# check=skip=all\nFROM a\n")
    assert result.directives == {"syntax": "docker/dockerfile:1", "check": "skip=all"}
    assert result.children[0].comments == []


def test_comments_attach_to_next_instruction() -> None:
    result = parse("FROM a\n# first\n# second\nRUN x\n")
    assert result.children[1].comments == ["first", "second"]


def test_unterminated_heredoc_is_an_error_at_its_line() -> None:
    with pytest.raises(DockerfileSyntaxError) as info:
        parse("FROM a\nRUN <<EOF\necho hi\n")
    assert info.value.line == 2
    assert info.value.reason == "unterminated heredoc"


def test_heredoc_in_onbuild_and_line_numbers() -> None:
    result = parse("FROM a\nONBUILD RUN <<EOF\necho hi\nEOF\nRUN x\n")
    onbuild = result.children[1]
    assert [h.content for h in onbuild.heredocs] == ["echo hi\n"]
    assert (onbuild.start_line, onbuild.end_line) == (2, 4)
    assert result.children[2].start_line == 5


def test_maintainer_warns() -> None:
    result = parse("FROM a\nMAINTAINER me\n")
    assert [w.short for w in result.warnings] == ["MaintainerDeprecated"]
    assert result.warnings[0].line == 2


def test_crlf_line_endings() -> None:
    result = parse("FROM a\r\nRUN echo \\\r\n  hi\r\n")
    assert result.dump() == '(from "a")\n(run "echo   hi")'


def test_go_quote() -> None:
    assert go_quote('a"b\\c') == '"a\\"b\\\\c"'
    assert go_quote("\x00\x7f\u00a0♥\U0001f600\u200b") == '"\\x00\\x7f\\u00a0♥😀\\u200b"'


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(
            list("FROMRUNCOPYENVARG ONBUILDHEALTHCHECK\\`#=\"'[]{},<<-EOF\n\t $x-")
        ),
        max_size=200,
    )
)
def test_random_text_parses_or_raises_syntax_error(text: str) -> None:
    try:
        result = parse(text)
    except DockerfileSyntaxError:
        return
    result.dump()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=120))
def test_random_unicode_parses_or_raises_syntax_error(text: str) -> None:
    try:
        parse(text).dump()
    except DockerfileSyntaxError:
        pass


def test_cli_parse_prints_dump(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text("FROM alpine\nCOPY --from=b x /y\n")
    out = CliRunner().invoke(cli, ["dockerfile", "parse", str(path)])
    assert out.exit_code == 0
    assert out.output == '(from "alpine")\n(copy ["--from=b"] "x" "/y")\n'


def test_cli_parse_error_exit_1(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text('FROM alpine\nCMD ["a", 1]\n')
    out = CliRunner().invoke(cli, ["dockerfile", "parse", str(path)])
    assert out.exit_code == 1
    lines = out.output.splitlines()
    assert (
        lines[0]
        == f"Error: {path}:2:1: when using JSON array syntax, arrays must be comprised of strings only"
    )
    assert lines[1].endswith('CMD ["a", 1]')


def test_cli_strict_reports_unknown_instruction(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text("FROM alpine\nRUNN echo\n")
    out = CliRunner().invoke(cli, ["dockerfile", "parse", "--strict", str(path)])
    assert out.exit_code == 1
    assert "2:1: unknown instruction: RUNN (did you mean RUN?)" in out.output
