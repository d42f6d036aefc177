"""An SMTP reply, and what it means for a recipient.

One type for every reply the relay handles: the upstream's (read by the SMTP
client), a local stand-in for one (a refused connection), and what the queue
records per recipient. It is stored as its one-line text and read back with
``Reply.parse``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Outcome = Literal["accepted", "temporary", "permanent"]
_STATUS = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})(?=\s|$)")
_CODED = re.compile(r"^([2-5]\d\d) (.*)$", re.S)

# RFC 3463: "delivery time expired". An expired recipient is reported with it,
# whatever the last temporary reply was; that reply is the diagnostic.
EXPIRED_STATUS = "4.4.7"


@dataclass(frozen=True, slots=True)
class Reply:
    """An SMTP reply, or a local stand-in for one (``code`` None, e.g. connection refused).

    ``text`` keeps the lines of a multi-line reply joined with newlines (the
    EHLO keywords are read from them); ``str()`` is the reply on one line,
    for logs, the queue listing and a DSN's Diagnostic-Code. Local texts start
    with an enhanced status code like real ones ("4.4.1 connect to ... failed"),
    which tells their outcome and lets ``status`` treat both alike.
    """

    code: int | None
    text: str

    @classmethod
    def local(cls, text: str) -> Reply:
        return cls(None, text)

    @classmethod
    def parse(cls, line: str) -> Reply:
        """A reply as ``str()`` wrote it."""
        match = _CODED.match(line)
        return cls(int(match.group(1)), match.group(2)) if match else cls(None, line)

    @property
    def outcome(self) -> Outcome:
        if self.code is None:
            return "permanent" if self.text.startswith("5.") else "temporary"
        if 200 <= self.code < 300:
            return "accepted"
        return "permanent" if 500 <= self.code < 600 else "temporary"

    @property
    def status(self) -> str:
        """The RFC 3463 status code, from the text or else from the reply class."""
        match = _STATUS.match(self.text)
        if match:
            return ".".join(match.groups())
        if self.code is not None and 200 <= self.code < 600:
            return f"{self.code // 100}.0.0"
        return "5.0.0" if self.outcome == "permanent" else "4.0.0"

    def __str__(self) -> str:
        text = " ".join(self.text.split())
        return f"{self.code} {text}" if self.code is not None else text


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a recipient failed for good: the reply that decided it, and whether its time ran out."""

    reply: Reply
    expired: bool = False

    @property
    def status(self) -> str:
        """The DSN status code: 4.4.7 for an expired recipient, else the reply's."""
        return EXPIRED_STATUS if self.expired else self.reply.status
