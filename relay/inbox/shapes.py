"""Captured messages in the JSON shapes of Mailpit's API v1, with our fields beside them.

Field names and shapes are Mailpit's (``ID``, ``MessageID``, ``From`` as
``{Name, Address}``, ``Created`` in RFC 3339, ...), so its clients read
ours. What only this relay knows goes in fields Mailpit does not have:
``ContactPersons`` (who was added, for which customer, and why),
``Category`` (and ``TaggedBy``, the tagging rule that gave it, if one did)
and ``Envelope``; a category is also the message's one tag.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import re
from email.message import Message

from contacts_tui.core.mail.inbox import InboxMessage
from contacts_tui.core.mail.parts import Body, Part, header
from contacts_tui.core.mail.summary import Address, addresses_of
from contacts_tui.core.mail.view import header_fields

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


def rfc3339(moment: dt.datetime) -> str:
    """A stored time (naive UTC) as Mailpit writes times."""
    return moment.replace(microsecond=0).isoformat() + "Z"


def _addresses(items) -> list[dict[str, str]]:
    return [a.as_json() for a in items]


def message_id(record_id: str) -> str:
    return record_id.strip().strip("<>")


def tags(message: InboxMessage) -> list[str]:
    key = message.record.category_key
    return [key] if key else []


def bcc(message: InboxMessage) -> list[Address]:
    """Bcc as Mailpit shows it: the Bcc field, and every envelope recipient
    the headers do not name (a contact added to the envelope only, say)."""
    summary = message.summary
    named = {a.address.casefold() for a in (*summary.to, *summary.cc, *summary.bcc)}
    extra = [Address("", r) for r in message.record.envelope if r.casefold() not in named]
    return [*summary.bcc, *extra]


def contact_persons_json(message: InboxMessage) -> list[dict[str, str]]:
    return [
        {"Email": p.email, "Name": p.name, "Customer": p.customer, "Reason": p.reason, "Address": p.sent}
        for p in message.record.added
    ]


def ours(message: InboxMessage) -> dict:
    record = message.record
    return {
        "ContactPersons": contact_persons_json(message),
        "Category": record.category,
        "CategoryKey": record.category_key,
        # The tagging rule that gave a message without a category header its category, else "".
        "TaggedBy": record.tagged_by,
        "Envelope": {"From": record.sender, "To": record.envelope},
    }


def summary_json(message: InboxMessage) -> dict:
    """Mailpit's MessageSummary (the items of a list, and of a "new" event)."""
    record, summary = message.record, message.summary
    return {
        "ID": str(record.id),
        "MessageID": message_id(record.message_id),
        "Read": message.read,
        "From": summary.sender.as_json() if summary.sender else {"Name": "", "Address": ""},
        "To": _addresses(summary.to),
        "Cc": _addresses(summary.cc),
        "Bcc": _addresses(bcc(message)),
        "ReplyTo": _addresses(summary.reply_to),
        "Subject": record.subject,
        "Created": rfc3339(record.received_at),
        "Username": "",
        "Tags": tags(message),
        "Size": record.size,
        "Attachments": summary.attachments,
        "Snippet": summary.snippet,
        **ours(message),
    }


def part_json(part: Part) -> dict:
    content = part.content()
    return {
        "PartID": part.part_id,
        "FileName": part.filename,
        "ContentType": part.content_type,
        "ContentID": part.content_id,
        "Size": len(content),
        "Checksums": {
            "MD5": hashlib.md5(content, usedforsecurity=False).hexdigest(),
            "SHA1": hashlib.sha1(content, usedforsecurity=False).hexdigest(),
            "SHA256": hashlib.sha256(content).hexdigest(),
        },
    }


def _field(parsed: Message, name: str) -> str:
    return header(parsed, name)


def _date(parsed: Message, received: dt.datetime) -> str:
    text = _field(parsed, "Date")
    try:
        moment = email.utils.parsedate_to_datetime(text) if text else None
    except (TypeError, ValueError, IndexError):
        moment = None
    if moment is None:
        return rfc3339(received)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.isoformat().replace("+00:00", "Z")


def _unsubscribe(parsed: Message) -> dict:
    header = _field(parsed, "List-Unsubscribe")
    links = re.findall(r"<([^>]+)>", header)
    mail = next((link for link in links if link.lower().startswith("mailto:")), None)
    web = next((link for link in links if link.lower().startswith(("http://", "https://"))), None)
    return {
        "Header": header,
        "Links": [link for link in (mail, web) if link],
        "Errors": "" if links or not header else "no <link> in the header",
        "HeaderPost": _field(parsed, "List-Unsubscribe-Post"),
    }


def message_json(message: InboxMessage, parsed: Message, body: Body) -> dict:
    """Mailpit's Message (``GET /api/v1/message/{ID}``), with our fields."""
    record, summary = message.record, message.summary
    senders = addresses_of(parsed, "From")
    sender = senders[0] if senders else summary.sender
    return_path = _field(parsed, "Return-Path").strip().strip("<>") or (sender.address if sender else "")
    return {
        "ID": str(record.id),
        "MessageID": message_id(record.message_id),
        # Opening a message marks it read; Mailpit's Message had this field up to 2023, and clients read it.
        "Read": True,
        "From": sender.as_json() if sender else None,
        "To": _addresses(summary.to),
        "Cc": _addresses(summary.cc),
        "Bcc": _addresses(bcc(message)),
        "ReplyTo": _addresses(summary.reply_to),
        "ReturnPath": return_path,
        "Subject": record.subject,
        "ListUnsubscribe": _unsubscribe(parsed),
        "Date": _date(parsed, record.received_at),
        "Created": rfc3339(record.received_at),
        "Tags": tags(message),
        "Username": "",
        "Text": body.text,
        "HTML": body.html,
        "Size": record.size,
        "Inline": [part_json(p) for p in body.inline],
        "Attachments": [part_json(p) for p in body.attachments],
        **ours(message),
    }


def canonical_key(name: str) -> str:
    """A header name as Go writes it (Mailpit's header keys): Content-Type, Message-Id, X-Notification-Category."""
    if not _TOKEN.match(name):
        return name
    return "-".join(word[:1].upper() + word[1:].lower() for word in name.split("-"))


def headers_json(data: bytes) -> dict[str, list[str]]:
    """Every header field, values as sent (folds joined), keys as Mailpit gives them, sorted."""
    found: dict[str, list[str]] = {}
    for line in header_fields(data):
        name, colon, value = line.partition(":")
        if colon and name.strip():
            found.setdefault(canonical_key(name.strip()), []).append(value.strip())
    return dict(sorted(found.items()))
