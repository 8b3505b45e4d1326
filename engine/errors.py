"""Errors the user sees as one line (``alsate: ...``) and an exit code."""

from __future__ import annotations


class UserError(Exception):
    """Bad input or environment: printed as one line, exit code ``exit_code``."""

    exit_code = 2

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class SourceError(UserError):
    """A log source cannot be opened or read."""

    exit_code = 1
