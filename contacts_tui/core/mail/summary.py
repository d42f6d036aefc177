"""What a list of captured messages shows of each one, made once when it is captured.

The fields are Mailpit's message summary (From, To, Cc, Bcc, ReplyTo,
Snippet, the number of attachments and inline parts), read from the
message as the relay rewrote it. ``summary_columns`` gives them as the
captured message's columns: the summary for lists, the counts, and the
address fields as text for the inbox's ``from:``, ``to:``, ``cc:`` and
``reply-to:`` words, so neither a list nor a search parses a message.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from email.message import Message
from email.utils import getaddresses

from .html_text import html_to_text
from .parts import body_of, parse, text, unescaped

SNIPPET = 200  # characters, as Mailpit cuts them
_SPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Address:
    name: str
    address: str

    def as_json(self) -> dict[str, str]:
        return {"Name": self.name, "Address": self.address}

    def __str__(self) -> str:
        return f"{self.name} <{self.address}>" if self.name else self.address


@dataclass(frozen=True, slots=True)
class Summary:
    sender: Address | None
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    bcc: tuple[Address, ...] = ()
    reply_to: tuple[Address, ...] = ()
    snippet: str = ""
    attachments: int = 0
    inline: int = 0

    def to_json(self) -> str:
        return json.dumps(
            {
                "From": self.sender.as_json() if self.sender else None,
                "To": [a.as_json() for a in self.to],
                "Cc": [a.as_json() for a in self.cc],
                "Bcc": [a.as_json() for a in self.bcc],
                "ReplyTo": [a.as_json() for a in self.reply_to],
                "Snippet": self.snippet,
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str, attachments: int = 0, inline: int = 0) -> Summary | None:
        """The stored summary with its counts; None when there is none (or it cannot be read)."""
        try:
            data = json.loads(text) if text else None
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None

        def addresses(key: str) -> tuple[Address, ...]:
            value = data.get(key)
            items = value if isinstance(value, list) else []
            return tuple(
                Address(str(a.get("Name", "")), str(a.get("Address", ""))) for a in items if isinstance(a, dict)
            )

        sender = data.get("From")
        return cls(
            Address(str(sender.get("Name", "")), str(sender.get("Address", ""))) if isinstance(sender, dict) else None,
            addresses("To"),
            addresses("Cc"),
            addresses("Bcc"),
            addresses("ReplyTo"),
            str(data.get("Snippet", "")),
            attachments,
            inline,
        )


def addresses_of(message: Message, name: str) -> tuple[Address, ...]:
    """The addresses of every ``name`` field, display names decoded."""
    values = [unescaped(value) for value in message.get_all(name) or []]
    found = []
    for display, address in getaddresses(values):
        display = _CONTROL.sub(" ", text(display)).strip()
        address = _CONTROL.sub("", address or "").strip()
        if address or display:
            found.append(Address(display, address))
    return tuple(found)


def snippet_of(text: str, html: str) -> str:
    """Up to 200 characters of the body as one line, from the HTML where there is one."""
    source = html_to_text(html) if html.strip() else text
    line = _SPACE.sub(" ", source.replace("\ufeff", " ")).strip()
    return line if len(line) <= SNIPPET else line[:SNIPPET] + "..."


def summarize(data: bytes) -> Summary:
    message = parse(data)
    body = body_of(message)
    senders = addresses_of(message, "From")
    return Summary(
        senders[0] if senders else None,
        addresses_of(message, "To"),
        addresses_of(message, "Cc"),
        addresses_of(message, "Bcc"),
        addresses_of(message, "Reply-To"),
        snippet_of(body.text, body.html),
        len(body.attachments),
        len(body.inline),
    )


def search_text(addresses: tuple[Address, ...]) -> str:
    """Addresses as the inbox's address words match them: names and addresses, case-folded."""
    return ", ".join(str(a) for a in addresses).casefold()


def summary_columns(data: bytes) -> dict[str, str | int]:
    """A captured message's summary columns, made from the message as stored.

    Never raises: a message the parser cannot take (nested past Python's
    recursion limit, say) is still captured, with no summary.
    """
    try:
        summary = summarize(data)
    except Exception:  # noqa: BLE001 - losing the message would be worse than losing its summary
        return {}
    return {
        "summary": summary.to_json(),
        "from_text": search_text((summary.sender,) if summary.sender else ()),
        "to_text": search_text(summary.to),
        "cc_text": search_text(summary.cc),
        "reply_to_text": search_text(summary.reply_to),
        "attachments": summary.attachments,
        "inline_parts": summary.inline,
    }
