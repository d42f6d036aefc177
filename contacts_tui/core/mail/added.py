"""Who the relay added to a captured message, and why: read in one place.

Everything that shows, counts or searches the people a captured message
was copied to asks here, so a change of how the relay records its decision
changes this module only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..models import CapturedMessage

if TYPE_CHECKING:
    from .relay_log import CapturedRecord


@dataclass(frozen=True, slots=True)
class ContactPersonAdded:
    """A contact person the relay added to a message, and why."""

    email: str
    name: str
    customer: str
    reason: str
    sent: str
    """The address as it went out: ``email``, or its xn-- form for a sender without SMTPUTF8."""


def contact_persons(record: CapturedRecord) -> tuple[ContactPersonAdded, ...]:
    """Who the relay added to a captured message, and why, in the order it added them."""
    people = []
    for item in record.added:
        if not isinstance(item, dict):
            continue
        address = str(item.get("email", ""))
        people.append(
            ContactPersonAdded(
                address,
                str(item.get("name", "")),
                str(item.get("customer", "")),
                str(item.get("reason", "")),
                str(item.get("sent") or address),
            )
        )
    return tuple(people)


def added_matches(word: str):
    """A condition on captured messages: ``word`` is in the name or address of someone added."""
    return CapturedMessage.added.contains(word)
