"""Dockerfile front-end: parse text into a syntax tree, then into typed instructions and stages."""

from __future__ import annotations

from dockyard.dockerfile.ast import Heredoc, Node, ParseResult, Warning
from dockyard.dockerfile.errors import DockerfileSyntaxError
from dockyard.dockerfile.parser import parse, parse_file
from dockyard.dockerfile.stages import Dockerfile, Stage, build_stages, load, stages_needed

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
