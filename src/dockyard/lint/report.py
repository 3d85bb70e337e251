"""Lint output formats: tty (coloured on a terminal), json, sarif (2.1.0) and checkstyle XML."""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from urllib.parse import quote
from xml.sax.saxutils import quoteattr

from dockyard import __version__
from dockyard.errors import InvalidArgument
from dockyard.lint.model import Finding, Rule, Severity

FORMATS = ("tty", "json", "sarif", "checkstyle")
INFO_URI = "https://github.com/dockyard/dockyard"
DOCS_URI = f"{INFO_URI}/blob/main/"  # the rule pages (Rule.url is relative to the repository)
SARIF_SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)

_COLOURS = {
    Severity.ERROR: "\x1b[31m",
    Severity.WARNING: "\x1b[33m",
    Severity.INFO: "\x1b[36m",
    Severity.STYLE: "\x1b[37m",
}
_RESET = "\x1b[0m"
_DIM = "\x1b[2m"


def render(
    findings: list[Finding], fmt: str, rules: dict[str, Rule], colour: bool = False
) -> str:
    """The findings in the named format (text ends with a newline when non-empty)."""
    if fmt == "tty":
        return render_tty(findings, colour)
    if fmt == "json":
        return json.dumps([f.as_dict() for f in findings], indent=2) + "\n"
    if fmt == "sarif":
        return json.dumps(render_sarif(findings, rules), indent=2) + "\n"
    if fmt == "checkstyle":
        return render_checkstyle(findings)
    raise InvalidArgument(f"unknown lint format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")


def render_tty(findings: list[Finding], colour: bool) -> str:
    lines = []
    for f in findings:
        level = f.severity.label
        if colour:
            level = f"{_COLOURS.get(f.severity, '')}{level}{_RESET}"
        lines.append(f"{f.file}:{f.line} {f.rule} {level}: {f.message}")
        if f.hint:
            hint = f"  hint: {f.hint} ({f.url})"
            lines.append(f"{_DIM}{hint}{_RESET}" if colour else hint)
    return "".join(line + "\n" for line in lines)


_SARIF_LEVEL = {
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.INFO: "note",
    Severity.STYLE: "note",
    Severity.IGNORE: "none",
}


def render_sarif(findings: list[Finding], rules: dict[str, Rule]) -> dict[str, object]:
    used = sorted({f.rule for f in findings})
    index = {rule_id: i for i, rule_id in enumerate(used)}
    descriptors = []
    for rule_id in used:
        r = rules.get(rule_id)
        desc: dict[str, object] = {"id": rule_id}
        if r is not None:
            desc["shortDescription"] = {"text": r.message}
            desc["help"] = {"text": r.hint}
            desc["helpUri"] = DOCS_URI + r.url
            desc["defaultConfiguration"] = {"level": _SARIF_LEVEL[r.severity]}
        descriptors.append(desc)
    results = [
        {
            "ruleId": f.rule,
            "ruleIndex": index[f.rule],
            "level": _SARIF_LEVEL[f.severity],
            "message": {"text": f.message + (f" Hint: {f.hint}" if f.hint else "")},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": artifact_uri(f.file)},
                        "region": {"startLine": max(f.line, 1), "startColumn": max(f.column, 1)},
                    }
                }
            ],
        }
        for f in findings
    ]
    return {
        "$schema": SARIF_SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "dockyard-lint",
                        "version": __version__,
                        "informationUri": INFO_URI,
                        "rules": descriptors,
                    }
                },
                "results": results,
            }
        ],
    }


def artifact_uri(path: str) -> str:
    """A file name as SARIF wants it: a `file://` URI when absolute, else a relative reference."""
    posix = path.replace("\\", "/")
    if posix.startswith("/"):
        return PurePosixPath(posix).as_uri()
    return quote(posix, safe="/")


def render_checkstyle(findings: list[Finding]) -> str:
    out = ['<?xml version="1.0" encoding="UTF-8"?>', '<checkstyle version="4.3">']
    files: dict[str, list[Finding]] = {}
    for f in findings:
        files.setdefault(f.file, []).append(f)
    for name, items in files.items():
        out.append(f"  <file name={quoteattr(name)}>")
        for f in items:
            severity = "info" if f.severity <= Severity.INFO else f.severity.label
            out.append(
                f"    <error line=\"{f.line}\" column=\"{f.column}\" severity=\"{severity}\" "
                f"message={quoteattr(f.message)} source={quoteattr(f.rule)}/>"
            )
        out.append("  </file>")
    out.append("</checkstyle>")
    return "\n".join(out) + "\n"
