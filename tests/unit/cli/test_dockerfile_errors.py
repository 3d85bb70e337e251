"""A Dockerfile syntax error as `dockyard build` and `dockyard dockerfile parse` show it:
file:line:column, the line, a caret under the column with what was expected, the hint."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from dockyard.cli.dockerfile_errors import excerpt_lines, format_syntax_error
from dockyard.cli.main import cli
from dockyard.dockerfile.errors import DockerfileSyntaxError
from dockyard.dockerfile.parser import parse
from dockyard.dockerfile.stages import build_stages


def _error(text: str) -> DockerfileSyntaxError:
    with pytest.raises(DockerfileSyntaxError) as info:
        build_stages(parse(text, "Dockerfile"))
    return info.value


def test_unknown_flag_points_at_the_flag_and_lists_the_expected_ones() -> None:
    lines = format_syntax_error(_error("FROM busybox\nCOPY --chown=1 --bogus=1 a b\n"))
    assert lines[0] == "Error: Dockerfile:2:16: unknown flag: bogus"
    assert lines[1] == "     2 | COPY --chown=1 --bogus=1 a b"
    caret = lines[2]
    assert caret.index("^") == lines[1].index("--bogus")
    assert "expected one of --chown, --from" in caret


def test_missing_argument_says_what_the_instruction_takes() -> None:
    lines = format_syntax_error(_error("FROM busybox\nARG\n"))
    assert lines[0] == "Error: Dockerfile:2:1: ARG requires at least one argument"
    assert lines[1] == "     2 | ARG"
    assert lines[2].endswith("^ expected ARG <argument>")


def test_caret_on_a_later_line_of_a_multi_line_text_and_the_hint() -> None:
    exc = DockerfileSyntaxError("bad", line=7, column=len("RUN a \\\n") + 3,
                                line_text="RUN a \\\n  b c", expected="x", hint="fix it")  # fmt: skip
    assert excerpt_lines(exc) == ["     7 | RUN a \\", "     8 |   b c", "       |   ^ expected x"]
    assert format_syntax_error(exc)[-1] == "Hint: fix it"


def test_build_and_parse_show_the_same_excerpt(tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nHEALTHCHECK --interval=xx CMD true\n")
    runner = CliRunner()
    built = runner.invoke(cli, ["--root", str(tmp_path / "root"), "build", "--progress", "plain",
                                "-t", "bad:1", str(ctx)])  # fmt: skip
    parsed = runner.invoke(cli, ["dockerfile", "parse", "--strict", str(ctx / "Dockerfile")])
    assert built.exit_code == parsed.exit_code == 1
    excerpt = ["     2 | HEALTHCHECK --interval=xx CMD true",
               "       | ^ expected a duration such as 30s or 1m30s"]  # fmt: skip
    for result in (built, parsed):
        out = result.stderr.splitlines()
        assert out[out.index(excerpt[0]) + 1] == excerpt[1]
        assert "Traceback" not in result.stderr
    assert 'Error: Dockerfile:2:1: time: invalid duration "xx"' in built.stderr
