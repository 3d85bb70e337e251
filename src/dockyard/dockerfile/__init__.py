"""Dockerfile front-end: parse text into a syntax tree, then into typed instructions and stages.

The names below are loaded on first use (PEP 562 module `__getattr__`), so importing one
submodule (e.g. `dockyard.dockerfile.ignore` for a build context) does not import the parser
and every instruction class.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dockyard.dockerfile.ast import Heredoc, Node, ParseResult, Warning
    from dockyard.dockerfile.errors import DockerfileSyntaxError
    from dockyard.dockerfile.parser import parse, parse_file
    from dockyard.dockerfile.stages import Dockerfile, Stage, build_stages, load, stages_needed

_WHERE: dict[str, str] = {
    "Dockerfile": "stages",
    "DockerfileSyntaxError": "errors",
    "Heredoc": "ast",
    "Node": "ast",
    "ParseResult": "ast",
    "Stage": "stages",
    "Warning": "ast",
    "build_stages": "stages",
    "load": "stages",
    "parse": "parser",
    "parse_file": "parser",
    "stages_needed": "stages",
}

__all__ = [
    "Dockerfile",
    "DockerfileSyntaxError",
    "Heredoc",
    "Node",
    "ParseResult",
    "Stage",
    "Warning",
    "build_stages",
    "load",
    "parse",
    "parse_file",
    "stages_needed",
]


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'dockyard.dockerfile' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"dockyard.dockerfile.{where}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
