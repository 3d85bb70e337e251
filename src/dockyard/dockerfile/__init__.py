"""Dockerfile front-end: parse text into a syntax tree, then into typed instructions and stages."""

from __future__ import annotations

from dockyard.dockerfile.ast import Heredoc, Node, ParseResult, Warning
from dockyard.dockerfile.errors import DockerfileSyntaxError
from dockyard.dockerfile.parser import parse, parse_file

__all__ = [
    "DockerfileSyntaxError",
    "Heredoc",
    "Node",
    "ParseResult",
    "Warning",
    "parse",
    "parse_file",
]
