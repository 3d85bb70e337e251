"""The rule catalogue: every rule has a doc page, and the hadolint ids match hadolint's severities."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockyard.lint.model import Severity
from dockyard.lint.runner import load_rules

REPO = Path(__file__).resolve().parents[3]


def test_every_rule_has_a_doc_page() -> None:
    missing = [r for r in load_rules() if not (REPO / "docs" / "lint" / f"{r}.md").is_file()]
    assert not missing


def test_dl_rules_match_hadolint_ids_and_severities(conformance_dir: Path) -> None:
    data = json.loads((conformance_dir / "hadolint-rules.json").read_text())
    theirs = {r["id"]: r["default_severity"] for r in data["rules"] if r["source"] == "hadolint"}
    ours = {k: v for k, v in load_rules().items() if k.startswith("DL")}
    assert set(ours) == set(theirs)
    for rule_id, rule in ours.items():
        assert rule.severity == Severity.parse(theirs[rule_id]), rule_id


@pytest.mark.parametrize("rule_id", sorted(load_rules()))
def test_messages_are_our_own(rule_id: str, conformance_dir: Path) -> None:
    data = json.loads((conformance_dir / "hadolint-rules.json").read_text())
    messages = {r.get("message") or r["description"] for r in data["rules"]}
    assert load_rules()[rule_id].message not in messages
