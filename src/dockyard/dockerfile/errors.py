"""DockerfileSyntaxError: a Dockerfile problem located at file:line:column, with the line shown."""

from __future__ import annotations

from dockyard.errors import InvalidArgument


class DockerfileSyntaxError(InvalidArgument):
    """A Dockerfile that cannot be parsed or turned into instructions.

    `str()` is `Dockerfile:LINE:COL: message`; `line_text` is the offending source line and
    `expected` says what would have been accepted (may be empty).
    """

    code = "dockerfile_syntax"
    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        filename: str = "Dockerfile",
        line: int = 0,
        column: int = 1,
        line_text: str = "",
        expected: str = "",
        hint: str | None = None,
    ) -> None:
        self.reason = message
        self.filename = filename
        self.line = line
        self.column = column
        self.line_text = line_text
        self.expected = expected
        super().__init__(f"{filename}:{line}:{column}: {message}", hint)


class LocalError(Exception):
    """Raised inside the parser helpers before the location is known; parse() converts it."""

    def __init__(self, message: str, expected: str = "", needle: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.expected = expected
        self.needle = needle  # text to look for in the line to point the column at
