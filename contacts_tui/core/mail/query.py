"""The words a search of captured messages understands: Mailpit's, and ours.

``to:``, ``from:``, ``cc:``, ``bcc:``, ``reply-to:``, ``addressed:``,
``subject:``, ``message-id:``, ``is:read``, ``is:unread``, ``is:tagged``,
``has:attachment``, ``has:inline``, ``after:``, ``before:``, ``larger:``
and ``smaller:`` mean what they mean in Mailpit; ``tag:`` matches the
category, as Mailpit's tags are what our categories are. Ours:
``category:billing`` (the header's value or the category it resolved to,
so ``category:billing`` finds ``invoice.overdue``) and
``added:bea@acme.example`` (someone the relay added, by address or name).
Any other word matches sender, recipients, subject, category, message id
and who was added. ``"quoted words"`` are one word; ``-word`` or ``!word``
excludes. Every word must match.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..models import CapturedMessage
from .added import ContactPersonAdded, added_matches

_SIZE = re.compile(r"^(\d+)(\.\d+)?\s?([a-z]{1,2})?$")
_CLEAN = re.compile(r'[\r\n\t<>",;()]')


@dataclass(frozen=True, slots=True)
class Term:
    key: str
    """The query word before the colon, lower case ("to", "is"); "" for a plain word."""
    value: str
    exclude: bool = False


KEYS = (
    "to",
    "from",
    "cc",
    "bcc",
    "reply-to",
    "addressed",
    "subject",
    "message-id",
    "tag",
    "category",
    "added",
    "is",
    "has",
    "after",
    "before",
    "larger",
    "smaller",
)


def split_words(query: str) -> list[str]:
    """Words as Mailpit splits them: on spaces, with "quoted words" kept together (quotes dropped)."""
    words: list[str] = []
    current: list[str] = []
    quoted = False
    for character in query:
        if character == '"':
            quoted = not quoted
        elif character == " " and not quoted:
            words.append("".join(current))
            current = []
        else:
            current.append(character)
    words.append("".join(current))
    return [word.strip() for word in words if word.strip()]


def terms(query: str) -> list[Term]:
    found = []
    for word in split_words(query):
        exclude = len(word) > 1 and word[0] in "-!"
        if exclude:
            word = word[1:]
        key, colon, value = word.partition(":")
        if colon and key.lower() in KEYS:
            found.append(Term(key.lower(), value.strip(), exclude))
        else:
            found.append(Term("", word, exclude))
    return found


def _clean(value: str) -> str:
    # As Mailpit cleans a word: punctuation around addresses is a space, case does not count.
    return " ".join(_CLEAN.sub(" ", value.replace("\ufeff", " ")).split()).casefold()


def size_in_bytes(text: str) -> int:
    """'2kb', '4MB', '1.5m' as Mailpit reads them; 0 for anything else."""
    found = _SIZE.match(text.strip().lower())
    if not found:
        return 0
    number = float(found.group(1) + (found.group(2) or ""))
    unit = found.group(3) or ""
    factor = {"": 1, "k": 1024, "kb": 1024, "m": 1024 * 1024, "mb": 1024 * 1024}.get(unit)
    return int(number * factor) if factor else 0


def _moment(text: str, zone: dt.tzinfo) -> dt.datetime | None:
    """A date or date and time in ``zone``, as naive UTC (the stored times); None if it is neither."""
    try:
        moment = dt.datetime.fromisoformat(text.strip().upper())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def zone_named(name: str | None) -> dt.tzinfo | None:
    """The time zone ``after:`` and ``before:`` read dates in (Mailpit's ``tz``); None for local time."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None  # as Mailpit: an unknown zone is ignored


def search_text(
    sender: str,
    subject: str,
    category: str,
    message_id: str,
    recipients: tuple[str, ...],
    added: tuple[ContactPersonAdded, ...],
) -> str:
    """A captured message's ``search_text`` column: what a plain word matches (see ``_condition``).

    The capture store writes it; it lives here, beside the query that reads it.
    """
    words = [sender, subject, category, message_id, *recipients, *(f"{one.email} {one.name}" for one in added)]
    return " ".join(words).casefold()


def _condition(term: Term, zone: dt.tzinfo):
    m = CapturedMessage
    key, raw = term.key, term.value
    value = _clean(raw)
    if key == "" or (key in ("to", "from", "cc", "bcc", "reply-to", "addressed", "message-id") and not value):
        text = _clean(raw if key == "" else f"{key}:{raw}")
        return (m.search_text.contains(text) | m.category_key.contains(text)) if text else None
    if key in ("to", "from", "cc", "reply-to"):
        column = {"to": m.to_text, "from": m.from_text, "cc": m.cc_text, "reply-to": m.reply_to_text}[key]
        return column.contains(value)
    if key == "bcc":
        # Whoever got the message without being named in To or Cc is in its envelope.
        return m.recipients.contains(value) | added_matches(value)
    if key == "addressed":
        return (
            m.to_text.contains(value)
            | m.from_text.contains(value)
            | m.cc_text.contains(value)
            | m.reply_to_text.contains(value)
            | m.recipients.contains(value)
            | added_matches(value)
        )
    if key == "subject":
        return m.subject.contains(raw) if raw else None
    if key == "message-id":
        return m.message_id.contains(value)
    if key in ("tag", "category"):
        return (m.category_key.contains(value) | m.category.contains(value)) if value else None
    if key == "added":
        return added_matches(value) if value else None
    if key == "is":
        return {
            "read": m.read == True,  # noqa: E712 - a peewee expression
            "unread": m.read == False,  # noqa: E712
            "tagged": m.category_key != "",
        }.get(value)
    if key == "has":
        return {
            "attachment": m.attachments > 0,
            "attachments": m.attachments > 0,
            "inline": m.inline_parts > 0,
            "inlines": m.inline_parts > 0,
        }.get(value)
    if key in ("after", "before"):
        moment = _moment(raw, zone)
        if moment is None:
            return None  # as Mailpit: a date it cannot read is left out
        return m.received_at >= moment if key == "after" else m.received_at <= moment
    if key in ("larger", "smaller"):
        size = size_in_bytes(value)
        if not size:
            return None
        return m.size > size if key == "larger" else m.size < size
    return None


def condition(query: str, zone: dt.tzinfo | None = None):
    """A peewee condition for every word of ``query``; None when it has none."""
    zone = zone or dt.datetime.now().astimezone().tzinfo or dt.UTC
    combined = None
    for term in terms(query):
        found = _condition(term, zone)
        if found is None:
            continue
        if term.exclude:
            found = ~found
        combined = found if combined is None else combined & found
    return combined
