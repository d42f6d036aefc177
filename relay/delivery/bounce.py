"""RFC 3464 delivery status notifications (bounces), built as bytes with no I/O.

A DSN is ``multipart/report; report-type=delivery-status`` with three parts:
a plain-words explanation, the machine-readable ``message/delivery-status``,
and the original message's headers as ``text/rfc822-headers`` (the headers
only: smaller, and attachments are not mailed back). When an address or the
original headers are not ASCII, the RFC 6533 forms ``message/global-delivery-
status`` (with ``utf-8;`` addresses) and ``message/global-headers`` are used;
such a DSN needs SMTPUTF8 to travel, like the message it reports on.

The MIME structure is written by hand rather than with ``email.message``: the
original headers must be copied byte for byte, which the ``email`` generator
does not promise.
"""

from __future__ import annotations

import datetime as dt
import quopri
import re
import secrets
from collections.abc import Mapping
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import format_datetime, make_msgid

from contacts_tui.core import controls

from ..queue.reply import Failure
from ..rewrite.headers import header_end

_REPLY = re.compile(r"^[2-5]\d\d[ -]")
_CONTROL = re.compile(f"[{controls.ALL}]+")
_MESSAGE_ID = re.compile(r"^<[\x21-\x7e]{1,500}>$")
_MAX_DIAGNOSTIC = 900  # keeps every line well under SMTP's 998-octet limit


def _datetime(value: dt.datetime | float) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime.fromtimestamp(value, dt.UTC)


def _one_line(text: str) -> str:
    # Reply texts come from another server: no line breaks or controls may
    # reach our header fields.
    return _CONTROL.sub(" ", text).strip()[:_MAX_DIAGNOSTIC]


def _header_section(message: bytes) -> bytes:
    """The message's header block with CRLF line ends."""
    lines = message[: header_end(message)].replace(b"\r\n", b"\n").split(b"\n")
    return b"".join(line.rstrip(b"\r") + b"\r\n" for line in lines if line)


def _original_message_id(headers: bytes) -> str | None:
    value = BytesHeaderParser(policy=compat32).parsebytes(headers).get("Message-ID")
    value = str(value or "").strip()
    return value if _MESSAGE_ID.match(value) else None


def _human_text(failed: Mapping[str, Failure], reporting_mta: str) -> str:
    lines = [
        f"This is the mail system at {reporting_mta}.",
        "",
        "Your message could not be delivered to the following " + ("recipient." if len(failed) == 1 else "recipients."),
        "",
    ]
    for recipient, failure in failed.items():
        diagnostic = _one_line(str(failure.reply))
        if failure.expired:
            lines.append(f"<{recipient}>: it still could not be delivered when the retry period ended.")
            lines.append(f"    The last attempt said: {diagnostic}")
        elif _REPLY.match(diagnostic):
            lines.append(f"<{recipient}>: the receiving mail server refused it and answered:")
            lines.append(f"    {diagnostic}")
        else:
            lines.append(f"<{recipient}>: {diagnostic}")
    lines += ["", "A delivery status report and the headers of your message are attached.", ""]
    return "\n".join(lines)


def _text_part(text: str) -> list[bytes]:
    if text.isascii():
        return [
            b"Content-Type: text/plain; charset=us-ascii",
            b"Content-Transfer-Encoding: 7bit",
            b"",
            text.replace("\n", "\r\n").encode("ascii"),
        ]
    encoded = quopri.encodestring(text.encode("utf-8")).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return [b"Content-Type: text/plain; charset=utf-8", b"Content-Transfer-Encoding: quoted-printable", b"", encoded]


def _status_fields(
    failed: Mapping[str, Failure],
    reporting_mta: str,
    arrival: dt.datetime,
    queue_id: str | None,
    remote_mta: str | None,
) -> str:
    groups = [[f"Reporting-MTA: dns; {reporting_mta}"]]
    if queue_id:
        groups[0].append(f"X-Contacts-Relay-Queue-ID: {queue_id}")
    groups[0].append(f"Arrival-Date: {format_datetime(arrival)}")
    for address, failure in failed.items():
        recipient = _one_line(address)
        address_type = "rfc822" if recipient.isascii() else "utf-8"
        diagnostic = _one_line(str(failure.reply))
        group = [
            f"Final-Recipient: {address_type}; {recipient}",
            "Action: failed",
            f"Status: {failure.status}",
        ]
        if _REPLY.match(diagnostic):
            if remote_mta:
                group.append(f"Remote-MTA: dns; {remote_mta}")
            group.append(f"Diagnostic-Code: smtp; {diagnostic}")
        else:
            group.append(f"Diagnostic-Code: X-Contacts-Relay; {diagnostic}")
        groups.append(group)
    return "\r\n\r\n".join("\r\n".join(group) for group in groups) + "\r\n"


def build_dsn(
    original: bytes,
    sender: str,
    failed: Mapping[str, Failure],
    reporting_mta: str,
    arrival_date: dt.datetime | float,
    now: dt.datetime | float | None = None,
    *,
    queue_id: str | None = None,
    remote_mta: str | None = None,
) -> bytes:
    """A DSN to ``sender`` reporting ``failed`` for the message ``original``.

    ``original`` may be the whole message or just its headers; only the
    headers are included. ``failed`` maps each recipient to why it failed.
    The result is the complete message (CRLF line ends), to be sent from the
    null sender.
    """
    if not failed:
        raise ValueError("a DSN needs at least one failed recipient")
    moment = _datetime(now if now is not None else dt.datetime.now(dt.UTC))
    headers = _header_section(original)
    utf8_addresses = not sender.isascii() or not all(recipient.isascii() for recipient in failed)
    boundary = f"=_report_{secrets.token_hex(12)}"
    message_id = make_msgid("dsn", domain=reporting_mta)
    top = [
        f"From: Mail Delivery System <MAILER-DAEMON@{reporting_mta}>",
        f"To: <{_one_line(sender)}>",
        "Subject: Undelivered Mail Returned to Sender",
        f"Date: {format_datetime(moment)}",
        f"Message-ID: {message_id}",
        "Auto-Submitted: auto-replied",
    ]
    original_id = _original_message_id(headers)
    if original_id:
        top += [f"In-Reply-To: {original_id}", f"References: {original_id}"]
    top += [
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
    ]
    status_type = "message/global-delivery-status" if utf8_addresses else "message/delivery-status"
    status = _status_fields(failed, reporting_mta, _datetime(arrival_date), queue_id, remote_mta).encode("utf-8")
    headers_type = "text/rfc822-headers" if headers.isascii() else "message/global-headers"
    mark = f"--{boundary}".encode("ascii")
    parts = [
        "\r\n".join(top).encode("utf-8"),
        b"",
        b"This is a MIME-encapsulated message.",
        b"",
        mark,
        *_text_part(_human_text(failed, reporting_mta)),
        mark,
        f"Content-Type: {status_type}".encode("ascii"),
        b"Content-Transfer-Encoding: " + (b"7bit" if status.isascii() else b"8bit"),
        b"",
        status,
        mark,
        f"Content-Type: {headers_type}".encode("ascii"),
        b"Content-Transfer-Encoding: " + (b"7bit" if headers.isascii() else b"8bit"),
        b"",
        headers,
        mark + b"--",
        b"",
    ]
    return b"\r\n".join(parts)
