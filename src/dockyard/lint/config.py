"""Lint configuration: `.dockyard-lint.yaml` / `.hadolint.yaml` files and inline ignore pragmas."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from dockyard.errors import InvalidArgument
from dockyard.lint.model import Severity

CONFIG_NAMES = (".dockyard-lint.yaml", ".dockyard-lint.yml", ".hadolint.yaml", ".hadolint.yml")

_PRAGMA = re.compile(
    r"^\s*#\s*(?P<tool>hadolint|dockyard)[ \t]+(?:(?P<scope>global|stage)[ \t]+)?"
    r"ignore[ \t]*=[ \t]*(?P<rules>[A-Za-z0-9]+(?:[ \t]*,[ \t]*[A-Za-z0-9]+)*)[ \t]*(?:#.*)?$"
)
_SHELL_PRAGMA = re.compile(r"^\s*#\s*(?:hadolint|dockyard)[ \t]+shell[ \t]*=[ \t]*(\S+)")


@dataclass
class LintConfig:
    """Which rules to skip, severity overrides, trusted registries, label schema, threshold."""

    ignored: set[str] = field(default_factory=set)
    overrides: dict[str, Severity] = field(default_factory=dict)
    trusted_registries: list[str] = field(default_factory=list)
    label_schema: dict[str, str] = field(default_factory=dict)
    strict_labels: bool = False
    failure_threshold: Severity | None = Severity.INFO
    disable_pragmas: bool = False

    def merge(self, data: dict[str, Any], source: str = "config") -> LintConfig:
        """Apply the keys of a parsed config mapping (hadolint's names or ours) on top of self."""
        if not isinstance(data, dict):
            raise InvalidArgument(
                f"{source}: expected a mapping at the top level",
                hint="write keys such as `ignored: [DL3008]` or `trustedRegistries: [my.io]`",
            )
        for key, value in data.items():
            self._apply(str(key), value, source)
        return self

    def _apply(self, key: str, value: Any, source: str) -> None:
        norm = key.replace("_", "-").lower()
        if norm in ("ignored", "ignore", "ignores"):
            self.ignored.update(_str_list(value, key, source))
        elif norm == "override":
            if not isinstance(value, dict):
                raise InvalidArgument(f"{source}: `override` must map severities to rule lists")
            for level, rules in value.items():
                for rule_id in _str_list(rules, f"override.{level}", source):
                    self.overrides[rule_id] = Severity.parse(str(level))
        elif norm in ("severity", "severities"):
            if not isinstance(value, dict):
                raise InvalidArgument(f"{source}: `severity` must map rule ids to severities")
            for rule_id, level in value.items():
                self.overrides[str(rule_id)] = Severity.parse(str(level))
        elif norm in ("trustedregistries", "trusted-registries"):
            self.trusted_registries.extend(_str_list(value, key, source))
        elif norm == "label-schema":
            if not isinstance(value, dict):
                raise InvalidArgument(f"{source}: `label-schema` must map label names to types")
            self.label_schema.update({str(k): str(v) for k, v in value.items()})
        elif norm == "strict-labels":
            self.strict_labels = bool(value)
        elif norm == "failure-threshold":
            self.failure_threshold = parse_threshold(str(value))
        elif norm == "no-fail":
            if value:
                self.failure_threshold = None
        elif norm == "disable-ignore-pragma":
            self.disable_pragmas = bool(value)
        # Other hadolint keys (format, no-color, verbose) are CLI matters; ignore them.


def parse_threshold(value: str) -> Severity | None:
    if value.strip().lower() in ("none", "never"):
        return None
    return Severity.parse(value)


def _str_list(value: Any, key: str, source: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
        return [str(v) for v in value]
    raise InvalidArgument(f"{source}: `{key}` must be a list of strings", hint=f"{key}: [a, b]")


def load_config_text(text: str, source: str, base: LintConfig | None = None) -> LintConfig:
    """Parse YAML config text into a LintConfig (on top of `base`)."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        where = f"{source}:{line + 1}" if line is not None else source
        raise InvalidArgument(
            f"{where}: not valid YAML", hint="fix the YAML syntax of the lint config"
        ) from exc
    config = base if base is not None else LintConfig()
    if data is None:
        return config
    return config.merge(data, source)


@dataclass
class Pragmas:
    """Inline ignore comments: for the whole file, and per line they apply to."""

    global_ignores: set[str] = field(default_factory=set)
    line_ignores: dict[int, set[str]] = field(default_factory=dict)
    pragma_lines: list[int] = field(default_factory=list)  # lines holding a next-line ignore
    shells: dict[int, str] = field(default_factory=dict)  # line -> shell name from `shell=`

    def ignores(self, rule_id: str, line: int) -> bool:
        return rule_id in self.global_ignores or rule_id in self.line_ignores.get(line, set())


def parse_pragmas(text: str) -> Pragmas:
    """Find `# hadolint ignore=...` / `# dockyard ignore=...` comments (and `global ignore=`)."""
    out = Pragmas()
    for number, line in enumerate(text.split("\n"), start=1):
        if "#" not in line:
            continue
        m = _PRAGMA.match(line)
        if m:
            rules = {r.strip() for r in m.group("rules").split(",") if r.strip()}
            if m.group("scope") == "global":
                out.global_ignores.update(rules)
            else:
                out.line_ignores.setdefault(number + 1, set()).update(rules)
                out.pragma_lines.append(number)
            continue
        s = _SHELL_PRAGMA.match(line)
        if s:
            out.shells[number] = s.group(1)
    return out
