"""BuildKit-named checks: each one fires on a Dockerfile that breaks it and not on a fixed one."""

from __future__ import annotations

from collections.abc import Callable

import pytest

CASES = [
    ("JSONArgsRecommended", "FROM a:1\nCMD python app.py\n", 'FROM a:1\nCMD ["python", "app.py"]\n'),
    ("StageNameCasing", "FROM a:1 AS Build\n", "FROM a:1 AS build\n"),
    ("FromAsCasing", "FROM a:1 as build\n", "FROM a:1 AS build\n"),
    ("DuplicateStageName", "FROM a:1 AS x\nFROM b:1 AS x\n", "FROM a:1 AS x\nFROM b:1 AS y\n"),
    ("ReservedStageName", "FROM a:1 AS scratch\n", "FROM a:1 AS base\n"),
    ("UndefinedVar", "FROM a:1\nCOPY $SRC /app\n", "FROM a:1\nARG SRC=.\nCOPY $SRC /app\n"),
    ("UndefinedArgInFrom", "FROM alpine:$TAG\n", "ARG TAG=3.20\nFROM alpine:$TAG\n"),
    ("MultipleInstructionsDisallowed", "FROM a:1\nCMD [\"a\"]\nCMD [\"b\"]\n",
     "FROM a:1\nCMD [\"b\"]\n"),
    ("WorkdirRelativePath", "FROM a:1\nWORKDIR app\n", "FROM a:1\nWORKDIR /srv\nWORKDIR app\n"),
    ("SecretsUsedInArgOrEnv", "FROM a:1\nARG GITHUB_TOKEN\n", "FROM a:1\nARG GITHUB_USER\n"),
    ("MaintainerDeprecated", "FROM a:1\nMAINTAINER me\n", "FROM a:1\nLABEL org.x=me\n"),
    ("ConsistentInstructionCasing", "FROM a:1\nrun true\nCOPY . /\n", "FROM a:1\nRUN true\n"),
    ("LegacyKeyValueFormat", "FROM a:1\nENV A b\n", "FROM a:1\nENV A=b\n"),
    ("InvalidDefaultArgInFrom", "ARG TAG\nFROM alpine:${TAG}\n", "ARG TAG=3.20\nFROM alpine:${TAG}\n"),
    ("FromPlatformFlagConstDisallowed", "FROM --platform=linux/amd64 a:1\n",
     "FROM --platform=linux/amd64 a:1 AS build-amd64\n"),
    ("RedundantTargetPlatform", "FROM --platform=$TARGETPLATFORM a:1\n",
     "FROM --platform=$BUILDPLATFORM a:1\n"),
]


@pytest.mark.parametrize(("rule", "bad", "good"), CASES, ids=[c[0] for c in CASES])
def test_buildkit_rule(codes: Callable[..., list[str]], rule: str, bad: str, good: str) -> None:
    from dockyard.lint.config import LintConfig

    # Rules that repeat a hadolint rule show only when that rule is switched off.
    config = LintConfig(ignored={"DL3025", "DL3024", "DL3063", "DL3064", "DL4000", "DL3029",
                                 "DL3065"})
    assert rule in codes(bad, config), bad
    assert rule not in codes(good, config), good


def test_same_line_duplicate_is_shown_once(codes: Callable[..., list[str]]) -> None:
    found = codes("FROM a:1\nCMD python app.py\n")
    assert "DL3025" in found and "JSONArgsRecommended" not in found
