"""The ``Received`` trace field the relay puts on top of every message it accepts (RFC 5321 4.4)."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime

from .headers import CRLF


def received_header(
    *,
    helo: str,
    peer_ip: str,
    by_host: str,
    queue_id: str,
    peer_host: str | None = None,
    recipients: Sequence[str] = (),
    esmtp: bool = True,
    tls: bool = False,
    authenticated: bool = False,
    smtputf8: bool = False,
    when: datetime | None = None,
    eol: bytes = CRLF,
) -> bytes:
    """An RFC 5321 4.4 ``Received`` trace field for a message this relay accepted.

    Everything the peer chose (HELO, reverse DNS name) is reduced to printable
    ASCII without comment or clause delimiters, so it can neither break the
    field nor forge trace clauses. ``for <addr>`` is given only for a single
    recipient, as Postfix does, so a message does not disclose its other
    recipients. ``with`` follows RFC 3848 / RFC 6531 (ESMTPSA, UTF8SMTPS, ...).
    """
    if when is None:
        date = _date_now()
    else:
        date = format_datetime(when if when.tzinfo is not None else when.replace(tzinfo=UTC))
    protocol = ("UTF8SMTP" if smtputf8 else "ESMTP") if esmtp else "SMTP"
    if esmtp:
        protocol += ("S" if tls else "") + ("A" if authenticated else "")
    lines = [
        f"Received: from {_token(helo)} ({_token(peer_host or '')} [{_address_literal(peer_ip)}])",
        f"\tby {_token(by_host)} (Contact Persons relay) with {protocol} id {_token(queue_id)}",
    ]
    if len(recipients) == 1:
        lines.append(f"\tfor <{_trace_address(recipients[0])}>; {date}")
    else:
        lines[-1] += ";"
        lines.append(f"\t{date}")
    return eol.join(line.encode("utf-8") for line in lines) + eol


_date_cache: tuple[int, str] = (-1, "")


def _date_now() -> str:
    """Now as an RFC 5322 date, formatted once per second: formatting it for
    every message was half the rewrite's time under load."""
    global _date_cache
    second = int(time.time())
    if _date_cache[0] != second:
        _date_cache = (second, format_datetime(datetime.fromtimestamp(second, UTC)))
    return _date_cache[1]


def _token(text: str, limit: int = 255) -> str:
    """``text`` as printable ASCII without blanks, comment or angle delimiters, quotes or ';'."""
    kept = "".join(ch for ch in text if 32 < ord(ch) < 127 and ch not in '()<>;\\"')
    return kept[:limit] or "unknown"


def _address_literal(peer_ip: str) -> str:
    try:
        ip = ipaddress.ip_address(peer_ip.strip().strip("[]"))
    except ValueError:
        return _token(peer_ip).replace("[", "").replace("]", "")
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return f"IPv6:{ip}" if ip.version == 6 else str(ip)


def _trace_address(address: str) -> str:
    return "".join(ch for ch in address if ch.isprintable() and not ch.isspace() and ch not in "<>;")[:254]
