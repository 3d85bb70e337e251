"""BuildKit's shell lexer fixtures (envVarTest, wordsTest, shell-extra.json) run against ShellLexer."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from dockyard.dockerfile.shell import ShellExpansionError, ShellLexer, build_envs

CONFORMANCE = Path(
    os.environ.get(
        "DOCKYARD_CONFORMANCE", Path(__file__).resolve().parents[4] / "shared" / "conformance"
    )
)
SHELL_DIR = CONFORMANCE / "buildkit-shell"
ENV_VAR_TEST_ENV = {"PWD": "/home", "SHELL": "bash", "KOREAN": "한국어", "NULL": ""}


def _env_var_cases() -> list[Any]:
    path = SHELL_DIR / "envVarTest"
    if not path.exists():
        return []
    cases = []
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if line.startswith("#") or not line.strip():
            continue
        fields = line.strip().split("|")
        assert len(fields) == 3, f"envVarTest line {lineno} has {len(fields)} fields"
        platform, source, expected = (f.strip() for f in fields)
        marks = []
        if platform == "W":
            marks.append(
                pytest.mark.skip(reason="Windows-only: variable names are case-insensitive there")
            )
        cases.append(pytest.param(source, expected, id=f"L{lineno}-{platform}", marks=marks))
    return cases


def _words_cases() -> list[Any]:
    path = SHELL_DIR / "wordsTest"
    if not path.exists():
        return []
    env: dict[str, str] = {}
    cases = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        if line.startswith("#") or line == "":
            continue
        if line.startswith("ENV "):
            name, _, value = line[3:].lstrip(" ").partition("=")
            env[name] = value
            continue
        left, sep, right = line.partition("|")
        assert sep and "|" not in right, f"wordsTest line {lineno} needs exactly one |"
        expected = right.lstrip(" ").split(",")
        cases.append(pytest.param(left.strip(), dict(env), expected, id=f"L{lineno}"))
    return cases


def _extra() -> dict[str, Any]:
    path = SHELL_DIR / "shell-extra.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


EXTRA = _extra()


@pytest.mark.parametrize(("source", "expected"), _env_var_cases())
def test_env_var_fixture(source: str, expected: str) -> None:
    lexer = ShellLexer("\\")
    if expected == "error":
        with pytest.raises(ShellExpansionError):
            lexer.process_word(source, ENV_VAR_TEST_ENV)
    else:
        assert lexer.process_word(source, ENV_VAR_TEST_ENV) == expected


@pytest.mark.parametrize(("source", "env", "expected"), _words_cases())
def test_words_fixture(source: str, env: dict[str, str], expected: list[str]) -> None:
    lexer = ShellLexer("\\")
    if expected == ["error"]:
        with pytest.raises(ShellExpansionError):
            lexer.process_words(source, env)
    else:
        assert lexer.process_words(source, env) == expected


@pytest.mark.parametrize(
    "case",
    EXTRA.get("process_word_with_matches", {}).get("cases", []),
    ids=lambda c: c["input"],
)
def test_process_word_with_matches(case: dict[str, Any]) -> None:
    lexer = ShellLexer("\\")
    if case["expected_error"]:
        with pytest.raises(ShellExpansionError):
            lexer.process_word_with_matches(case["input"], case["envs"])
        return
    result, matched, unmatched = lexer.process_word_with_matches(case["input"], case["envs"])
    assert result == case["expected"]
    assert matched == set(case["matches"])
    assert unmatched == set(case["unmatched"])


@pytest.mark.parametrize(
    "case", EXTRA.get("mandatory_vars", {}).get("cases", []), ids=lambda c: repr(c["env"])
)
def test_mandatory_vars(case: dict[str, Any]) -> None:
    lexer = ShellLexer("\\")
    env = build_envs(case["env"])
    if "error_contains" in case:
        with pytest.raises(ShellExpansionError) as info:
            lexer.process_word(case["input"], env)
        assert case["error_contains"] in str(info.value)
    else:
        assert lexer.process_word(case["input"], env) == case["expected"]


@pytest.mark.parametrize(
    "case", EXTRA.get("platform_release_name", {}).get("cases", []), ids=lambda c: repr(c["env"])
)
def test_nested_alternate_value(case: dict[str, Any]) -> None:
    word = EXTRA["platform_release_name"]["input"]
    assert ShellLexer().process_word(word, case["env"]) == case["expected"]


@pytest.mark.parametrize(
    "case", EXTRA.get("env_list_semantics", {}).get("cases", []), ids=lambda c: repr(c["env"])
)
def test_env_list_semantics(case: dict[str, Any]) -> None:
    assert build_envs(case["env"]).get(case["lookup"], "") == case["value"]
    assert ShellLexer().process_word("$" + case["lookup"], build_envs(case["env"])) == case["value"]
