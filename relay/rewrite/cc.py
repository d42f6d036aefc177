"""The relay's rewrite: copy contact persons on a message, as a pure function over bytes.

Like Postfix's cleanup, this is the one place that changes a message. It takes
the message bytes (and their header block, parsed once by the receiver), the
envelope recipients and the people to add, and returns new bytes plus what it
did and why; it touches no database, file or socket. Only the header block
changes: the Cc field is merged or inserted, a Received trace goes on top, and
everything else, body included, is passed on as is.

A message for several customers goes out as one copy per customer that gets
someone added (``plan_copies``, then ``write_copy`` for each): a customer's
contact persons are only ever shown to that customer and its own people.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import idna

from contacts_tui.core.mail.encoded_words import decode_words
from contacts_tui.core.records import Addition, Audience

from .headers import CRLF, LF, Field, HeaderBlock
from .mailbox import fold_tokens, mailbox_tokens

DEFAULT_CATEGORY_HEADER = "X-Notification-Category"

SKIP_IN_TO = "already in To"
SKIP_IN_CC = "already in Cc"
SKIP_IN_ENVELOPE = "already an envelope recipient"
SKIP_DUPLICATE = "listed twice"
SKIP_INVALID = "not a valid address"

# Deliberately plain: the directory validates addresses properly; this only
# keeps anything that could break the header or the RCPT command out.
_ADDRESS = re.compile(r'[^\s<>()\[\],;:"\\@]+@[^\s<>()\[\],;:"\\@]+')
_H_TAG = re.compile(r"(?:^|;)\s*h\s*=([^;]*)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Added:
    """One person the rewrite adds to a copy of the message.

    ``address`` is the address as it goes out: the directory's, or for a
    sender without SMTPUTF8 its domain in the xn-- form. ``in_header``: also
    written into the Cc field (not when a DKIM signature covers Cc, nor for
    an address that would need SMTPUTF8 the sender did not use).
    """

    person: Addition
    address: str
    in_header: bool


@dataclass(frozen=True, slots=True)
class CopyPlan:
    """One copy of a message as it will go out, and an account of every decision taken on it.

    ``audience`` is who sees the copy (the client's recipients of it, and the
    customer whose contact persons it carries); ``added`` are the people
    added, in order; ``skipped`` pairs each address left out with why. The
    Cc field is left alone when a DKIM signature covers it
    (``cc_locked_by_dkim``) or it is malformed (``cc_malformed``: more
    addresses written into it would land inside the broken part); the people
    then go to the envelope only.
    """

    audience: Audience
    added: tuple[Added, ...]
    skipped: tuple[tuple[str, str], ...]
    cc_locked_by_dkim: bool
    cc_malformed: bool

    @property
    def recipients(self) -> tuple[str, ...]:
        """The client's envelope recipients this copy goes to."""
        return self.audience.recipients

    @property
    def envelope(self) -> tuple[str, ...]:
        """Every RCPT TO of this copy: the client's, then the people added."""
        return (*self.audience.recipients, *self.envelope_added)

    @property
    def envelope_added(self) -> list[str]:
        """The addresses to add as RCPT TO, in order."""
        return [added.address for added in self.added]

    @property
    def header_added(self) -> list[str]:
        """The addresses written into the Cc field."""
        return [added.address for added in self.added if added.in_header]

    @property
    def needs_smtputf8(self) -> bool:
        """An added address is not ASCII: the RCPT command (and maybe the header) needs SMTPUTF8."""
        return not all(added.address.isascii() for added in self.added)

    @property
    def changed(self) -> bool:
        """Whether anybody was added (to the envelope, and maybe the Cc)."""
        return bool(self.added)


@dataclass(frozen=True, slots=True)
class RewriteResult(CopyPlan):
    """A copy's plan and the bytes written for it."""

    message: bytes


def read_category(
    message: bytes | HeaderBlock,
    header_name: str = DEFAULT_CATEGORY_HEADER,
    known: Callable[[str], object] | None = None,
) -> str | None:
    """The value of the category header: unfolded, RFC 2047-decoded, stripped.

    If the header is repeated, the first value ``known`` accepts wins (a
    garbled copy in front of the real one must not cost the contacts), else
    the first. Case is kept (the caller compares case-insensitively).
    Missing or empty: ``None``.
    """
    headers = message if isinstance(message, HeaderBlock) else HeaderBlock.of(message)
    values = [value for value in (decode_words(text).strip() for text in headers.texts(header_name)) if value]
    if known is not None:
        for value in values:
            if known(value):
                return value
    return values[0] if values else None


def transport_address(address: str, utf8: bool) -> str:
    """The address as it can travel: unchanged with SMTPUTF8; without it, an
    internationalised domain in its ASCII (xn--) form, so that a contact at
    ``ida@bücher.example`` still gets the copy. A local part that is not
    ASCII has no such form and is returned as it is."""
    if utf8 or address.isascii():
        return address
    local, at, domain = address.rpartition("@")
    if not at or not local.isascii():
        return address
    try:
        return f"{local}@{idna.encode(domain, uts46=True).decode('ascii')}"
    except idna.IDNAError:
        return address


