"""ignore.py behaviour beyond the upstream tables: file reading, file choice, walk pruning."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.dockerfile.ignore import (
    PatternMatcher,
    glob_segment_regex,
    ignore_file_for,
    read_ignore_file,
)
from dockyard.errors import InvalidArgument


def test_read_ignore_file_handles_bom_crlf_and_indented_hash() -> None:
    text = "\ufeff# comment\r\n./build/\r\n  #not-a-comment\r\n!/keep//me/.\r\n\r\n"
    assert read_ignore_file(text) == ["build", "#not-a-comment", "!keep/me"]


def test_ignore_file_for_prefers_dockerfile_specific_file(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text("general\n")
    dockerfile = tmp_path / "sub" / "web.Dockerfile"
    dockerfile.parent.mkdir()
    assert ignore_file_for(tmp_path, dockerfile) == ["general"]
    (tmp_path / "sub" / "web.Dockerfile.dockerignore").write_text("specific\n")
    assert ignore_file_for(tmp_path, dockerfile) == ["specific"]
    assert ignore_file_for(tmp_path, None) == ["general"]
    (tmp_path / ".dockerignore").unlink()
    assert ignore_file_for(tmp_path, tmp_path / "Dockerfile") == []


def test_last_match_wins() -> None:
    matcher = PatternMatcher(["*.md", "!README.md", "README.md"])
    assert matcher.matches("README.md")
    assert matcher.matches("./CHANGES.md")
    assert not matcher.matches(".")


@pytest.mark.parametrize(
    ("exceptions", "directory", "may"),
    [
        (["!logs/keep.txt"], "logs", True),
        (["!logs/keep.txt"], "node_modules", False),
        (["!logs/keep.txt"], "logs/old", False),
        (["!**/keep.txt"], "anything/deep", True),
        (["!a/*/c"], "a/b", True),
        (["!a/*/c"], "x/b", False),
        (["!a"], "a", False),  # matches the directory itself, nothing deeper
        ([], "a", False),
    ],
)
def test_may_include_inside(exceptions: list[str], directory: str, may: bool) -> None:
    matcher = PatternMatcher(["*", *exceptions])
    assert matcher.may_include_inside(directory) is may


def test_bad_pattern_is_invalid_argument_with_pattern_in_message() -> None:
    with pytest.raises(InvalidArgument, match=r"'a\['"):
        PatternMatcher(["ok", "a["])


def test_glob_segment_regex_uses_go_match_rules() -> None:
    assert glob_segment_regex("*.py").fullmatch("main.py")
    assert not glob_segment_regex("*.py").fullmatch(".py/x")
    assert glob_segment_regex("[a-c]?.txt").fullmatch("b1.txt")
    assert glob_segment_regex("\\*").fullmatch("*")
    with pytest.raises(InvalidArgument):
        glob_segment_regex("[-]")
