"""Sample notifications, as a billing application would send them.

The demo and the TUI's "send sample" action use these to show the relay at
work; tests use them as realistic input.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import smtplib
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

from ..catalog import Catalog

SAMPLE_SENDER = "billing@demo-shop.example"
SAMPLE_SENDER_NAME = "Demo Shop Billing"

_SUBJECTS = {
    "invoice.created": "Your invoice INV-2026-0042",
    "payment.received": "Payment received for INV-2026-0042, thank you",
    "payment.reminder": "Reminder: INV-2026-0042 is due soon",
    "invoice.overdue": "INV-2026-0042 is overdue",
    "mandate.requested": "Please confirm your direct debit mandate",
    "mandate.activated": "Your direct debit mandate is active",
    "order.confirmed": "Order #1042 confirmed",
    "order.completed": "Order #1042 is on its way",
    "subscription.suspended": "Your subscription is suspended",
    "subscription.changed": "Your subscription has changed",
}


def sample_type(catalog: Catalog, category: str) -> str:
    """The first email type of a category, or the category key itself."""
    found = catalog.get(category)
    return found.types[0].key if found and found.types else category


def build_sample(
    customer_name: str, customer_email: str, header_value: str, *, header: str = "X-Notification-Category"
) -> bytes:
    """A realistic notification to one customer, tagged with ``header_value``."""
    message = EmailMessage()
    message["From"] = formataddr((SAMPLE_SENDER_NAME, SAMPLE_SENDER))
    message["To"] = formataddr((customer_name, customer_email))
    message["Subject"] = _SUBJECTS.get(header_value, f"Your {header_value} notification")
    message["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    message["Message-ID"] = make_msgid(domain="demo-shop.example")
    message[header] = header_value
    message.set_content(
        f"Dear {customer_name},\n\n"
        f"this is a sample '{header_value}' notification from Demo Shop.\n"
        "Contact persons who opted in to this category get a copy in Cc.\n\n"
        "Kind regards,\nDemo Shop\n"
    )
    message.add_alternative(
        f"<p>Dear {customer_name},</p><p>this is a sample <b>{header_value}</b> notification from Demo Shop.</p>",
        subtype="html",
    )
    # SMTP wants CRLF, and smtplib sends bytes as they are: with bare LF the
    # whole message is one line to the server, refused once over 1000 bytes.
    return message.as_bytes(policy=email.policy.SMTP)


def send_sample(host: str, port: int, customer_email: str, message: bytes, timeout: float = 30.0) -> str:
    """Send over SMTP; returns the server's final reply, code first ("250 2.0.0 Ok: ...").

    Raises OSError or SMTPException.
    """
    needs_utf8 = not customer_email.isascii()
    with smtplib.SMTP(host, port, timeout=timeout) as client:
        client.ehlo()
        client.mail(SAMPLE_SENDER, ["SMTPUTF8", "BODY=8BITMIME"] if needs_utf8 else [])
        code, reply = client.rcpt(customer_email)
        if code >= 400:
            raise smtplib.SMTPRecipientsRefused({customer_email: (code, reply)})
        code, reply = client.data(message)
        if code >= 400:
            raise smtplib.SMTPDataError(code, reply)
        return f"{code} {reply.decode('utf-8', errors='replace')}"