def rewrite(
    message: bytes,
    envelope_rcpts: Iterable[str],
    additions: Iterable[Addition],
    trace: bytes | None = None,
    *,
    utf8_headers: bool = True,
    headers: HeaderBlock | None = None,
) -> RewriteResult:
    """Add ``additions`` to the message's Cc and envelope; prepend ``trace``.

    The message as one copy for all of ``envelope_rcpts``: see
    ``plan_copies`` for the rules, and for a message to several customers.
    ``headers`` is the message's header block if the caller parsed it already.
    """
    headers = headers or HeaderBlock.of(message)
    recipients = tuple(envelope_rcpts)
    [plan] = plan_copies(headers, recipients, [Audience(recipients, additions=tuple(additions))], utf8_headers)
    data = write_copy(message, headers, plan, trace)
    return RewriteResult(
        plan.audience, plan.added, plan.skipped, plan.cc_locked_by_dkim, plan.cc_malformed, message=data
    )


def plan_copies(
    headers: HeaderBlock,
    envelope_rcpts: Iterable[str],
    audiences: Iterable[Audience],
    utf8_headers: bool = True,
) -> tuple[CopyPlan, ...]:
    """The copies a message goes out as: one per audience that gets someone added,
    and one more, adding nobody, for the recipients of every other audience.

    Addresses already in To or Cc, already envelope recipients (of any copy),
    added to an earlier copy, listed twice or malformed are skipped with a
    reason. With ``utf8_headers`` false (the sender did not use SMTPUTF8), a
    domain that is not ASCII is written in its xn-- form, and an address
    that still is not ASCII goes to the envelope only: written into Cc it
    would make the whole message need SMTPUTF8, and an upstream without it
    would then refuse the customer's own copy too. If a DKIM-Signature
    covers Cc the Cc field is left alone and the additions go to the
    envelope only, so the signature keeps verifying.
    """
    envelope = tuple(envelope_rcpts)
    audiences = tuple(audiences) or (Audience(envelope),)
    in_to = {a.lower() for a in headers.addresses(("to",))}
    in_cc = {a.lower() for a in headers.addresses(("cc",))}
    in_envelope = {r.strip().lower() for r in envelope}
    seen: set[str] = set()
    chosen = [_choose(audience.additions, in_to, in_cc, in_envelope, seen, utf8_headers) for audience in audiences]
    anyone = any(people for people, _ in chosen)
    locked = anyone and _dkim_covers_cc(headers.fields)
    malformed = anyone and not locked and not all(_well_formed(f.value_bytes) for f in headers.named("cc"))
    plans: list[CopyPlan] = []
    nobody: list[tuple[Audience, list[tuple[str, str]]]] = []
    for audience, (people, skipped) in zip(audiences, chosen, strict=True):
        if not people:
            nobody.append((audience, skipped))
            continue
        added = tuple(
            Added(person, address, not (locked or malformed) and (utf8_headers or address.isascii()))
            for person, address in people
        )
        plans.append(CopyPlan(audience, added, tuple(skipped), locked, malformed))
    if nobody:
        plans.append(CopyPlan(_together(nobody), (), tuple(s for _, skipped in nobody for s in skipped), False, False))
    return tuple(plans)


def _together(audiences: list[tuple[Audience, list[tuple[str, str]]]]) -> Audience:
    """One audience for the copy that adds nobody: every recipient whose copy would be the same."""
    if len(audiences) == 1 and not audiences[0][0].additions:
        return audiences[0][0]
    reasons = []
    for audience, _ in audiences:
        if not audience.additions:
            reasons.append(audience.reason)
        else:
            names = ", ".join(customer.name for customer in audience.customers)
            reasons.append(f"everyone opted in at {names} is already a recipient" if names else "")
    return Audience(
        tuple(r for audience, _ in audiences for r in audience.recipients),
        tuple(c for audience, _ in audiences for c in audience.customers),
        (),
        "; ".join(reason for reason in reasons if reason),
        tuple(note for audience, _ in audiences for note in audience.notes),
    )


def write_copy(message: bytes, headers: HeaderBlock, plan: CopyPlan, trace: bytes | None = None) -> bytes:
    """The bytes of one copy: the plan's people in the Cc field, ``trace`` on top
    (converted to the message's line ending); the rest as it was."""
    header_block = headers.raw
    in_header = [added for added in plan.added if added.in_header]
    if in_header:
        header_block = _with_cc(headers, in_header)
    if trace:
        eol = headers.eol
        trace = trace.replace(CRLF, LF)
        trace = (trace if trace.endswith(LF) else trace + LF).replace(LF, eol)
        header_block = trace + header_block
    if not (in_header or trace):
        return message
    # A memoryview spares a copy of a large body: the join is the only one.
    return b"".join((header_block, memoryview(message)[headers.end :]))


