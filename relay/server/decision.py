"""What the relay does with a message, and why: the steps ``serve`` and ``preview`` share.

``read`` takes the message as DATA ended (line ends as the upstream will
read them, the header block parsed once, the refusal of a header block the
relay will not carry); ``read_category`` finds its category; the directory
answers whom to add; ``plan`` splits it into copies and gives each its
``Verdict``. ``judge`` is the one place that says why a copy passed
unchanged, or whom it added and where, and which tagging rule gave a
message without a category header its category.
"""

from __future__ import annotations

from dataclasses import dataclass

from contacts_tui.core.mail.added import ContactPersonAdded
from contacts_tui.core.mail.status import Decision
from contacts_tui.core.mail.verdict import ALREADY_RECIPIENTS, NO_CATEGORY, Label, Verdict
from contacts_tui.core.records import Resolution
from contacts_tui.core.tagging.engine import NO_RULES, Tagging

from ..rewrite import CopyPlan, HeaderBlock, plan_copies
from ..rewrite.headers import crlf_lines
from . import replies
from .replies import Answer


@dataclass(frozen=True)
class Limits:
    max_received: int = 50
    max_recipients: int = 1000
    # Like Postfix's header_size_limit (a field) and a cap on how many fields
    # a message may have: real mail has dozens; a client sending thousands
    # only makes the relay parse them.
    max_header_fields: int = 1000
    max_field_bytes: int = 100 * 1024
    # Parsing and rewriting a header block larger than this runs in a thread,
    # so one big message never holds up the replies to other sessions.
    inline_header_bytes: int = 64 * 1024


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Reading:
    """A message as the relay reads it when DATA ends."""

    data: bytes
    """As the upstream will read it: every line ending in CRLF (see ``crlf_lines``)."""
    headers: HeaderBlock
    """Parsed here, once: the checks, the log entry and the rewrite all read these fields."""
    refusal: Answer | None
    """The reply refusing a header block the relay will not carry, or None."""


def read(original: bytes, limits: Limits, *, bare_line_ends: bool = True) -> Reading:
    """The message as ``serve`` takes it (``bare_line_ends``: the DATA reader saw a bare CR or LF,
    or does not know; without one the bytes are already as the upstream reads them)."""
    data = crlf_lines(original) if bare_line_ends else original
    headers = HeaderBlock.of(data)
    return Reading(data, headers, header_refusal(headers, limits))


def header_refusal(headers: HeaderBlock, limits: Limits) -> Answer | None:
    """The reply refusing a header block the relay will not carry, or None."""
    if len(headers.fields) > limits.max_header_fields:
        return replies.TOO_MANY_FIELDS(count=len(headers.fields), limit=limits.max_header_fields)
    longest = max(headers.fields, key=lambda field: len(field.raw), default=None)
    if longest is not None and len(longest.raw) > limits.max_field_bytes:
        name = (longest.name or "a header line").title()
        return replies.FIELD_TOO_LONG(name=name, size=len(longest.raw), limit=limits.max_field_bytes)
    hops = headers.count("received")
    if hops > limits.max_received:
        return replies.TOO_MANY_HOPS(hops=hops)
    return None


def plan(
    headers: HeaderBlock,
    recipients: list[str],
    category: str | None,
    resolution: Resolution | None,
    smtputf8: bool,
    tagging: Tagging = NO_RULES,
) -> list[tuple[CopyPlan, Verdict]]:
    """The copies the message goes out as, each with its verdict."""
    audiences = resolution.audiences if resolution else ()
    copies = plan_copies(headers, recipients, audiences, smtputf8)
    return [(one, judge(category, resolution, one, tagging)) for one in copies]


def judge(
    category: str | None,
    resolution: Resolution | None,
    plan: CopyPlan,
    tagging: Tagging = NO_RULES,
) -> Verdict:
    """What the relay does with one copy of a message, and why: the decision, the sentence, who is added,
    the tagging rule, the label.

    ``category`` is the message's category: its header's value, or the one a
    tagging rule gave it (None: it has none); ``resolution`` the directory's
    answer for it (None when it was not asked); ``tagging`` what the tagging
    rules said of a message without a category header (``NO_RULES``: they were
    not asked).
    """
    audience = plan.audience
    added = tuple(
        ContactPersonAdded(one.person.email, one.person.name, one.person.customer_email, one.person.reason, one.address)
        for one in plan.added
    )
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
        decision, reason, label = Decision.UNCHANGED, NO_CATEGORY + tagging.untagged(), Label.NO_CATEGORY
    elif not plan.added:
        decision, reason, label = Decision.UNCHANGED, why or ALREADY_RECIPIENTS, _unchanged(resolution, plan)
    else:
        label = Label.CC if any(one.in_header for one in plan.added) else Label.ENVELOPE
        if plan.cc_locked_by_dkim:
            decision = Decision.ENVELOPE_ONLY
            reason = f"{why}; a DKIM signature covers Cc, so they were added to the envelope only"
        elif plan.cc_malformed:
            decision = Decision.ENVELOPE_ONLY
            reason = (
                f"{why}; the message's Cc field is malformed (something in it is not closed), "
                "so they were added to the envelope only"
            )
        else:
            decision, reason = Decision.REWRITTEN, why
    return Verdict(decision, "; ".join([*tagging.reasons(), reason, *notes]), added, label, tagging.tagged_by)


def _unchanged(resolution: Resolution | None, plan: CopyPlan) -> Label:
    """Why nobody was added to a copy of a message with a category header, as a metric label."""
    if resolution is None or resolution.category is None:
        return Label.UNKNOWN_CATEGORY
    customers = plan.audience.customers
    if not customers:
        return Label.NO_CUSTOMER
    if not any(customer.active for customer in customers):
        return Label.INACTIVE
    # Someone was opted in, and left out: already a recipient (or added to another copy).
    return Label.ALREADY_RECIPIENTS if plan.skipped or plan.audience.additions else Label.NOBODY_OPTED_IN


def refused(answer: Answer, detail: str = "", tagging: Tagging = NO_RULES) -> Verdict:
    """The verdict on a message the relay refused: the reply's words, and what stopped it
    (``tagging``: the rules' answer, when they were asked before the refusal)."""
    reason = answer.words + (f" ({detail})" if detail else "")
    return Verdict(Decision.REFUSED, reason, (), answer.label, tagging.tagged_by)
