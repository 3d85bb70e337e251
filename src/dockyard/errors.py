"""The few error kinds dockyard raises, keyed by what the caller does about them."""

from __future__ import annotations


class DockyardError(Exception):
    """Base of every error dockyard reports to a user: one line, an optional hint."""

    code = "error"
    exit_code = 125

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class NotFound(DockyardError):
    code = "not_found"


class AlreadyExists(DockyardError):
    code = "already_exists"


class InvalidArgument(DockyardError):
    code = "invalid_argument"


class Conflict(DockyardError):
    code = "conflict"


class Unavailable(DockyardError):
    code = "unavailable"
