"""What the relay log says the relay did with a message, and why."""

from __future__ import annotations

from contacts_tui.core.mail.relay_log import LogEntry
from contacts_tui.core.mail.status import Decision
from contacts_tui.core.records import Resolution

from ..rewrite import RewriteResult


def describe(entry: LogEntry, category: str | None, resolution: Resolution | None, result: RewriteResult) -> None:
    """Fill the log entry with the decision, who was added, and the reasons."""
    if resolution is not None:
        entry.category_key = resolution.category or ""
        entry.customers = tuple(c.email for c in resolution.customers)
    added = []
    for copy in result.copies:
        person = copy.person
        item = {"email": person.email, "name": person.name, "customer": person.customer_email, "reason": person.reason}
        added.append(item | ({"sent": copy.address} if copy.address != person.email else {}))
    entry.added = tuple(added)
    notes = list(resolution.notes) if resolution else []
    notes += [
        f"{copy.person.email} written as {copy.address}: the sender did not use SMTPUTF8"
        for copy in result.copies
        if copy.address != copy.person.email
    ]
    notes += [f"{address} not added: {why}" for address, why in result.skipped]
    if not (result.cc_locked_by_dkim or result.cc_malformed):
        notes += [
            f"{copy.address} added to the envelope only: the address needs SMTPUTF8, which the sender did not use"
            for copy in result.copies
            if not copy.in_header
        ]
    if category is None:
        entry.decision, reason = Decision.UNCHANGED, "no notification category header"
    elif not result.copies:
        entry.decision = Decision.UNCHANGED
        reason = (
            resolution.reason if resolution and not resolution.additions else "everyone opted in is already a recipient"
        )
    elif result.cc_locked_by_dkim:
        entry.decision = Decision.ENVELOPE_ONLY
        reason = f"{resolution.reason}; a DKIM signature covers Cc, so they were added to the envelope only"
    elif result.cc_malformed:
        entry.decision = Decision.ENVELOPE_ONLY
        reason = (
            f"{resolution.reason}; the message's Cc field is malformed (something in it is not closed), "
            "so they were added to the envelope only"
        )
    else:
        entry.decision, reason = Decision.REWRITTEN, resolution.reason
    entry.reason = "; ".join([reason, *notes])
