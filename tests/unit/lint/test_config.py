"""Lint configuration: config files, severity overrides, ignore pragmas, thresholds."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dockyard.errors import InvalidArgument
from dockyard.lint.config import LintConfig, load_config_text
from dockyard.lint.model import Severity
from dockyard.lint.runner import exit_code, lint_text

BAD = "FROM debian\nRUN apt-get install -y curl\n"


def test_next_line_pragma(codes: Callable[..., list[str]]) -> None:
    assert "DL3008" in codes(BAD)
    assert "DL3008" not in codes("FROM debian\n# hadolint ignore=DL3008\nRUN apt-get install -y curl\n")
    assert "DL3008" not in codes("FROM debian\n# dockyard ignore=DL3015, DL3008\nRUN apt-get install -y curl\n")


def test_pragma_applies_only_to_the_next_line(codes: Callable[..., list[str]]) -> None:
    text = "# hadolint ignore=DL3008\nFROM debian\nRUN apt-get install -y curl\n"
    assert "DL3008" in codes(text)


def test_global_pragma(codes: Callable[..., list[str]]) -> None:
    assert "DL3006" not in codes("# hadolint global ignore=DL3006\nFROM debian\n")


def test_config_file_ignores_and_overrides() -> None:
    config = load_config_text(
        "ignored: [DL3008]\noverride:\n  error: [DL3015]\ntrustedRegistries: [my.io]\n",
        ".hadolint.yaml",
    )
    found = {f.rule: f for f in lint_text(BAD, config=config)}
    assert "DL3008" not in found
    assert found["DL3015"].severity == Severity.ERROR
    assert "DL3026" in found  # debian comes from docker.io, which is not trusted


def test_dockyard_config_keys() -> None:
    config = load_config_text("ignore: [DY0008]\nseverity:\n  DL3006: style\n", "x.yaml")
    found = {f.rule: f for f in lint_text(BAD, config=config)}
    assert "DY0008" not in found and found["DL3006"].severity == Severity.STYLE


def test_bad_config_is_a_clear_error() -> None:
    with pytest.raises(InvalidArgument, match="x.yaml"):
        load_config_text("ignored: [DL3008\n", "x.yaml")
    with pytest.raises(InvalidArgument, match="severity"):
        load_config_text("override:\n  loud: [DL3008]\n", "x.yaml")


def test_threshold() -> None:
    findings = lint_text(BAD)
    assert exit_code(findings, Severity.WARNING) == 1
    assert exit_code(findings, Severity.ERROR) == 0
    assert exit_code(findings, None) == 0


def test_ignore_severity_findings_never_count() -> None:
    config = LintConfig(overrides={"DL3006": Severity.IGNORE, "DL3008": Severity.IGNORE,
                                   "DL3015": Severity.IGNORE, "DY0008": Severity.IGNORE,
                                   "DL3014": Severity.IGNORE})
    assert exit_code(lint_text(BAD, config=config), Severity.STYLE) == 0
