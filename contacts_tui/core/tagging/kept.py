"""The headers the relay log keeps of a message without a category header,
so that ``rules try`` can ask a new rule about the mail of the past.

Kept: every header field a rule can match (From, Subject, To, Cc, Reply-To,
X-Mailer, List-Id, ... as the sender wrote them, unfolded), each value cut
to ``VALUE_MAX`` characters, at most ``FIELDS_MAX`` fields and ``TOTAL_MAX``
characters a message. Not kept: the body (nothing of it), and the trace and
signature fields that are long and no rule needs (Received, DKIM and ARC
signatures, Authentication-Results). Only for messages that came without a
category header; they go with their relay log row, when the relay's log
retention (``--log-retention``, 90 days by default) deletes it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from .engine import KeptHeaders

VALUE_MAX = 998
"""Characters of a value kept: a line as RFC 5322 allows it."""
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


def keep(fields: Iterable[tuple[str, str]]) -> str:
    """The ``kept_headers`` column for (lowercase name, unfolded value) pairs in message order."""
    kept: list[list[str]] = []
    total = 0
    for name, value in fields:
        if not name or name in NOT_KEPT:
            continue
        value = value[:VALUE_MAX]
        total += len(name) + len(value)
        if total > TOTAL_MAX or len(kept) >= FIELDS_MAX:
            break
        kept.append([name, value])
    return json.dumps(kept, ensure_ascii=False, separators=(",", ":"))


def read_kept(text: str) -> KeptHeaders:
    """The kept headers of a relay log row; none for a row without them (or from before they were kept)."""
    try:
        items = json.loads(text) if text else []
    except ValueError:
        items = []
    if not isinstance(items, list):
        items = []
    return KeptHeaders(
        tuple(
            (str(item[0]).lower(), str(item[1]))
            for item in items
            if isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)
        )
    )
