"""The headers the relay log keeps of a message without a category header,
so that ``rules try`` can ask a new rule about the mail of the past.

Kept: every header field a rule can match (From, Subject, To, Cc, Reply-To,
X-Mailer, List-Id, ... as the sender wrote them), each cut to ``VALUE_MAX``
bytes, at most ``FIELDS_MAX`` fields and ``TOTAL_MAX`` bytes a message.
Not kept: the body (nothing of it), and the trace and signature fields
that are long and no rule needs (Received, DKIM and ARC signatures,
Authentication-Results). Only for messages that came without a
category header; they go with their relay log row, when the relay's log
retention (``--log-retention``, 90 days by default) deletes it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .engine import KeptHeaders

VALUE_MAX = 998
"""Bytes of a field kept: a line as RFC 5322 allows it."""
FIELDS_MAX = 60
TOTAL_MAX = 16 * 1024

NOT_KEPT = frozenset(
    {
        "received",
        "x-received",
        "dkim-signature",
        "x-google-dkim-signature",
        "domainkey-signature",
        "arc-seal",
        "arc-message-signature",
        "arc-authentication-results",
        "authentication-results",
        "received-spf",
    }
)

_LINE_BREAK = re.compile(r"\r?\n")


def keep(fields: Iterable[tuple[str, bytes]]) -> str:
    """The ``kept_headers`` column: the fields (lowercase name, bytes as received) a rule can match.

    Kept as the sender wrote them, folded and encoded: the relay spends no
    time on them per message; ``read_kept`` unfolds them when they are asked.
    """
    kept: list[bytes] = []
    total = 0
    for name, raw in fields:
        if not name or name in NOT_KEPT:
            continue
        if len(raw) > VALUE_MAX:
            raw = raw[:VALUE_MAX].rstrip(b"\r\n") + b"\r\n"
        total += len(raw)
        if total > TOTAL_MAX or len(kept) >= FIELDS_MAX:
            break
        kept.append(raw)
    return b"".join(kept).decode("utf-8", "replace")


def read_kept(text: str) -> KeptHeaders:
    """The kept headers of a relay log row, unfolded as the relay unfolds them (none for a row
    without them, or from before they were kept)."""
    fields = []
    for match in _FIELD.finditer(text):
        name, colon, value = match.group().partition(":")
        if colon:
            fields.append((name.strip().lower(), _LINE_BREAK.sub("", value).strip()))
    return KeptHeaders(tuple(fields))


# A field: a line that starts with a non-blank character and its continuation lines.
_FIELD = re.compile(r"[^ \t\r\n][^\n]*\n?(?:[ \t][^\n]*\n?)*")
