"""Encoded-words in header values, as the TUI and the relay log show them."""

from __future__ import annotations

import pytest

from contacts_tui.core.mail.encoded_words import decode_words


@pytest.mark.parametrize(
    "text, shown",
    [
        ("=?utf-8?b?SsO8cmdlbiBXZWnDnw==?= <j@example.com>", "Jürgen Weiß <j@example.com>"),
        ("Rechnung =?iso-8859-1?q?f=FCr_M=E4rz?=", "Rechnung für März"),
        ("plain text, no words", "plain text, no words"),
    ],
)
def test_encoded_words_read_as_people_write_them(text, shown):
    assert decode_words(text) == shown


@pytest.mark.parametrize(
    "text",
    [
        "=?utf-8?b?a?=",  # broken base64
        "=?x-no-such-charset?q?a?=",
        "=?utf-8?q?=FF?=",  # not UTF-8
    ],
    ids=["base64", "charset", "bytes"],
)
def test_a_word_that_does_not_decode_stays_as_sent(text):
    assert decode_words(f"Invoice {text}") == f"Invoice {text}"
