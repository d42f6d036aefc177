"""Relay data for the relay log and captured messages screens: a real capture
relay, and fixed rows (for screenshots, whose times must not move)."""

from __future__ import annotations

import datetime as dt
import json
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from contacts_tui.core.models import CapturedMessage, RelayLog
from relay.config import RelayConfig
from relay.app import RelayThread

from ..waiting import wait_until

DEADLINE = 15.0
RECEIVED = dt.datetime(2024, 3, 1, 9, 30, 5)
"""Long past, so the screens show date and time, the same on any day."""


@contextmanager
def capture_relay(directory, tmp_path) -> Iterator[RelayThread]:
    """A relay in capture mode on an ephemeral loopback port, as ``contacts-tui demo`` starts it."""
    config = RelayConfig(listen_host="127.0.0.1", listen_port=0, capture=True, hostname="test-relay.localhost",
                         spool=tmp_path / "spool")
    relay = RelayThread(config, directory).start()
    try:
        yield relay
    finally:
        relay.stop()


async def wait_for(condition: Callable[[], Any], describe: Callable[[], Any] | None = None) -> Any:
    """``wait_until`` with the UI tests' deadline."""
    return await wait_until(condition, DEADLINE, describe)


ORIGINAL = (
    b"From: Demo Shop Billing <billing@demo-shop.example>\r\n"
    b"To: Acme Trading Ltd <accounts@acme-trading.example>\r\n"
    b"Subject: Your invoice INV-2024-0042\r\n"
    b"Date: Fri, 01 Mar 2024 09:30:04 +0000\r\n"
    b"Message-ID: <inv-0042@demo-shop.example>\r\n"
    b"X-Notification-Category: invoice.created\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/alternative; boundary=\"b1\"\r\n"
    b"\r\n"
    b"--b1\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Dear Acme Trading Ltd,\r\n\r\nyour invoice INV-2024-0042 is attached.\r\n"
    b"--b1\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"\r\n"
    b"<p>Dear Acme Trading Ltd,</p><p>your invoice <b>INV-2024-0042</b> is attached.</p>\r\n"
    b"--b1--\r\n"
)
RECEIVED_LINE = (
    b"Received: from shop.example ([127.0.0.1]) by test-relay.localhost (Contact Persons relay)\r\n"
    b" with ESMTP id 5F3A1C for <accounts@acme-trading.example>; Fri, 01 Mar 2024 09:30:05 +0000\r\n"
)
REWRITTEN = RECEIVED_LINE + ORIGINAL.replace(
    b"Subject:", b"Cc: Beatrice Bookman <bookkeeping@acme-trading.example>\r\nSubject:", 1
)
BEA = {"email": "bookkeeping@acme-trading.example", "name": "Beatrice Bookman",
       "customer": "accounts@acme-trading.example", "reason": "opted in to billing"}


def log_row(number: int = 1, **fields: Any) -> int:
    """A relay log entry as the relay writes it; returns its id."""
    values = {
        "received_at": RECEIVED + dt.timedelta(minutes=number),
        "updated_at": RECEIVED + dt.timedelta(minutes=number),
        "relay": "test-relay.localhost",
        "queue_id": f"5F3A{number:04X}",
        "message_id": f"<msg-{number}@demo-shop.example>",
        "sender": "billing@demo-shop.example",
        "recipients": json.dumps(["accounts@acme-trading.example"]),
        "subject": f"Your invoice INV-2024-{number:04d}",
        "category": "invoice.created",
        "category_key": "billing",
        "customers": json.dumps(["accounts@acme-trading.example"]),
        "added": json.dumps([BEA]),
        "decision": "rewritten",
        "reason": "1 contact person(s) of Acme Trading Ltd opted in to billing",
        "status": "delivered",
        "attempts": 1,
        "size": len(ORIGINAL),
        "delivered_at": RECEIVED + dt.timedelta(minutes=number, seconds=2),
    }
    values.update(fields)
    for name in ("recipients", "customers", "added"):
        if not isinstance(values[name], str):
            values[name] = json.dumps(values[name])
    return RelayLog.insert(**values).execute()


def captured_row(number: int = 1, *, original: bytes = ORIGINAL, rewritten: bytes = REWRITTEN,
                 added: list | None = None, subject: str = "Your invoice INV-2024-0042",
                 recipients: tuple[str, ...] = ("accounts@acme-trading.example",), **log_fields: Any) -> int:
    """A captured message with its log entry, as a capture relay stores them; returns its id."""
    added = [BEA] if added is None else added
    log_id = log_row(number, status="captured", attempts=0, delivered_at=None, subject=subject,
                     recipients=list(recipients), added=added, **log_fields)
    searchable = " ".join(["billing@demo-shop.example", subject, "invoice.created", *recipients]
                          + [a["email"] + " " + a["name"] for a in added]).casefold()
    return CapturedMessage.insert(
        log=log_id,
        received_at=RECEIVED + dt.timedelta(minutes=number),
        sender="billing@demo-shop.example",
        recipients=json.dumps(list(recipients)),
        subject=subject,
        message_id=f"<msg-{number}@demo-shop.example>",
        category="invoice.created",
        added=json.dumps(added),
        search_text=searchable,
        original=original,
        message=rewritten,
        size=len(rewritten),
    ).execute()
