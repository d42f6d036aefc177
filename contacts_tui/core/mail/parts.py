"""The MIME parts of a captured message, numbered as Mailpit numbers them.

A part's id says where it sits in the tree: the children of a multipart
message are "1", "2", ..., their children "1.1", "1.2", and a message that
is not multipart is part "0" (the numbering of the Go library Mailpit reads
mail with, so ``/api/v1/message/{ID}/part/{PartID}`` names the same part in
both). The body is the first plain-text and the first HTML part that are not
attachments; attachments are parts sent as such, inline parts those shown
inside the HTML (with a Content-ID or sent inline with a file name).
Parsing is lenient: a tester's broken message must still show something.
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass, field
from email.message import EmailMessage

from .html_text import html_to_text

MAX_BODY = 1_000_000  # characters of text or HTML kept for a view


@dataclass(frozen=True, slots=True)
class Part:
    part_id: str
    content_type: str
    filename: str
    content_id: str
    disposition: str
    message: EmailMessage = field(repr=False, compare=False)

    def content(self) -> bytes:
        """The part's bytes as the sender attached them (transfer encoding undone)."""
        if self.message.get_content_maintype() == "message":
            inner = self.message.get_payload()
            if isinstance(inner, list) and inner:
                return inner[0].as_bytes(policy=email.policy.SMTP)
            return b""
        payload = self.message.get_payload(decode=True)
        return payload if isinstance(payload, bytes) else b""


@dataclass(frozen=True, slots=True)
class Body:
    """What a mail client shows of a message: its text, HTML, attachments and inline parts."""

    text: str
    html: str
    attachments: tuple[Part, ...]
    inline: tuple[Part, ...]

    def part(self, part_id: str) -> Part | None:
        return next((p for p in (*self.attachments, *self.inline) if p.part_id == part_id), None)


def parse(data: bytes) -> EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)  # type: ignore[return-value]


def _leaves(message: EmailMessage, part_id: str, top: bool):
    if message.is_multipart():
        children = message.get_payload()
        for number, child in enumerate(children if isinstance(children, list) else [], start=1):
            yield from _leaves(child, str(number) if top else f"{part_id}.{number}", False)
    else:
        yield part_id, message


def _header(message: EmailMessage, name: str) -> str:
    try:
        value = message.get(name)
    except (ValueError, IndexError):  # a malformed header the parser chokes on
        return ""
    return str(value) if value is not None else ""


def _text_of(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
    return content[:MAX_BODY] if isinstance(content, str) else ""


def body_of(message: EmailMessage) -> Body:
    text = html = ""
    have_text = have_html = False
    attachments: list[Part] = []
    inline: list[Part] = []
    for part_id, leaf in _leaves(message, "0", True):
        kind = leaf.get_content_type()
        try:
            filename = leaf.get_filename() or ""
        except (ValueError, IndexError):
            filename = ""
        disposition = (leaf.get_content_disposition() or "").lower()
        content_id = _header(leaf, "Content-ID").strip().strip("<>")
        if disposition != "attachment" and not filename:
            if kind == "text/plain" and not have_text:
                text, have_text = _text_of(leaf), True
                continue
            if kind == "text/html" and not have_html:
                html, have_html = _text_of(leaf), True
                continue
        if not (filename or content_id):
            continue  # Mailpit lists only parts with a name or a Content-ID
        made = Part(part_id, kind, filename or content_id, content_id, disposition, leaf)
        if disposition == "attachment" or (not content_id and disposition != "inline"):
            attachments.append(made)
        else:
            inline.append(made)
    if not have_text and html:
        # As Mailpit does: a message with only HTML has its text made from it.
        text = html_to_text(html)
    return Body(text, html, tuple(attachments), tuple(inline))
