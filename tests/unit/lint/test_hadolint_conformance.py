"""hadolint's rule examples (read from the shared conformance data at test time) as a test oracle."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from dockyard.lint.config import LintConfig
from dockyard.lint.runner import lint_text, load_rules

REPO = Path(__file__).resolve().parents[3]
CONFORMANCE = Path(os.environ.get("DOCKYARD_CONFORMANCE", REPO.parent / "shared" / "conformance"))
EXAMPLES = CONFORMANCE / "hadolint-rule-examples.json"

# Rules we do not implement, each with the reason.
NOT_IMPLEMENTED: dict[str, str] = {}


def _cases() -> list[Any]:
    if not EXAMPLES.is_file():
        return []
    cases = json.loads(EXAMPLES.read_text())["cases"]
    return [
        pytest.param(c, id=f"{c['rule']}-{i}-{'onbuild-' if c.get('onbuild') else ''}{c['it'][:40]}")
        for i, c in enumerate(cases)
    ]


def _onbuild(text: str) -> str:
    return re.sub(r"(?m)^RUN\b", "ONBUILD RUN", text)


@pytest.mark.parametrize("case", _cases())
def test_hadolint_example(case: dict[str, Any]) -> None:
    rule = case["rule"]
    if rule in NOT_IMPLEMENTED:
        pytest.skip(NOT_IMPLEMENTED[rule])
    assert rule in load_rules(), f"{rule} is not implemented"
    text = case["dockerfile"] + "\n"
    if case.get("onbuild"):
        text = _onbuild(text)
    config = LintConfig().merge(case["config"] or {}, "case config")
    found = [f for f in lint_text(text, config=config) if f.rule == rule]
    expect = case["expect"]
    if expect == "none":
        assert not found, f"{rule} should not fire on:\n{text}"
    elif expect == "at_least_one":
        assert found, f"{rule} should fire on:\n{text}"
    else:
        assert len(found) == case["count"], f"{rule}: {len(found)} != {case['count']} on:\n{text}"
