"""What the relay log says the relay did with each copy of a message, and why."""

from __future__ import annotations

from contacts_tui.core.mail.relay_log import LogEntry
from contacts_tui.core.mail.status import Decision
from contacts_tui.core.records import Resolution
from contacts_tui.core.tagging.engine import NO_RULES, Tagging

from ..rewrite import CopyPlan


def describe(
    entry: LogEntry,
    category: str | None,
    resolution: Resolution | None,
    plan: CopyPlan,
    tagging: Tagging = NO_RULES,
) -> None:
    """Fill one copy's log entry with the decision, who was added, and the reasons.

    ``tagging``: what the tagging rules said of a message without a category header.
    """
    audience = plan.audience
    if resolution is not None:
        entry.category_key = resolution.category or ""
    entry.customers = tuple(customer.email for customer in audience.customers)
    added = []
    for one in plan.added:
        person = one.person
        item = {"email": person.email, "name": person.name, "customer": person.customer_email, "reason": person.reason}
        added.append(item | ({"sent": one.address} if one.address != person.email else {}))
    entry.added = tuple(added)
    notes = list(audience.notes)
    notes += [
        f"{one.person.email} written as {one.address}: the sender did not use SMTPUTF8"
        for one in plan.added
        if one.address != one.person.email
    ]
    notes += [f"{address} not added: {why}" for address, why in plan.skipped]
    if not (plan.cc_locked_by_dkim or plan.cc_malformed):
        notes += [
            f"{one.address} added to the envelope only: the address needs SMTPUTF8, which the sender did not use"
            for one in plan.added
            if not one.in_header
        ]
    why = audience.reason or (resolution.reason if resolution else "")
    if category is None:
        entry.decision, reason = Decision.UNCHANGED, "no notification category header"
        reason += tagging.untagged()
    elif not plan.added:
        entry.decision = Decision.UNCHANGED
        reason = why or "everyone opted in is already a recipient"
    elif plan.cc_locked_by_dkim:
        entry.decision = Decision.ENVELOPE_ONLY
        reason = f"{why}; a DKIM signature covers Cc, so they were added to the envelope only"
    elif plan.cc_malformed:
        entry.decision = Decision.ENVELOPE_ONLY
        reason = (
            f"{why}; the message's Cc field is malformed (something in it is not closed), "
            "so they were added to the envelope only"
        )
    else:
        entry.decision, reason = Decision.REWRITTEN, why
    entry.reason = "; ".join([*tagging.reasons(), reason, *notes])
