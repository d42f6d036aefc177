"""Views of a captured message for people: summary, header diff, bodies.

Used by the TUI's messages screen and ``contacts-relay messages show``.
Parsing is lenient: a tester's broken message must still show something.
"""

from __future__ import annotations

import difflib
import email
import email.policy
from dataclasses import dataclass, field
from email.message import EmailMessage

from ..controls import controls_except
from .encoded_words import decode_words

_MAX_BODY = 1_000_000


@dataclass(frozen=True)
class MessageView:
    sender: str
    to: str
    cc: str
    subject: str
    date: str
    message_id: str
    category: str
    header_diff: tuple[tuple[str, str], ...]
    """Header fields of the rewritten message, each with a mark: "+" added, "-" removed, " " unchanged."""
    text: str
    html: str
    attachments: tuple[tuple[str, str, int], ...] = field(default=())


def split_header(data: bytes) -> bytes:
    # The first blank line of either kind ends the header block: a message
    # with LF line ends may well carry CRLF pairs later, in its body.
    ends = [(index, len(separator)) for separator in (b"\r\n\r\n", b"\n\n") if (index := data.find(separator)) >= 0]
    if not ends:
        return data
    index, length = min(ends)
    return data[: index + length // 2]


def header_fields(data: bytes) -> list[str]:
    """Header fields as text lines, folded lines joined (for diffing and display)."""
    text = split_header(data).decode("utf-8", errors="replace").replace("\r\n", "\n")
    fields: list[str] = []
    for line in text.split("\n"):
        if not line:
            continue
        if line[0] in " \t" and fields:
            fields[-1] += " " + line.strip()
        else:
            fields.append(line)
    return fields


_CONTROL = controls_except("\t")


def decode_field(line: str) -> str:
    """A header field as people read it: encoded words (=?utf-8?b?...?=) decoded.

    A word that does not decode (unknown charset, broken base64) stays as it
    was; control characters a sender smuggled into an encoded word are shown
    as U+FFFD rather than sent to the terminal.
    """
    name, colon, value = line.partition(":")
    decoded = decode_words(value) if colon else value
    if decoded == value:
        return line  # nothing to decode, or it does not decode
    if not decoded.strip():
        return line  # a word that decodes to nothing: the raw form says more
    return f"{name}: {_CONTROL.sub(chr(0xFFFD), decoded)}"


def diff_headers(original: bytes, rewritten: bytes) -> tuple[tuple[str, str], ...]:
    """Header fields, decoded for reading, marked by comparing them as they were sent."""
    before, after = header_fields(original), header_fields(rewritten)
    marked: list[tuple[str, str]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=before, b=after, autojunk=False).get_opcodes():
        if tag == "equal":
            marked.extend((" ", decode_field(line)) for line in after[j1:j2])
            continue
        marked.extend(("-", decode_field(line)) for line in before[i1:i2])
        marked.extend(("+", decode_field(line)) for line in after[j1:j2])
    return tuple(marked)


def header_rows(original: bytes, rewritten: bytes) -> list[tuple[str | None, str | None]]:
    """The header fields before and after the rewrite, side by side, decoded for reading:
    a field the relay added has nothing before it, one it removed nothing after."""
    before, after = header_fields(original), header_fields(rewritten)
    rows: list[tuple[str | None, str | None]] = []
    for _tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=before, b=after, autojunk=False).get_opcodes():
        old, new = before[i1:i2], after[j1:j2]
        for index in range(max(len(old), len(new))):
            rows.append(
                (
                    decode_field(old[index]) if index < len(old) else None,
                    decode_field(new[index]) if index < len(new) else None,
                )
            )
    return rows


def _text_of(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
    return content[:_MAX_BODY] if isinstance(content, str) else ""


def view_message(original: bytes, rewritten: bytes, category_header: str = "X-Notification-Category") -> MessageView:
    message = email.message_from_bytes(rewritten, policy=email.policy.default)
    text = html = ""
    attachments = []
    for part in message.walk():
        if part.is_multipart():
            continue
        kind = part.get_content_type()
        if part.get_content_disposition() == "attachment" or part.get_filename():
            payload = part.get_payload(decode=True) or b""
            attachments.append((part.get_filename() or "(unnamed)", kind, len(payload)))
        elif kind == "text/plain" and not text:
            text = _text_of(part)
        elif kind == "text/html" and not html:
            html = _text_of(part)

    def header(name: str) -> str:
        try:
            value = message.get(name)
        except (ValueError, IndexError):  # a malformed header the parser chokes on
            value = None
        return str(value) if value is not None else ""

    return MessageView(
        header("From"),
        header("To"),
        header("Cc"),
        header("Subject"),
        header("Date"),
        header("Message-ID"),
        header(category_header),
        diff_headers(original, rewritten),
        text,
        html,
        tuple(attachments),
    )
