"""Lint data: severities, findings, and the rule record every check is registered with."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dockyard.lint.facts import Facts

DOCS_BASE = "docs/lint"


class Severity(IntEnum):
    """How much a finding matters; higher is worse. IGNORE findings are never shown."""

    IGNORE = 0
    STYLE = 1
    INFO = 2
    WARNING = 3
    ERROR = 4

    @classmethod
    def parse(cls, name: str) -> Severity:
        key = name.strip().lower()
        aliases = {"none": "ignore", "off": "ignore", "warn": "warning", "err": "error"}
        key = aliases.get(key, key)
        try:
            return cls[key.upper()]
        except KeyError:
            from dockyard.errors import InvalidArgument

            raise InvalidArgument(
                f"unknown severity {name!r}",
                hint="use one of error, warning, info, style, ignore",
            ) from None

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Hit:
    """What a check yields: the line it found something on and an optional specific message."""

    line: int
    message: str = ""


Check = Callable[["Facts"], Iterator[Hit]]


@dataclass(frozen=True)
class Rule:
    """One rule: its id, default severity, what it says, how to fix it, and its check."""

    id: str
    severity: Severity
    message: str
    hint: str
    check: Check
    family: str  # "hadolint", "buildkit", "dockyard"
    needs_context: bool = False
    same_as: str = ""  # a rule that reports the same thing; on the same line only it is shown

    @property
    def url(self) -> str:
        return f"{DOCS_BASE}/{self.id}.md"


@dataclass(frozen=True)
class Finding:
    """One thing to fix: which rule, how bad, where, what, and how."""

    rule: str
    severity: Severity
    file: str
    line: int
    message: str
    hint: str = ""
    url: str = ""
    column: int = 1

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.rule,
            "level": self.severity.label,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "message": self.message,
            "hint": self.hint,
            "url": self.url,
        }


@dataclass
class RuleSet:
    """The registered rules by id."""

    rules: dict[str, Rule] = field(default_factory=dict)

    def add(self, rule: Rule) -> None:
        if rule.id in self.rules:
            raise ValueError(f"duplicate lint rule {rule.id}")
        self.rules[rule.id] = rule


REGISTRY = RuleSet()


def rule(
    rule_id: str,
    severity: str,
    message: str,
    hint: str,
    family: str = "hadolint",
    needs_context: bool = False,
    same_as: str = "",
) -> Callable[[Check], Check]:
    """Register the decorated check function under `rule_id`."""

    def wrap(fn: Check) -> Check:
        REGISTRY.add(
            Rule(
                rule_id, Severity.parse(severity), message, hint, fn, family, needs_context,
                same_as,
            )
        )
        return fn

    return wrap
