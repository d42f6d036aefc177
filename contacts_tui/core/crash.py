"""A crash of a program that faces customers: they get one line with a
reference, the log gets the details under the same reference.

A traceback on a customer's screen tells them nothing they can act on, and
tells a stranger the install paths, the versions and the values of local
variables. The reference lets whoever runs the portal find the details.
"""

from __future__ import annotations

import logging
import secrets

from .wording import Phrase

log = logging.getLogger("contacts_tui.crash")


def report_crash(error: BaseException | None, details: str = "") -> str:
    """Log ``error`` (its traceback) or ``details`` under a new reference; return the reference."""
    reference = secrets.token_hex(4).upper()
    if error is not None:
        log.error(
            "crash %s: %s: %s",
            reference,
            type(error).__name__,
            error,
            exc_info=(type(error), error, error.__traceback__),
        )
    else:
        log.error("crash %s: %s", reference, details)
    return reference


def crash_line(reference: str, out_of_memory: bool = False) -> str:
    """What the customer reads (one line at 80 columns): what happened, that
    nothing saved is lost, and the reference."""
    if out_of_memory:
        return Phrase(
            "Out of memory: the session ended. What you saved is kept. Reference: {reference}", reference=reference
        )
    return Phrase("The portal stopped on an error. What you saved is kept. Reference: {reference}", reference=reference)
