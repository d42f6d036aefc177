"""A rule tried on the mail of the past, before it goes live: which of the
messages that came without a category header it would have tagged, and how
many copies the contact persons would have got.

The past is the relay log (its kept headers, tagging/kept.py) and the
captured messages (their headers as received), from a date on. Each message
is asked the relay's own question (engine.RuleSet) with the rule in its
place among the enabled rules: a message an earlier rule takes is not this
rule's. The copies are the directory's answer today (whom to add for that
category and those recipients), less the addresses the message already had.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from peewee import fn

from ..db import database_call
from ..mail.status import Decision
from ..mail.view import header_fields
from ..models import CapturedMessage, RelayLog, utcnow
from ..records import Resolution
from ..times import local_time
from .engine import KeptHeaders, RuleSet
from .kept import read_kept
from .rule import TaggingRule

_uses_database = database_call(lambda *args: RelayLog._meta.database)

LAST_WEEK = dt.timedelta(days=7)
PAST_LIMIT = 50_000
"""Messages a try reads at most, the newest: enough for a week of a busy billing run, and a TUI
holding them for every keystroke stays within some 100 MB."""
HEADER_BYTES = 64 * 1024
"""Bytes of a captured message read for its headers."""
_UNTOUCHED = (Decision.UNCHANGED, Decision.REWRITTEN, Decision.ENVELOPE_ONLY)


@dataclass(frozen=True, slots=True)
class PastMessage:
    """A message the relay took without a category header."""

    received_at: dt.datetime
    sender: str
    recipients: tuple[str, ...]
    subject: str
    headers: KeptHeaders
    log_id: int | None = None
    captured_id: int | None = None
    tagged_by: str = ""
    """The rule that tagged it when it came, if one did."""


@dataclass(frozen=True, slots=True)
class Hit:
    """A past message the rule would have tagged, and the copies it would have made."""

    message: PastMessage
    copies: int


@dataclass(frozen=True, slots=True)
class Trial:
    rule: TaggingRule
    since: dt.datetime
    considered: int
    """Messages without a category header since then."""
    hits: tuple[Hit, ...]
    taken_earlier: int
    """Messages the rule matches that an earlier rule tags first."""
    cut: bool = False
    """Only the newest ``PAST_LIMIT`` messages of the period were read."""

    @property
    def copies(self) -> int:
        return sum(hit.copies for hit in self.hits)

    def summary(self, now: dt.datetime | None = None) -> str:
        """ "this rule would have tagged 412 of last week's 1,930 untagged messages, adding 611 copies"."""
        now = now or utcnow()
        tagged, considered, copies = len(self.hits), self.considered, self.copies
        messages = f"untagged message{'' if considered == 1 else 's'}"
        newest = "newest " if self.cut else ""
        if abs((now - self.since) - LAST_WEEK) < dt.timedelta(minutes=5):
            which = f"last week's {newest}{considered:,} {messages}"
        else:
            which = f"the {newest}{considered:,} {messages} since {local_time(self.since)}"
        text = (
            f"this rule would have tagged {tagged:,} of {which}, adding {copies:,} cop{'y' if copies == 1 else 'ies'}"
        )
        if self.taken_earlier:
            text += f" ({self.taken_earlier:,} more match it, but an earlier rule tags them first)"
        return text


def place(rule: TaggingRule, rules: Sequence[TaggingRule]) -> tuple[list[TaggingRule], TaggingRule]:
    """The rules as they would be with ``rule`` in its place and enabled (a rule being written, or still
    off), and ``rule`` as placed. A saved rule keeps its number; a new one (no id) takes its number, or the last.
    """
    others = [other for other in rules if rule.id is None or other.id != rule.id]
    number = min(rule.number, len(others) + 1) if rule.number > 0 else len(others) + 1
    trying = replace(rule, enabled=True)
    placed = others[: number - 1] + [trying] + others[number - 1 :]
    renumbered = [replace(other, number=index) for index, other in enumerate(placed, start=1)]
    return renumbered, renumbered[number - 1]


def try_rule(
    rule: TaggingRule,
    rules: Sequence[TaggingRule],
    past: Sequence[PastMessage],
    resolve: Callable[[Sequence[str], str], Resolution],
    *,
    since: dt.datetime,
    stop: Callable[[], bool] = lambda: False,
) -> Trial | None:
    """What ``rule`` would have done to ``past`` among ``rules`` (see ``place``); None once ``stop`` says so.

    ``resolve(recipients, category)`` is the directory's answer (Directory.resolve).
    """
    placed, trying = place(rule, rules)
    everything = RuleSet(placed)
    alone = RuleSet([trying])
    own = next(index for index, other in enumerate(everything.rules) if other is trying)
    hits: list[Hit] = []
    taken = 0
    answers: dict[tuple[tuple[str, ...], str], Resolution] = {}
    for count, message in enumerate(past):
        if count % 256 == 0 and stop():
            return None
        if alone.first(message.headers, message.sender, message.recipients) is None:
            continue
        if everything.first(message.headers, message.sender, message.recipients) != own:
            taken += 1
            continue
        key = (message.recipients, trying.category)
        if key not in answers:
            answers[key] = resolve(list(message.recipients), trying.category)
        hits.append(Hit(message, _copies(answers[key], message)))
    return Trial(trying, since, len(past), tuple(hits), taken, cut=len(past) >= PAST_LIMIT)


def _copies(resolution: Resolution, message: PastMessage) -> int:
    """Contact persons the message would have gained: those not already among its recipients, To or Cc."""
    had = {address.lower() for address in message.recipients}
    for name in ("to", "cc"):
        for value in message.headers.texts(name):
            had.update(part.strip().strip("<>").lower() for part in value.replace(",", " ").split() if "@" in part)
    return sum(1 for person in resolution.additions if person.email.lower() not in had)


@_uses_database
def past_messages(since: dt.datetime, limit: int = PAST_LIMIT) -> list[PastMessage]:
    """Messages that came without a category header from ``since`` (naive UTC) on, newest first:
    the relay log's, and captured messages the log no longer has (or kept no headers of)."""
    found: list[PastMessage] = []
    with_headers: set[int] = set()
    no_header = (RelayLog.category == "") | (RelayLog.tagged_by != "")
    rows = (
        RelayLog.select(
            RelayLog.id,
            RelayLog.received_at,
            RelayLog.sender,
            RelayLog.recipients,
            RelayLog.subject,
            RelayLog.kept_headers,
            RelayLog.tagged_by,
            RelayLog.copy_of,
        )
        .where((RelayLog.received_at >= since) & RelayLog.decision.in_(_UNTOUCHED) & no_header)
        .order_by(RelayLog.received_at.desc(), RelayLog.id.desc())
        .limit(limit)
        .tuples()
    )
    # A message a rule tagged for several customers went out as one copy per customer, each
    # logged with its own recipients: it is one message of the past, to all of them.
    copies: dict[str, int] = {}
    for log_id, received_at, sender, recipients, subject, kept, tagged_by, copy_of in rows:
        if copy_of in copies:
            first = found[copies[copy_of]]
            found[copies[copy_of]] = replace(first, recipients=first.recipients + _list(recipients))
            continue
        if copy_of:
            copies[copy_of] = len(found)
        headers = read_kept(kept)
        if headers.fields:
            with_headers.add(log_id)
        else:  # logged before the headers were kept: the Subject is all there is
            headers = KeptHeaders((("subject", subject),))
        found.append(PastMessage(received_at, sender, _list(recipients), subject, headers, log_id, None, tagged_by))
    captured = (
        CapturedMessage.select(
            CapturedMessage.id,
            CapturedMessage.log,
            CapturedMessage.received_at,
            CapturedMessage.sender,
            CapturedMessage.recipients,
            CapturedMessage.subject,
            CapturedMessage.tagged_by,
            CapturedMessage.copy_of,
            fn.SUBSTR(CapturedMessage.original, 1, HEADER_BYTES),
        )
        .where(
            (CapturedMessage.received_at >= since)
            & ((CapturedMessage.category == "") | (CapturedMessage.tagged_by != ""))
        )
        .order_by(CapturedMessage.id.desc())
        .limit(limit)
        .tuples()
    )
    logged = {message.log_id: index for index, message in enumerate(found)}
    captured_copies: dict[str, int] = {}
    for captured_id, log_id, received_at, sender, recipients, subject, tagged_by, copy_of, head in captured:
        if log_id in with_headers or copy_of in copies:
            continue
        if copy_of in captured_copies:  # the log no longer has it: its copies are one message here too
            first = found[captured_copies[copy_of]]
            found[captured_copies[copy_of]] = replace(first, recipients=first.recipients + _list(recipients))
            continue
        headers = KeptHeaders(tuple(_field(line) for line in header_fields(bytes(head or b""))))
        message = PastMessage(received_at, sender, _list(recipients), subject, headers, log_id, captured_id, tagged_by)
        if log_id in logged:  # the log's entry had only the Subject: the capture has every header
            found[logged[log_id]] = message
        else:
            if copy_of:
                captured_copies[copy_of] = len(found)
            found.append(message)
    found.sort(key=lambda message: message.received_at, reverse=True)
    return found[:limit]


def _field(line: str) -> tuple[str, str]:
    name, _, value = line.partition(":")
    return name.strip().lower(), value.strip()


def _list(text: str) -> tuple[str, ...]:
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return ()
    return tuple(str(item) for item in value) if isinstance(value, list) else ()
