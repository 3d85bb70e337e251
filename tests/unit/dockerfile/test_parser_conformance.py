"""BuildKit's parser fixtures: dumps byte for byte, negative cases, heredocs, lines, warnings."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from dockyard.dockerfile import DockerfileSyntaxError, parse
from dockyard.dockerfile.directives import DirectiveParser, detect_syntax, parse_directive
from dockyard.dockerfile.errors import LocalError
from dockyard.dockerfile.heredoc import chomp_heredoc_content, heredocs_from_line, parse_heredoc
from dockyard.dockerfile.line_parsers import DISPATCH, parse_json
from dockyard.dockerfile.words import parse_words

CONFORMANCE = Path(
    os.environ.get(
        "DOCKYARD_CONFORMANCE",
        Path(__file__).resolve().parents[3].parent / "shared" / "conformance",
    )
)


def _cases(folder: str) -> list[str]:
    path = CONFORMANCE / folder
    return sorted(p.name for p in path.iterdir()) if path.is_dir() else []


@pytest.fixture(scope="module")
def extra(conformance_dir: Path) -> dict[str, Any]:
    return json.loads((conformance_dir / "buildkit-parser-extra.json").read_text())


@pytest.mark.parametrize("case", _cases("buildkit-parser"))
def test_dump_matches_result(conformance_dir: Path, case: str) -> None:
    folder = conformance_dir / "buildkit-parser" / case
    text = (folder / "Dockerfile").read_bytes().decode("utf-8")
    expected = (folder / "result").read_bytes().decode("utf-8")
    assert parse(text).dump() + "\n" == expected


@pytest.mark.parametrize("case", _cases("buildkit-parser-negative"))
def test_negative_case_fails(conformance_dir: Path, case: str) -> None:
    text = (conformance_dir / "buildkit-parser-negative" / case / "Dockerfile").read_text()
    with pytest.raises(DockerfileSyntaxError):
        parse(text)


def test_heredoc_extraction(conformance_dir: Path, extra: dict[str, Any]) -> None:
    section = extra["heredoc_extraction"]
    result = parse((conformance_dir / section["dockerfile"]).read_text())
    for case in section["expected"]:
        node = result.children[case["child_index"]]
        got = [
            {
                "Name": h.name,
                "Content": h.content,
                "Expand": h.expand,
                "Chomp": h.chomp,
                "FileDescriptor": h.file_descriptor,
            }
            for h in node.heredocs
        ]
        assert got == (case["heredocs"] or []), case["comment"]


def test_heredoc_json_form_has_no_heredocs(conformance_dir: Path, extra: dict[str, Any]) -> None:
    path = conformance_dir / extra["heredoc_json_form"]["dockerfile"]
    result = parse(path.read_text())
    assert [c.heredocs for c in result.children[1:4]] == [[], [], []]
    assert all(c.json_form for c in result.children[1:4])


def test_chomp_heredoc_content(extra: dict[str, Any]) -> None:
    for case in extra["chomp_heredoc_content"]:
        assert chomp_heredoc_content(case["input"]) == case["expected"]


def test_parse_heredoc_word(extra: dict[str, Any]) -> None:
    section = extra["parse_heredoc_word"]
    for word in section["valid"]:
        heredoc = parse_heredoc(word)
        assert heredoc is not None and heredoc.name == "EOF", word
    for word in section["invalid"]:
        with pytest.raises(LocalError):
            parse_heredoc(word)
    for word in section["not_heredoc"]:
        assert parse_heredoc(word) is None, word


def test_heredocs_from_line(extra: dict[str, Any]) -> None:
    for case in extra["heredocs_from_line"]["cases"]:
        names = [h.name for h in heredocs_from_line(case["line"])]
        assert names == (case["heredoc_names"] or []), case["line"]


def test_line_numbers(conformance_dir: Path, extra: dict[str, Any]) -> None:
    section = extra["line_numbers"]
    result = parse((conformance_dir / section["dockerfile"]).read_text())
    assert (result.start_line, result.end_line) == (
        section["root"]["start_line"],
        section["root"]["end_line"],
    )
    assert [[c.start_line, c.end_line] for c in result.children] == section["children"]


def test_empty_continuation_warnings(conformance_dir: Path, extra: dict[str, Any]) -> None:
    section = extra["empty_continuation_warnings"]
    result = parse((conformance_dir / section["dockerfile"]).read_text())
    assert len(result.warnings) == section["warning_count"]
    for warning, needles in zip(result.warnings, section["warnings_contain"], strict=True):
        for needle in needles:
            assert needle in warning.message
    assert section["first_warning_detail_contains"] in result.warnings[0].detail


def test_line_too_long(extra: dict[str, Any]) -> None:
    section = extra["scanner_line_too_long"]
    text = section["dockerfile_template"].replace("<'a' repeated 65536 times>", "a" * 65536)
    with pytest.raises(DockerfileSyntaxError) as info:
        parse(text)
    assert info.value.reason == section["error"]
    assert info.value.line == 3


def test_parse_words(extra: dict[str, Any]) -> None:
    for case in extra["parse_words"]:
        assert parse_words(case["input"], "\\") == case["expect"]


def test_name_val(extra: dict[str, Any]) -> None:
    for case in extra["name_val"]:
        parser = DISPATCH[case["instruction"].lower()]
        if "error" in case:
            with pytest.raises(LocalError) as info:
                parser(case["input"], "\\")
            assert info.value.message == case["error"]
        else:
            assert parser(case["input"], "\\").args == case["nodes"]


def test_json_arrays(extra: dict[str, Any]) -> None:
    section = extra["json_arrays"]
    for case in section["valid"]:
        assert parse_json(case["input"]) == case["expect"]
    for text in section["invalid_not_string_array"]:
        with pytest.raises(LocalError, match="strings only"):
            parse_json(text)


def test_directive_parse_all(extra: dict[str, Any]) -> None:
    for case in extra["directives"]["parse_all"]:
        found = DirectiveParser().parse_all(case["input"])
        assert [[d.name, d.value] for d in found] == case["directives"]


def test_detect_syntax(extra: dict[str, Any]) -> None:
    for case in extra["directives"]["detect_syntax"]:
        text = case["input"]
        if case.get("input_bytes_prefix_hex"):
            text = bytes.fromhex(case["input_bytes_prefix_hex"]).decode() + text
        found = detect_syntax(text)
        assert (found is not None) == case["ok"], text
        if found is None:
            continue
        assert found.value == case["ref"]
        if "cmdline" in case:
            assert found.cmdline == case["cmdline"]
        if "line" in case:
            assert found.line == case["line"]


def test_check_directive(extra: dict[str, Any]) -> None:
    for case in extra["directives"]["parse_directive_check"]:
        found = parse_directive(case["name"], case["input"])
        assert (found is not None) == case["ok"], case["input"]
        if found is None:
            continue
        assert found.value == case["value"]
        if "cmdline" in case:
            assert found.cmdline == case["cmdline"]
        if "line" in case:
            assert found.line == case["line"]
