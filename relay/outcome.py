"""What a delivery attempt reports: an SMTP reply per recipient.

Shared by the upstream client (which produces them), the scheduler (which acts
on them) and anything else that can deliver mail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Outcome = Literal["accepted", "temporary", "permanent"]
_STATUS = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})(?=\s|$)")


@dataclass(frozen=True, slots=True)
class Reply:
    """An SMTP reply, or a local stand-in for one (``code`` None, e.g. connection refused).

    Local texts start with an enhanced status code like real ones, so that
    ``status`` and the DSN can treat both alike.
    """

    code: int | None
    text: str
    outcome: Outcome

    @classmethod
    def from_code(cls, code: int, text: str) -> Reply:
        # Multi-line replies arrive joined with newlines; keep them on one line
        # for logs, the queue listing and the DSN's Diagnostic-Code.
        text = " ".join(text.split())
        outcome: Outcome = "accepted" if 200 <= code < 300 else ("permanent" if 500 <= code < 600 else "temporary")
        return cls(code, text, outcome)

    @classmethod
    def local(cls, text: str, outcome: Outcome = "temporary") -> Reply:
        return cls(None, text, outcome)

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
        return f"{self.code} {self.text}" if self.code is not None else self.text


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """Per-recipient outcomes of one transaction; ``data_reply`` is the reply to DATA, if it got that far."""

    replies: dict[str, Reply]
    data_reply: Reply | None = None

    def with_outcome(self, outcome: Outcome) -> list[str]:
        return [rcpt for rcpt, reply in self.replies.items() if reply.outcome == outcome]

    @property
    def accepted(self) -> list[str]:
        return self.with_outcome("accepted")

    @property
    def temporary(self) -> list[str]:
        return self.with_outcome("temporary")

    @property
    def permanent(self) -> list[str]:
        return self.with_outcome("permanent")
