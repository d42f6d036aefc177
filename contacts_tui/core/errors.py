"""Typed errors of the contact directory.

Every error a user can cause names the field it is about and says what to do,
so the TUI can show it next to the field, the CLI next to a CSV line, and the
relay in its log.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one field; ``field`` is None for the record as a whole."""

    field: str | None
    message: str


class DirectoryError(Exception):
    """Base of every error the directory raises on purpose."""


class ValidationError(DirectoryError):
    """Input broke one or more directory rules; nothing was written."""

    def __init__(self, errors: list[FieldError] | tuple[FieldError, ...], subject: str | None = None):
        self.errors = tuple(errors)
        self.subject = subject
        super().__init__(self._render())

    @classmethod
    def single(cls, field: str | None, message: str, subject: str | None = None) -> ValidationError:
        return cls([FieldError(field, message)], subject)

    def for_field(self, field: str | None) -> list[str]:
        return [e.message for e in self.errors if e.field == field]

    def _render(self) -> str:
        # Messages are whole sentences that name their field already.
        text = "; ".join(error.message for error in self.errors)
        return f"{self.subject}: {text}" if self.subject else text


class LimitReached(ValidationError):
    """The customer already has the maximum number of active contact persons."""


class NotFound(DirectoryError):
    """The customer or contact person does not exist (any more)."""


class PortalClosed(NotFound):
    """The customer's portal session ended: its sign-in was turned off, the
    customer removed, or the session timed out or was signed out."""


class TooManyCodes(DirectoryError):
    """An address asked for more sign-in codes than the limit allows; it may ask again at ``next_code_at``."""

    def __init__(self, message: str, next_code_at: dt.datetime):
        super().__init__(message)
        self.next_code_at = next_code_at


class DatabaseUnavailable(DirectoryError):
    """The database cannot be opened or reached; the text says which and why."""


class SchemaTooNew(DatabaseUnavailable):
    """The database was migrated by a newer version of this program."""


class ForeignSchema(DatabaseUnavailable):
    """The database holds tables of another program under our names."""


class CatalogError(DirectoryError):
    """The notification catalog file cannot be used; the text says where and why."""
