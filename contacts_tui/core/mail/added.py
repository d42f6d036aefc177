"""Who the relay added to a message, and why: one typed record, one JSON form.

The relay builds these once per copy (in its verdict); the relay log and the
captured message store them as JSON through ``to_json``, and every reader
gets them back through ``from_json``, so a change of what the relay records
about a person changes this module only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..models import CapturedMessage


@dataclass(frozen=True, slots=True)
class ContactPersonAdded:
    """A contact person the relay added to a message, and why."""

    email: str
    name: str = ""
    customer: str = ""
    """The primary email of the customer whose contact person this is."""
    reason: str = ""
    sent: str = ""
    """The address as it went out: ``email``, or its xn-- form for a sender without SMTPUTF8."""

    def __post_init__(self) -> None:
        if not self.sent:
            object.__setattr__(self, "sent", self.email)

    @property
    def label(self) -> str:
        """ "Name <email>", or the address alone."""
        return f"{self.name} <{self.email}>" if self.name else self.email

    def as_json(self) -> dict[str, str]:
        """The stored form: "sent" only where it differs from "email" (as the relay has always written it)."""
        data = {"email": self.email, "name": self.name, "customer": self.customer, "reason": self.reason}
        return data | ({"sent": self.sent} if self.sent != self.email else {})

    @classmethod
    def of(cls, item: Any) -> ContactPersonAdded | None:
        """A stored item back as a record (None for something that is not one)."""
        if not isinstance(item, dict):
            return None
        email = str(item.get("email", ""))
        return cls(
            email,
            str(item.get("name", "")),
            str(item.get("customer", "")),
            str(item.get("reason", "")),
            str(item.get("sent") or email),
        )


def to_json(people: tuple[ContactPersonAdded, ...]) -> str:
    """The ``added`` column of the relay log and of a captured message."""
    return json.dumps([person.as_json() for person in people], ensure_ascii=False)


def from_json(text: str) -> tuple[ContactPersonAdded, ...]:
    """The ``added`` column read back; whatever is not a stored person is left out."""
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return ()
    if not isinstance(value, list):
        return ()
    return tuple(person for person in map(ContactPersonAdded.of, value) if person is not None)


def added_matches(word: str):
    """A condition on captured messages: ``word`` is in the name or address of someone added."""
    return CapturedMessage.added.contains(word)
