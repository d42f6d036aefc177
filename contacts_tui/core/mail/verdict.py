"""The relay's verdict on one copy of a message: what it did, why, and whom it added.

The relay builds one per copy, once, on its way through a message
(``relay.server.decision.judge``); the relay log and the captured message
store it as it is, and metrics, ``preview``, the ``log`` command and the TUI
read it from there. Its words live here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .added import ContactPersonAdded
from .status import Decision

NO_CATEGORY = "no notification category header"
"""Why a message without the category header passed unchanged (the resolver says it too)."""

ALREADY_RECIPIENTS = "everyone opted in is already a recipient"


class Label(StrEnum):
    """The metric label of a verdict: which counter counts the message, under what word.

    ``contacts_relay_messages_rewritten_total{added_to=...}``,
    ``..._unchanged_total{reason=...}`` and ``..._refused_total{reason=...}``
    take their label values from here (see ``counter``).
    """

    # Rewritten: where the people added went.
    CC = "cc"
    ENVELOPE = "envelope"
    # Unchanged: why nobody was added.
    NO_CATEGORY = "no_category"
    UNKNOWN_CATEGORY = "unknown_category"
    NO_CUSTOMER = "no_customer"
    INACTIVE = "inactive"
    NOBODY_OPTED_IN = "nobody_opted_in"
    ALREADY_RECIPIENTS = "already_recipients"
    # Refused: every 4xx/5xx the relay gives at DATA and before.
    ACCESS = "access"
    ADDRESS = "address"
    RECIPIENTS = "recipients"
    SIZE = "size"
    LINE = "line"
    HEADERS = "headers"
    LOOP = "loop"
    DIRECTORY = "directory"
    STORAGE = "storage"
    CHAOS = "chaos"

    @property
    def counter(self) -> str:
        """Which message counter takes this label: "rewritten", "unchanged" or "refused"."""
        if self in (Label.CC, Label.ENVELOPE):
            return "rewritten"
        return "unchanged" if self in _UNCHANGED else "refused"


_UNCHANGED = frozenset(
    {
        Label.NO_CATEGORY,
        Label.UNKNOWN_CATEGORY,
        Label.NO_CUSTOMER,
        Label.INACTIVE,
        Label.NOBODY_OPTED_IN,
        Label.ALREADY_RECIPIENTS,
    }
)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the relay did with one copy of a message, and why.

    ``reason`` is the sentence the log, ``preview`` and the TUI show (for a
    message a tagging rule gave its category, it starts with the rule's words:
    "tagged billing by rule 3: Subject contains 'Factuur'"); ``added`` the
    people added, in order; ``tagged_by`` that rule ("rule 3: Subject contains
    'Factuur'"; "" when the category came from the header, or none did).
    ``label`` is the metric label; a verdict read back from the relay log has
    none (the log keeps the decision and the sentence, not the label).
    """

    decision: Decision | str = ""
    reason: str = ""
    added: tuple[ContactPersonAdded, ...] = ()
    label: Label | None = None
    tagged_by: str = ""

    @property
    def tagged(self) -> bool:
        """Whether a tagging rule gave the message its category (it had no category header)."""
        return bool(self.tagged_by)

    @property
    def changed(self) -> bool:
        """Whether the relay added anyone."""
        return bool(self.added)
