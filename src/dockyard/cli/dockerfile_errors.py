"""How the CLI shows a Dockerfile syntax error: `Error: FILE:LINE:COL: ...`, the source line(s)
numbered, a caret under the column with what was expected, and the hint (shared by
`dockyard build` and `dockyard dockerfile parse`)."""

from __future__ import annotations

import click

from dockyard.dockerfile.errors import DockerfileSyntaxError


def _caret_position(text: str, column: int) -> tuple[int, int]:
    """(index of the line within `text`, 0-based column in it) for a 1-based column counted
    over the whole (possibly multi-line, continued) instruction text."""
    offset = max(column - 1, 0)
    lines = text.splitlines(keepends=True) or [""]
    for index, line in enumerate(lines):
        if offset < len(line) or index == len(lines) - 1:
            return index, min(offset, len(line.rstrip("\r\n")))
        offset -= len(line)
    return 0, 0


def excerpt_lines(exc: DockerfileSyntaxError) -> list[str]:
    """The numbered source lines of the error with a caret line (and `expected ...`) under the
    one holding the column; empty when the error carries no source text."""
    if not exc.line_text:
        return []
    lines = exc.line_text.splitlines() or [""]
    at, col = _caret_position(exc.line_text, exc.column)
    width = max(4, len(str(exc.line + len(lines) - 1)))
    out = []
    for index, text in enumerate(lines):
        out.append(f"  {exc.line + index:>{width}} | {text}")
        if index == at:
            expected = f" expected {exc.expected}" if exc.expected else ""
            out.append(f"  {'':>{width}} | {' ' * col}^{expected}")
    return out


def format_syntax_error(exc: DockerfileSyntaxError) -> list[str]:
    """Every line shown for the error: `Error: ...`, the excerpt, `Hint: ...`."""
    out = [f"Error: {exc.message}", *excerpt_lines(exc)]
    if exc.hint:
        out.append(f"Hint: {exc.hint}")
    return out


def report_syntax_error(exc: DockerfileSyntaxError) -> None:
    """Write the error to stderr (the caller exits with `exc.exit_code`)."""
    for line in format_syntax_error(exc):
        click.echo(line, err=True)
