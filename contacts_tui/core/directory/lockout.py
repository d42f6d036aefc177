"""How many sign-in codes an address may ask for, and when it may ask again.

An address gets at most ``MAX_REQUESTS`` codes in ``REQUEST_WINDOW``. Every
request is counted, a customer's address or not: the limit, and when it
ends, can then be told to whoever asks without telling who is a customer
(the portal answers every address alike). Requests are kept by a hash of
the address only, and for no longer than the window.

An admin lifts a lock (``contacts-tui portal --unlock``, or on the customer
screen) through the directory, which records it in the history.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from ..models import CodeRequest
from ..validate import email_key

MAX_REQUESTS = 3
REQUEST_WINDOW = dt.timedelta(hours=1)


def address_hash(address: str) -> str:
    """The stored form of an address: SHA-256 of its key (case-insensitive)."""
    return hashlib.sha256(email_key(address).encode("utf-8")).hexdigest()


def next_request_at(address: str, now: dt.datetime) -> dt.datetime | None:
    """When ``address`` may ask for a code again; ``None``: now."""
    times = (
        CodeRequest.select(CodeRequest.requested_at)
        .where((CodeRequest.address == address_hash(address)) & (CodeRequest.requested_at > now - REQUEST_WINDOW))
        .order_by(CodeRequest.requested_at.desc())
        .limit(MAX_REQUESTS)
    )
    recent = [row.requested_at for row in times]
    if len(recent) < MAX_REQUESTS:
        return None
    # The oldest of the last MAX_REQUESTS leaving the window frees a place.
    return recent[-1] + REQUEST_WINDOW


def take(address: str, now: dt.datetime) -> dt.datetime | None:
    """Count a request for ``address`` if it may make one (``None``), or
    return when it may; inside the caller's write transaction."""
    later = next_request_at(address, now)
    if later is not None:
        return later
    # Requests older than the window count for nobody: they go as new ones come.
    CodeRequest.delete().where(CodeRequest.requested_at <= now - REQUEST_WINDOW).execute()
    CodeRequest.insert(address=address_hash(address), requested_at=now).execute()
    return None


def lift(address: str, now: dt.datetime) -> dt.datetime | None:
    """Forget the address's requests, so it may ask for codes at once;
    returns when its lock would have ended, or ``None`` when it had none."""
    until = next_request_at(address, now)
    CodeRequest.delete().where(CodeRequest.address == address_hash(address)).execute()
    return until
