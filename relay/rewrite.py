"""The relay's rewrite: copy contact persons on a message, as a pure function over bytes.

Like Postfix's cleanup, this is the one place that changes a message. It takes
the message bytes, the envelope recipients and the people to add, and returns
new bytes plus what it did and why; it touches no database, file or socket.
Only the header block changes: the Cc field is merged or inserted, a Received
trace goes on top, and everything else, body included, is passed on as is.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime

import idna

from relay.headers import (
    CRLF,
    LF,
    Field,
    addresses_in_fields,
    decode_words,
    field_texts,
    fold_tokens,
    header_addresses,
    header_end,
    line_ending,
    mailbox_tokens,
    parse_fields,
    split_message,
)

__all__ = [
    "DEFAULT_CATEGORY_HEADER",
    "SKIP_DUPLICATE",
    "SKIP_INVALID",
    "SKIP_IN_CC",
    "SKIP_IN_ENVELOPE",
    "SKIP_IN_TO",
    "Addition",
    "RewriteResult",
    "category_in_fields",
    "header_addresses",
    "read_category",
    "received_header",
    "rewrite",
    "split_message",
    "transport_address",
]

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
class Addition:
    """A person to copy on the message: their address and display name."""

    address: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class RewriteResult:
    """The rewritten message and an account of every decision taken on it.

    ``envelope_added`` are the addresses to add as RCPT TO, in order;
    ``header_added`` those written into the Cc field (empty when a DKIM
    signature covers Cc); ``skipped`` pairs each address left out with why.
    ``needs_smtputf8`` is set when an added address is not ASCII, since the
    header and the RCPT command then need SMTPUTF8 downstream.
    """

    message: bytes
    envelope_added: list[str]
    header_added: list[str]
    skipped: list[tuple[str, str]]
    cc_locked_by_dkim: bool
    needs_smtputf8: bool

    @property
    def changed(self) -> bool:
        """Whether anybody was added (to the envelope, and maybe the Cc)."""
        return bool(self.envelope_added)


def read_category(message: bytes, header_name: str = DEFAULT_CATEGORY_HEADER) -> str | None:
    """The value of the category header: unfolded, RFC 2047-decoded, stripped.

    The first instance wins if the header is repeated. Case is kept (the caller
    compares case-insensitively). Missing or empty: ``None``.
    """
    return category_in_fields(parse_fields(message[: header_end(message)]), header_name)


def category_in_fields(fields: list[Field], header_name: str = DEFAULT_CATEGORY_HEADER) -> str | None:
    """``read_category`` for a header block parsed already."""
    values = field_texts(fields, header_name)
    if not values:
        return None
    return decode_words(values[0]).strip() or None


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
) -> RewriteResult:
    """Add ``additions`` to the message's Cc and envelope; prepend ``trace``.

    With ``utf8_headers`` false (the sender did not use SMTPUTF8), a domain
    that is not ASCII is written in its xn-- form, and an address that still
    is not ASCII goes to the envelope only: written into Cc it would make the
    whole message need SMTPUTF8, and an upstream without it would then refuse
    the customer's own copy too.

    Addresses already in To or Cc, already envelope recipients, listed twice
    or malformed are skipped with a reason. If a DKIM-Signature covers Cc the
    Cc field is left alone and the additions go to the envelope only, so the
    signature keeps verifying. ``trace`` (see :func:`received_header`) is put
    on top, converted to the message's line ending.
    """
    cut = header_end(message)
    header_block = message[:cut]
    fields = parse_fields(header_block)
    eol = line_ending(header_block or message[cut : cut + 2])

    if not utf8_headers:
        additions = [Addition(transport_address(a.address, False), a.name) for a in additions]
    adding, skipped = _choose(fields, envelope_rcpts, additions)
    locked = bool(adding) and _dkim_covers_cc(fields)
    in_header = [] if locked else [a for a in adding if utf8_headers or a.address.isascii()]
    header_added = [a.address for a in in_header]
    if header_added:
        header_block = _with_cc(header_block, fields, in_header, eol)
    if trace:
        trace = trace.replace(CRLF, LF)
        trace = (trace if trace.endswith(LF) else trace + LF).replace(LF, eol)
        header_block = trace + header_block

    if header_added or trace:
        # A memoryview spares a copy of a large body: the join is the only one.
        message = b"".join((header_block, memoryview(message)[cut:]))
    envelope_added = [a.address for a in adding]
    return RewriteResult(
        message=message,
        envelope_added=envelope_added,
        header_added=header_added,
        skipped=skipped,
        cc_locked_by_dkim=locked,
        needs_smtputf8=not all(address.isascii() for address in envelope_added),
    )


def _valid_address(address: str) -> bool:
    return (
        bool(_ADDRESS.fullmatch(address))
        and len(address.encode("utf-8")) <= 254
        and not any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in address)
    )


def _choose(
    fields: list[Field], envelope_rcpts: Iterable[str], additions: Iterable[Addition]
) -> tuple[list[Addition], list[tuple[str, str]]]:
    """Which additions to make, and why each of the others is left out."""
    in_to = {a.lower() for a in addresses_in_fields(fields, ("to",))}
    in_cc = {a.lower() for a in addresses_in_fields(fields, ("cc",))}
    in_envelope = {r.strip().lower() for r in envelope_rcpts}
    seen: set[str] = set()
    adding, skipped = [], []
    for addition in additions:
        address = addition.address.strip()
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
            adding.append(Addition(address, addition.name))
            continue
        skipped.append((address, reason))
    return adding, skipped


def _dkim_covers_cc(fields: list[Field]) -> bool:
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


def _with_cc(header_block: bytes, fields: list[Field], adding: list[Addition], eol: bytes) -> bytes:
    """The header block with the additions in one Cc field, all else untouched."""
    mailboxes = [mailbox_tokens(a.address, a.name) for a in adding]
    cc_fields = [field for field in fields if field.name == "cc"]
    if not cc_fields:
        to_fields = [field for field in fields if field.name == "to"]
        at = to_fields[-1].end if to_fields else len(header_block)
        before = header_block[:at]
        if before and not before.endswith(LF):
            before += eol  # the last line had no line ending of its own
        new = b"Cc:" + fold_tokens(mailboxes, len("Cc:"), eol, fold_first=False) + eol
        return before + new + header_block[at:]

    merged = cc_fields[0].raw
    for extra in cc_fields[1:]:
        value = extra.raw[extra.raw.find(b":") + 1 :].strip(b" \t\r\n")
        if value:
            head, has_value = _open_for_more(merged)
            merged = head + (eol + b" " if has_value else b" ") + value
    head, has_value = _open_for_more(merged)
    column = len(head) - (head.rfind(b"\n") + 1)
    merged = head + fold_tokens(mailboxes, column, eol, fold_first=has_value) + eol

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


def received_header(
    *,
    helo: str,
    peer_ip: str,
    by_host: str,
    queue_id: str,
    peer_host: str | None = None,
    recipients: Sequence[str] = (),
    esmtp: bool = True,
    tls: bool = False,
    authenticated: bool = False,
    smtputf8: bool = False,
    when: datetime | None = None,
    eol: bytes = CRLF,
) -> bytes:
    """An RFC 5321 4.4 ``Received`` trace field for a message this relay accepted.

    Everything the peer chose (HELO, reverse DNS name) is reduced to printable
    ASCII without comment or clause delimiters, so it can neither break the
    field nor forge trace clauses. ``for <addr>`` is given only for a single
    recipient, as Postfix does, so a message does not disclose its other
    recipients. ``with`` follows RFC 3848 / RFC 6531 (ESMTPSA, UTF8SMTPS, ...).
    """
    when = when or datetime.now(timezone.utc)
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    protocol = ("UTF8SMTP" if smtputf8 else "ESMTP") if esmtp else "SMTP"
    if esmtp:
        protocol += ("S" if tls else "") + ("A" if authenticated else "")
    lines = [
        f"Received: from {_token(helo)} ({_token(peer_host or '')} [{_address_literal(peer_ip)}])",
        f"\tby {_token(by_host)} (Contact Persons relay) with {protocol} id {_token(queue_id)}",
    ]
    date = format_datetime(when)
    if len(recipients) == 1:
        lines.append(f"\tfor <{_trace_address(recipients[0])}>; {date}")
    else:
        lines[-1] += ";"
        lines.append(f"\t{date}")
    return eol.join(line.encode("utf-8") for line in lines) + eol


def _token(text: str, limit: int = 255) -> str:
    """``text`` as printable ASCII without blanks, comment or angle delimiters, quotes or ';'."""
    kept = "".join(ch for ch in text if 32 < ord(ch) < 127 and ch not in '()<>;\\"')
    return kept[:limit] or "unknown"


def _address_literal(peer_ip: str) -> str:
    try:
        ip = ipaddress.ip_address(peer_ip.strip().strip("[]"))
    except ValueError:
        return _token(peer_ip).replace("[", "").replace("]", "")
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return f"IPv6:{ip}" if ip.version == 6 else str(ip)


def _trace_address(address: str) -> str:
    return "".join(
        ch for ch in address if ch.isprintable() and not ch.isspace() and ch not in "<>;"
    )[:254]
