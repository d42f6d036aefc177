"""Keeping what clients send out of aiosmtpd's log lines."""

from __future__ import annotations

import logging


class _NoClientText(logging.Filter):
    """Keeps what clients send out of aiosmtpd's 'mail.log' lines.

    aiosmtpd quotes client input in its log: every command line (at INFO),
    and at WARNING any line it does not recognise, which includes the base64
    password of an AUTH LOGIN refused for want of TLS and the binary bytes
    of a TLS handshake sent to the plain port. Every argument of its log
    calls other than the peer address and numbers is replaced by its length.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_harmless(value) for value in record.args)
        elif record.args:
            record.args = {key: _harmless(value) for key, value in record.args.items()}
        return True


def _harmless(value):
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, tuple) and all(isinstance(part, (str, int)) for part in value):
        return value  # the peer, ('192.0.2.2', 43654)
    if isinstance(value, (str, bytes, bytearray)):
        return f"[{len(value)} characters from the client, not logged]"
    return f"[{type(value).__name__}, not logged]"


def keep_client_text_out_of_the_log() -> None:
    """Install the 'mail.log' filter once per process (every Relay calls it)."""
    mail_log = logging.getLogger("mail.log")
    if not any(isinstance(existing, _NoClientText) for existing in mail_log.filters):
        mail_log.addFilter(_NoClientText())
