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


def sarif_validator() -> jsonschema.protocols.Validator:
    """A validator for the official SARIF 2.1.0 schema, with `uri` formats checked.

    `scripts/install-deps.sh test` (run by `make test`) caches the schema; DOCKYARD_SARIF_SCHEMA
    names another copy.
    """
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    path = Path(os.environ.get("DOCKYARD_SARIF_SCHEMA") or cache / "dockyard/sarif-schema-2.1.0.json")
    if not path.is_file():
        pytest.fail(f"SARIF 2.1.0 schema not at {path}: run `bash scripts/fetch-sarif-schema.sh`")
    schema = json.loads(path.read_text())
    assert schema["$id"].endswith("/sarif-schema-2.1.0.json")
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


@pytest.mark.parametrize(
    ("name", "text", "rule"),
    [
        ("Dockerfile", "FROM debian\nRUN apt-get install curl\n", "DL3008"),
        ("my app.Dockerfile", "FROM a:1\nENV PATH\n", "DY0000"),
    ],
)
def test_sarif_validates_against_the_official_schema(
    tmp_path: Path, name: str, text: str, rule: str
) -> None:
    validator = sarif_validator()
    (tmp_path / name).write_text(text)
    for target in (tmp_path / name, Path(os.path.relpath(tmp_path / name))):
        _, out = run(str(tmp_path), "-f", str(target), "--format", "sarif")
        doc = json.loads(out)
        errors = [e.message for e in validator.iter_errors(doc)]
        assert not errors, errors
        run0 = doc["runs"][0]
        rules = run0["tool"]["driver"]["rules"]
        for result in run0["results"]:
            assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert any(r["ruleId"] == rule for r in run0["results"])
    # The schema is strict enough to catch what a consumer would choke on.
    doc["runs"][0]["results"][0]["level"] = "fatal"
    assert not validator.is_valid(doc)


@pytest.mark.parametrize("fmt", ["tty", "json", "sarif", "checkstyle"])
def test_clean_dockerfile_exits_zero(tmp_path: Path, fmt: str) -> None:
    (tmp_path / "Dockerfile").write_text(
        'FROM python:3.12-slim\nWORKDIR /app\nCOPY app.py .\nUSER 1000\nCMD ["python", "app.py"]\n'
    )
    (tmp_path / "app.py").write_text("")
    code, _ = run(str(tmp_path), "--format", fmt)
    assert code == 0
