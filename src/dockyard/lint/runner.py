"""Run every registered lint rule over one Dockerfile and collect the findings."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable

from dockyard.dockerfile.ast import ParseResult
from dockyard.lint.config import LintConfig, Pragmas, parse_pragmas
from dockyard.lint.context import LintContext
from dockyard.lint.facts import Facts
from dockyard.lint.model import REGISTRY, Finding, Rule, Severity

RULE_MODULES = (
    "rules_packages",
    "rules_shell",
    "rules_instructions",
    "rules_stages",
    "rules_labels",
    "rules_buildkit",
    "rules_dockyard",
    "rules_context",
)

Parser = Callable[[str, str], ParseResult]


def load_rules() -> dict[str, Rule]:
    """Import every rule module once; the decorators fill the registry."""
    for name in RULE_MODULES:
        importlib.import_module(f"dockyard.lint.{name}")
    return REGISTRY.rules


def default_parser() -> Parser:
    from dockyard.dockerfile import parse

    return parse


def lint_text(
    text: str,
    filename: str = "Dockerfile",
    config: LintConfig | None = None,
    context: LintContext | None = None,
    parser: Parser | None = None,
) -> list[Finding]:
    """Parse and lint Dockerfile text; a parse failure is one DY0000 error finding."""
    config = config or LintConfig()
    parse = parser or default_parser()
    try:
        result = parse(text, filename)
    except Exception as exc:  # the parser's error kinds carry the line in the message
        from dockyard.errors import DockyardError

        if not isinstance(exc, DockyardError | ValueError):
            raise
        return [parse_failure(exc, filename)]
    return lint_result(result, text, config, context)


def parse_failure(exc: Exception, filename: str) -> Finding:
    message = getattr(exc, "message", None) or str(exc)
    line = getattr(exc, "line", None)
    if not isinstance(line, int):
        m = re.search(r"line (\d+)|:(\d+)", message)
        line = int(m.group(1) or m.group(2)) if m else 1
    rules = load_rules()
    r = rules["DY0000"]
    return Finding("DY0000", r.severity, filename, line, message, r.hint, r.url)


def lint_result(
    result: ParseResult,
    text: str,
    config: LintConfig | None = None,
    context: LintContext | None = None,
) -> list[Finding]:
    """Lint an already parsed Dockerfile. `text` is its source, read for ignore pragmas."""
    config = config or LintConfig()
    rules = load_rules()
    pragmas = Pragmas() if config.disable_pragmas else parse_pragmas(text)
    facts = Facts.build(result, config, context, text)
    facts.pragmas = pragmas
    findings: list[Finding] = []
    for r in rules.values():
        if r.id in config.ignored or (
            r.needs_context and (context is None or not context.listed)
        ):
            continue
        severity = config.overrides.get(r.id, r.severity)
        for hit in r.check(facts):
            if pragmas.ignores(r.id, hit.line):
                continue
            findings.append(
                Finding(
                    rule=r.id,
                    severity=severity,
                    file=result.filename,
                    line=hit.line,
                    message=hit.message or r.message,
                    hint=r.hint,
                    url=r.url,
                )
            )
    findings = _drop_duplicates(findings, rules)
    findings.sort(key=lambda f: (f.line, f.rule))
    return findings


def _drop_duplicates(findings: list[Finding], rules: dict[str, Rule]) -> list[Finding]:
    """Drop a finding when its rule's `same_as` rule reported the same line."""
    seen = {(f.rule, f.line) for f in findings}
    return [
        f for f in findings
        if not (rules[f.rule].same_as and (rules[f.rule].same_as, f.line) in seen)
    ]  # fmt: skip


def visible(findings: list[Finding]) -> list[Finding]:
    """The findings to show: those whose severity is not `ignore`."""
    return [f for f in findings if f.severity > Severity.IGNORE]


def exit_code(findings: list[Finding], threshold: Severity | None) -> int:
    """1 when a shown finding is at or above the threshold, else 0."""
    if threshold is None:
        return 0
    return 1 if any(f.severity >= threshold for f in visible(findings)) else 0
