"""RFC 2047 encoded-words (``=?utf-8?b?...?=``) in header values, decoded for people.

One decoder for the TUI's message views and the relay's log (a subject is
stored as people read it). No database, no I/O: the relay's pure rewrite may
use it.
"""

from __future__ import annotations

import email.errors
from email.header import decode_header, make_header


def decode_words(text: str) -> str:
    """``text`` with its encoded-words decoded; as given if one does not decode.

    A hostile or broken word (bad base64, an unknown charset, bytes that are
    not in the charset) is not an error: the text stays as it was sent.
    """
    if "=?" not in text:
        return text
    try:
        return str(make_header(decode_header(text)))
    except (ValueError, LookupError, email.errors.HeaderParseError):  # UnicodeError is a ValueError
        return text
