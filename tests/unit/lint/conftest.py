"""Fixtures for the lint tests: a helper that lints text and returns the rule ids found."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dockyard.lint.config import LintConfig
from dockyard.lint.context import LintContext
from dockyard.lint.runner import lint_text


@pytest.fixture
def codes() -> Callable[..., list[str]]:
    def run(
        text: str, config: LintConfig | None = None, context: LintContext | None = None
    ) -> list[str]:
        return [f.rule for f in lint_text(text, config=config, context=context)]

    return run