def _valid_address(address: str) -> bool:
    return (
        bool(_ADDRESS.fullmatch(address))
        and len(address.encode("utf-8")) <= 254
        and not any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in address)
    )


def _choose(
    additions: Iterable[Addition], in_to: set[str], in_cc: set[str], in_envelope: set[str], seen: set[str], utf8: bool
) -> tuple[list[tuple[Addition, str]], list[tuple[str, str]]]:
    """Which additions to make (each with the address it goes out as), and why each of the others is left out.

    ``seen`` holds the addresses added so far, to this copy or an earlier one.
    """
    chosen, skipped = [], []
    for person in additions:
        address = transport_address(person.email.strip(), utf8)
        key = address.lower()
        if not _valid_address(address):
            reason = SKIP_INVALID
        elif key in in_to:
            reason = SKIP_IN_TO
        elif key in in_cc:
            reason = SKIP_IN_CC
        elif key in in_envelope:
            reason = SKIP_IN_ENVELOPE
        elif key in seen:
            reason = SKIP_DUPLICATE
        else:
            seen.add(key)
            chosen.append((person, address))
            continue
        skipped.append((address, reason))
    return chosen, skipped


def _dkim_covers_cc(fields: Iterable[Field]) -> bool:
    """Whether any DKIM signature lists Cc in ``h=``.

    Listing Cc also signs its absence ("over-signing"), so even a message
    without a Cc field is locked then: adding one would break the signature.
    """
    for field in fields:
        if field.name != "dkim-signature":
            continue
        for tag in _H_TAG.finditer(field.value_bytes.decode("latin-1")):
            names = "".join(tag.group(1).split()).lower().split(":")
            if "cc" in names:
                return True
    return False


def _well_formed(value: bytes) -> bool:
    """Whether an address field's quotes, comments and angle brackets are all closed."""
    quoted, comments, angle, escaped = False, 0, 0, False
    for byte in value:
        if escaped:
            escaped = False
        elif byte == 0x5C and (quoted or comments):  # backslash
            escaped = True
        elif quoted:
            quoted = byte != 0x22
        elif byte == 0x22:
            quoted = True
        elif byte == 0x28:  # (
            comments += 1
        elif byte == 0x29:  # )
            comments -= 1
            if comments < 0:
                return False
        elif comments:
            continue
        elif byte == 0x3C:  # <
            angle += 1
            if angle > 1:
                return False
        elif byte == 0x3E:  # >
            angle -= 1
            if angle < 0:
                return False
    return not (quoted or comments or angle or escaped)


def _with_cc(headers: HeaderBlock, adding: list[Added]) -> bytes:
    """The header block with the additions in one Cc field, all else untouched."""
    header_block, eol = headers.raw, headers.eol
    mailboxes = [mailbox_tokens(added.address, added.person.name) for added in adding]
    cc_fields = headers.named("cc")
    if not cc_fields:
        to_fields = headers.named("to")
        at = to_fields[-1].end if to_fields else len(header_block)
        before = header_block[:at]
        if before and not before.endswith(LF):
            before += eol  # the last line had no line ending of its own
        new = b"Cc:" + fold_tokens(mailboxes, len("Cc:"), eol, fold_first=False) + eol
        return before + new + header_block[at:]

    # The values of later Cc fields join the first one, each on a line of
    # its own; built as one list and joined once, so that thousands of Cc
    # fields cost no more than thousands of lines.
    head, has_value = _open_for_more(cc_fields[0].raw)
    parts = [head]
    for extra in cc_fields[1:]:
        value = extra.raw[extra.raw.find(b":") + 1 :].strip(b" \t\r\n")
        if value:
            if has_value and not parts[-1].endswith(b","):
                parts.append(b",")
            parts.append((eol + b" " if has_value else b" ") + value)
            has_value = True
    if has_value and not parts[-1].endswith(b","):
        parts.append(b",")
    merged = b"".join(parts)
    column = len(merged) - (merged.rfind(b"\n") + 1)
    merged += fold_tokens(mailboxes, column, eol, fold_first=has_value) + eol

    pieces, position = [], 0
    for field in cc_fields:
        pieces.append(header_block[position : field.start])
        position = field.end
    pieces[1:1] = [merged]  # the merged field takes the first one's place
    pieces.append(header_block[position:])
    return b"".join(pieces)


def _open_for_more(field: bytes) -> tuple[bytes, bool]:
    """The Cc field without its line ending, ready for more addresses.

    Returns the bytes (with a separating comma if the value lacks one) and
    whether it already held a value. Trailing blanks go too: a blank-only
    last continuation line followed by a comma would start a bogus field.
    """
    head = field.rstrip(b" \t\r\n")
    value = head[head.find(b":") + 1 :]
    has_value = bool(value.strip())
    if has_value and not value.endswith(b","):
        head += b","
    return head, has_value
