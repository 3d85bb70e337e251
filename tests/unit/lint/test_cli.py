"""`dockyard lint` on the command line: formats, exit codes, errors, the flask example."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from dockyard.cli.main import cli

REPO = Path(__file__).resolve().parents[3]
FLASK = REPO / "examples" / "flask"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["lint", *args])
    return result.exit_code, result.output


def test_flask_example_reports_missing_user() -> None:
    code, out = run(str(FLASK))
    assert "DY0008" in out and "Dockerfile:12" in out
    assert code == 1


def test_json_format(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM debian\nRUN cd /x && sudo make\n")
    code, out = run("-f", str(tmp_path / "Dockerfile"), "--format", "json")
    found = {(f["code"], f["line"]) for f in json.loads(out)}
    assert {("DL3006", 1), ("DL3003", 2), ("DL3004", 2)} <= found
    assert code == 1


def test_ignore_and_threshold(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM debian:12\nUSER 1000\nRUN cd /x\n")
    assert run(str(tmp_path))[0] == 1
    assert run(str(tmp_path), "--ignore", "DL3003")[0] == 0
    assert run(str(tmp_path), "--failure-threshold", "error")[0] == 0


def test_unknown_rule_and_missing_file(tmp_path: Path) -> None:
    code, out = run(str(tmp_path), "--ignore", "DL9999")
    assert code != 0 and "Error: unknown rule" in out and "Traceback" not in out
    code, out = run("-f", str(tmp_path / "nope"))
    assert code != 0 and "Error:" in out and "Traceback" not in out


def test_unparsable_dockerfile_is_one_error(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM a:1\nENV PATH\n")
    code, out = run(str(tmp_path), "--format", "json")
    assert [(f["code"], f["line"]) for f in json.loads(out)] == [("DY0000", 2)]
    assert code == 1


def test_context_config_file_is_read(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM debian:12\nUSER 1000\nRUN cd /x\n")
    (tmp_path / ".dockyard-lint.yaml").write_text("ignored: [DL3003]\n")
    assert run(str(tmp_path))[0] == 0


def test_checkstyle_is_xml(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM debian\n")
    _, out = run(str(tmp_path), "--format", "checkstyle")
    errors = ET.fromstring(out).findall("./file/error")
    assert any(e.get("source") == "DL3006" and e.get("line") == "1" for e in errors)


# The parts of SARIF 2.1.0 consumers rely on, written down from the specification. Set
# DOCKYARD_SARIF_SCHEMA to the official sarif-schema-2.1.0.json to validate against it instead.
SARIF_SUBSET = {
    "type": "object",
    "required": ["version", "runs"],
    "properties": {
        "version": {"const": "2.1.0"},
        "runs": {"type": "array", "items": {
            "type": "object", "required": ["tool"],
            "properties": {
                "tool": {"type": "object", "required": ["driver"], "properties": {
                    "driver": {"type": "object", "required": ["name"], "properties": {
                        "name": {"type": "string"},
                        "rules": {"type": "array", "items": {
                            "type": "object", "required": ["id"]}}}}}},
                "results": {"type": "array", "items": {
                    "type": "object", "required": ["message"],
                    "properties": {
                        "level": {"enum": ["none", "note", "warning", "error"]},
                        "message": {"type": "object", "required": ["text"]},
                        "ruleIndex": {"type": "integer", "minimum": 0},
                        "locations": {"type": "array", "items": {"type": "object", "properties": {
                            "physicalLocation": {"type": "object", "properties": {
                                "region": {"type": "object", "properties": {
                                    "startLine": {"type": "integer", "minimum": 1},
                                    "startColumn": {"type": "integer", "minimum": 1},
                                }}}}}}}}}}}}},
    },
}


def test_sarif_validates(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM debian\nRUN apt-get install curl\n")
    _, out = run(str(tmp_path), "--format", "sarif")
    doc = json.loads(out)
    schema_path = os.environ.get("DOCKYARD_SARIF_SCHEMA")
    schema = json.loads(Path(schema_path).read_text()) if schema_path else SARIF_SUBSET
    jsonschema.validate(doc, schema)
    run0 = doc["runs"][0]
    rules = run0["tool"]["driver"]["rules"]
    for result in run0["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    assert any(r["ruleId"] == "DL3008" for r in run0["results"])


@pytest.mark.parametrize("fmt", ["tty", "json", "sarif", "checkstyle"])
def test_clean_dockerfile_exits_zero(tmp_path: Path, fmt: str) -> None:
    (tmp_path / "Dockerfile").write_text(
        'FROM python:3.12-slim\nWORKDIR /app\nCOPY app.py .\nUSER 1000\nCMD ["python", "app.py"]\n'
    )
    (tmp_path / "app.py").write_text("")
    code, _ = run(str(tmp_path), "--format", fmt)
    assert code == 0
