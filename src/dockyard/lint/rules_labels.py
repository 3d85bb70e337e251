"""Label-schema rules (hadolint DL3049-DL3058): active only when a label schema is configured."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

from dockyard.lint.facts import Facts, Stage, unquote
from dockyard.lint.model import Hit, rule


def _labels(stage: Stage) -> dict[str, str]:
    out: dict[str, str] = {}
    for instr in stage.instrs:
        if instr.keyword == "label":
            for name, value, _ in instr.pairs:
                out[unquote(name)] = unquote(value)
    return out


def _linked(facts: Facts, stage: Stage) -> list[Stage]:
    """The stage, its ancestors, and the later stages built FROM it or copying from it."""
    out = list(facts.ancestry(stage))
    todo = [stage]
    while todo:
        current = todo.pop()
        for other in facts.stages[current.index + 1 :]:
            if other in out:
                continue
            copies = any(
                i.keyword == "copy" and (i.flag("from") or "").lower() in
                ({current.alias} if current.alias else set()) | {str(current.index)}
                for i in other.instrs
            )  # fmt: skip
            if other.parent == current.index or copies:
                out.append(other)
                todo.append(other)
    return out


@rule("DL3049", "info", "a label the schema requires is missing",
      "add the label with LABEL")
def dl3049(facts: Facts) -> Iterator[Hit]:
    schema = facts.config.label_schema
    if not schema:
        return
    for stage in facts.stages:
        if stage.from_instr is None:
            continue
        present: set[str] = set()
        for s in _linked(facts, stage):
            present |= set(_labels(s))
        line = stage.from_instr.line if stage.from_instr else 1
        for name in schema:
            if name not in present:
                yield Hit(line, f"the required label `{name}` is missing")


@rule("DL3050", "info", "a label the schema does not list",
      "remove it, or add it to `label-schema` in the lint config")
def dl3050(facts: Facts) -> Iterator[Hit]:
    schema = facts.config.label_schema
    if not (schema and facts.config.strict_labels):
        return
    for instr in facts.instrs:
        if instr.keyword == "label" and any(unquote(n) not in schema for n, _, _ in instr.pairs):
            yield Hit(instr.line)


def _typed(facts: Facts, kind: str, valid: object) -> Iterator[Hit]:
    assert callable(valid)
    schema = facts.config.label_schema
    for instr in facts.instrs:
        if instr.keyword != "label":
            continue
        for name, value, _ in instr.pairs:
            name = unquote(name)
            if schema.get(name) == kind and not valid(unquote(value)):
                yield Hit(instr.line, f"label `{name}` is not a valid {kind}")


@rule("DL3051", "warning", "a label the schema lists is empty", "give the label a value")
def dl3051(facts: Facts) -> Iterator[Hit]:
    schema = facts.config.label_schema
    for instr in facts.instrs:
        if instr.keyword == "label":
            for name, value, _ in instr.pairs:
                if unquote(name) in schema and not unquote(value):
                    yield Hit(instr.line, f"label `{unquote(name)}` is empty")


@rule("DL3052", "warning", "a label of type url holds no URL", "write a full URL")
def dl3052(facts: Facts) -> Iterator[Hit]:
    return _typed(facts, "url", lambda v: bool(re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://\S+$", v)))


def _rfc3339(value: str) -> bool:
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", value)
    if not m:
        return False
    try:
        datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return False
    return True


@rule("DL3053", "warning", "a label of type rfc3339 holds no RFC 3339 time",
      "write a time such as 2024-05-01T12:00:00Z")
def dl3053(facts: Facts) -> Iterator[Hit]:
    return _typed(facts, "rfc3339", _rfc3339)


_SPDX = re.compile(r"^[A-Za-z0-9.+-]+(\s+(AND|OR|WITH)\s+[A-Za-z0-9.+-]+)*$")


def _spdx(value: str) -> bool:
    if not _SPDX.match(value):
        return False
    ids = [w for w in value.split() if w not in ("AND", "OR", "WITH")]
    return all(re.match(r"^[A-Za-z][A-Za-z0-9.]*(-[A-Za-z0-9.]+)*\+?$", i) and
               (any(c.isdigit() for c in i) or i.isupper() or "-" in i) and
               not i.islower() for i in ids)  # fmt: skip


@rule("DL3054", "warning", "a label of type spdx holds no SPDX license id",
      "use an SPDX id such as Apache-2.0 or MIT")
def dl3054(facts: Facts) -> Iterator[Hit]:
    return _typed(facts, "spdx", _spdx)


@rule("DL3055", "warning", "a label of type hash holds no git commit hash",
      "write the 7-40 hex digit commit id")
def dl3055(facts: Facts) -> Iterator[Hit]:
    return _typed(facts, "hash", lambda v: bool(re.fullmatch(r"[0-9a-fA-F]{7,40}", v)))


_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$"
)


@rule("DL3056", "warning", "a label of type semver holds no semantic version",
      "write a version such as 1.2.3")
def dl3056(facts: Facts) -> Iterator[Hit]:
    return _typed(facts, "semver", lambda v: bool(_SEMVER.match(v)))


@rule("DL3058", "warning", "a label of type email holds no e-mail address",
      "write an address such as team@example.com")
def dl3058(facts: Facts) -> Iterator[Hit]:
    return _typed(facts, "email", lambda v: bool(re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", v)))
