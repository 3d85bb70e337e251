"""moby/patternmatcher facts (dockerignore-cases.json, dockerignore-extra.json) run against ignore.py."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from dockyard.dockerfile.ignore import PatternMatcher, go_clean, read_ignore_file
from dockyard.errors import InvalidArgument

CONFORMANCE = Path(
    os.environ.get(
        "DOCKYARD_CONFORMANCE", Path(__file__).resolve().parents[4] / "shared" / "conformance"
    )
)


def _load(name: str) -> Any:
    path = CONFORMANCE / name
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


CASES = _load("dockerignore-cases.json") or []
EXTRA = _load("dockerignore-extra.json") or {}


def _case_id(row: dict[str, Any]) -> str:
    return f"{row['patterns']}~{row['path']}"


def _evaluate(patterns: list[str], path: str, function: str) -> bool:
    """Run one upstream entry point's equivalent; a bad pattern raises InvalidArgument."""
    if function == "Matches":  # the package-level helper: the path is cleaned, "." never matches
        if go_clean(path) == ".":
            return False
        return PatternMatcher(patterns).matches(path)
    matcher = PatternMatcher(patterns)
    if function == "MatchesOrParentMatches":
        return matcher.matches_or_parent_matches(path)
    if function == "MatchesUsingParentResultsNoContext":
        return matcher.matches_with_parent(path, None)[0]
    # MatchesUsingParentResult(s): walk from the top, handing each parent's result down.
    parts = path.split("/")
    info: tuple[bool, ...] | None = None
    result = False
    for depth in range(1, len(parts) + 1):
        result, info = matcher.matches_with_parent("/".join(parts[:depth]), info)
    return result


@pytest.mark.parametrize("row", CASES, ids=[_case_id(r) for r in CASES])
def test_dockerignore_case(row: dict[str, Any]) -> None:
    assert row["platform"] in ("all", "unix")  # this is a Unix implementation: both apply
    for function in row["functions"]:
        if row["error"]:
            with pytest.raises(InvalidArgument):
                _evaluate(row["patterns"], row["path"], function)
        else:
            assert _evaluate(row["patterns"], row["path"], function) is row["match"], function


@pytest.mark.parametrize("case", EXTRA.get("new_patterns", []), ids=lambda c: c["source"])
def test_new_patterns(case: dict[str, Any]) -> None:
    if not case["ok"]:
        with pytest.raises(InvalidArgument) as info:
            PatternMatcher(case["patterns"])
        assert case["error"] in str(info.value)
        return
    matcher = PatternMatcher(case["patterns"])
    assert len(matcher.patterns) == case["pattern_count"]
    assert matcher.exclusions is case["exclusions"]


@pytest.mark.parametrize("case", EXTRA.get("readall", []), ids=lambda c: c["source"])
def test_read_ignore_file(case: dict[str, Any]) -> None:
    assert read_ignore_file(case["input"] or "") == case["expected"]


@pytest.mark.parametrize("case", EXTRA.get("compile", []), ids=lambda c: c["pattern"])
def test_compile_kind(case: dict[str, Any]) -> None:
    matcher = PatternMatcher([case["pattern"]])
    assert matcher._patterns[0].kind == case["match_type"]
