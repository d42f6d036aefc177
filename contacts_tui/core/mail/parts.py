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
from email.message import Message

from .encoded_words import decode_words
from .html_text import html_to_text

MAX_BODY = 1_000_000  # characters of text or HTML kept for a view


@dataclass(frozen=True, slots=True)
class Part:
    part_id: str
    content_type: str
    filename: str
    content_id: str
    disposition: str
    message: Message = field(repr=False, compare=False)

    def content(self) -> bytes:
        """The part's bytes as the sender attached them (transfer encoding undone)."""
        if self.message.get_content_maintype() == "message":
            inner = self.message.get_payload()
            if isinstance(inner, list) and inner and not isinstance(inner[0], str):
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


def parse(data: bytes) -> Message:
    """The message's MIME tree. The standard library's older policy, which
    reads a header only when asked and as it was sent: a tenth of the time
    of its newer one, and a summary is made for every captured message."""
    return email.message_from_bytes(data, policy=email.policy.compat32)


def unescaped(value) -> str:
    """A header value with raw 8-bit text (SMTPUTF8 mail) read as UTF-8."""
    value = str(value) if value is not None else ""
    if any("\udc80" <= character <= "\udcff" for character in value):
        value = value.encode("ascii", "surrogateescape").decode("utf-8", "replace")
    return value


def text(value) -> str:
    """A header value as people read it: raw 8-bit text as UTF-8, encoded words decoded."""
    return decode_words(unescaped(value))


def _leaves(message: Message, part_id: str, top: bool):
    if message.is_multipart():
        children = message.get_payload()
        for number, child in enumerate(children if isinstance(children, list) else [], start=1):
            yield from _leaves(child, str(number) if top else f"{part_id}.{number}", False)
    else:
        yield part_id, message


def header(message: Message, name: str) -> str:
    """A header's value as people read it; "" when it is not there."""
    return text(message.get(name))


def _text_of(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        content = payload.decode(charset, errors="replace")
    except LookupError:  # a charset nobody knows
        content = payload.decode("utf-8", errors="replace")
    return content[:MAX_BODY]


def body_of(message: Message) -> Body:
    plain = html = ""
    have_text = have_html = False
    attachments: list[Part] = []
    inline: list[Part] = []
    for part_id, leaf in _leaves(message, "0", True):
        kind = leaf.get_content_type()
        try:
            filename = text(leaf.get_filename() or "")
        except (ValueError, IndexError, LookupError):
            filename = ""
        disposition = (leaf.get_content_disposition() or "").lower()
        content_id = header(leaf, "Content-ID").strip().strip("<>")
        if disposition != "attachment" and not filename:
            if kind == "text/plain" and not have_text:
                plain, have_text = _text_of(leaf), True
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
        plain = html_to_text(html)
    return Body(plain, html, tuple(attachments), tuple(inline))
