"""The receiving side's shortcut for plain MAIL FROM / RCPT TO addresses agrees with aiosmtpd's parser."""

from __future__ import annotations

import pytest
from aiosmtpd.smtp import SMTP
from hypothesis import given, settings
from hypothesis import strategies as st

from relay.server.protocol import RelaySMTP

_PIECES = [
    "a",
    "Z",
    "0",
    ".",
    "@",
    "-",
    "+",
    "_",
    "'",
    "<",
    ">",
    " ",
    "\t",
    "=",
    "[",
    "]",
    ":",
    ",",
    '"',
    "\\",
    "ü",
    "SIZE=100",
    "BODY=8BITMIME",
    "example.com",
    "x@y.example",
]


def _parsers(limit: int = 0) -> tuple[RelaySMTP, SMTP]:
    ours, theirs = RelaySMTP.__new__(RelaySMTP), SMTP.__new__(SMTP)
    ours.local_part_limit = theirs.local_part_limit = limit
    return ours, theirs


@pytest.mark.slow  # a property test: hundreds of generated cases
@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=12).map("".join))
def test_any_argument_parses_as_aiosmtpd_parses_it(text: str) -> None:
    ours, theirs = _parsers()
    for arg in (text, f"<{text}>", f"<{text}> SIZE=10"):
        arg = arg.strip()
        try:
            expected = theirs._getaddr(arg)
        except Exception as exc:  # whatever aiosmtpd raises, ours must too
            expected = type(exc)
        try:
            got = ours._getaddr(arg)
        except Exception as exc:
            got = type(exc)
        assert got == expected, arg


def test_plain_addresses_with_parameters_and_the_local_part_limit() -> None:
    ours, theirs = _parsers(limit=5)
    for arg in [
        "<billing@shop.example> SIZE=1200 BODY=8BITMIME",
        "<a.b+c@x-y.example>",
        "<toolong@x.example>",
        "<12345@x.example>\tSMTPUTF8",
    ]:
        assert ours._getaddr(arg) == theirs._getaddr(arg)
    assert ours._getaddr("<toolong@x.example>") == (None, None)
    assert ours._getaddr("<12345@x.example>\tSMTPUTF8") == ("12345@x.example", "SMTPUTF8")
    unlimited, _ = _parsers()
    assert unlimited._getaddr("<billing@shop.example> SIZE=1200") == ("billing@shop.example", "SIZE=1200")
