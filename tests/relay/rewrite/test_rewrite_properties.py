"""Properties of the rewrite over generated messages: whatever comes in, nothing is lost.

Messages mix folded and unfolded headers, zero to three Cc fields, CRLF or LF,
with or without a body of arbitrary (8-bit) bytes; additions mix fresh,
duplicate and already-addressed people with arbitrary Unicode names.
"""

from __future__ import annotations

import email
import email.policy
import re
from email.errors import NonASCIILocalPartDefect
from email.header import decode_header, make_header
from email.utils import getaddresses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contacts_tui.core.records import Addition
from relay.rewrite import received_header, rewrite
from relay.rewrite.headers import HeaderBlock, line_ending, parse_fields, split_message
from relay.rewrite.mailbox import clean_display_name

ascii_address = st.builds(
    "{}@{}.{}".format,
    st.from_regex(r"[a-z0-9+_-]{1,8}(\.[a-z0-9+_-]{1,6}){0,2}", fullmatch=True),
    st.from_regex(r"[a-z0-9]{1,10}", fullmatch=True),
    st.sampled_from(["example", "test", "com"]),
)
utf8_address = st.builds(
    "{}@{}.jp".format,
    st.text(st.characters(whitelist_categories=("Ll", "Lu", "Lo")), min_size=1, max_size=8),
    st.sampled_from(["例え", "bücher", "example"]),
)
address = st.one_of(ascii_address, ascii_address, utf8_address)
plain_name = st.from_regex(r"[A-Za-z][A-Za-z .,'()-]{0,30}", fullmatch=True).map(str.strip)


@st.composite
def mailbox_list(draw) -> str:
    """An address list as a sender would write it: bare or ``Name <addr>``."""
    items = []
    for addr in draw(st.lists(ascii_address, min_size=1, max_size=4)):
        name = draw(st.one_of(st.just(""), plain_name))
        items.append(f'"{name}" <{addr}>' if name else addr)
    return ", ".join(items)


header_text = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20)
header_value = st.lists(header_text, min_size=1, max_size=8).map(" ".join)
other_name = st.one_of(
    st.sampled_from(["Subject", "From", "Date", "Message-ID", "MIME-Version", "X-Mailer", "Reply-To"]),
    st.from_regex(r"X-[A-Za-z0-9-]{1,12}", fullmatch=True),
)


def fold(value: str, eol: str, cuts: list[int]) -> str:
    """The value folded before some of its blanks (only there, as RFC 5322 allows)."""
    parts = value.split(" ")
    out = parts[0]
    for index, part in enumerate(parts[1:]):
        out += (eol + " " if index in cuts else " ") + part
    return out


@st.composite
def messages(draw) -> tuple[bytes, list[str]]:
    """A message and the envelope recipients it came with."""
    eol = draw(st.sampled_from(["\r\n", "\n"]))
    to = draw(mailbox_list())
    fields = [("To", to)]
    fields += [("Cc", draw(mailbox_list())) for _ in range(draw(st.integers(0, 3)))]
    fields += [(draw(other_name), draw(header_value)) for _ in range(draw(st.integers(0, 6)))]
    if draw(st.booleans()):
        covered = draw(st.sampled_from(["from:to:subject", "From : CC:subject", "from:to:cc"]))
        fields.append(("DKIM-Signature", f"v=1; a=rsa-sha256; d=x.example; s=s; h={covered}; bh=AAA=; b=BBB="))
    fields = draw(st.permutations(fields))
    lines = []
    for name, value in fields:
        name = draw(st.sampled_from([name, name.lower(), name.upper()]))
        cuts = draw(st.lists(st.integers(0, 10), max_size=3))
        lines.append(f"{name}: {fold(value, eol, cuts)}{eol}")
    head = "".join(lines).encode("utf-8")
    if draw(st.booleans()):
        head += eol.encode() + draw(st.binary(max_size=300))
    envelope = [a for _, a in getaddresses([to]) if draw(st.booleans())]
    envelope += draw(st.lists(ascii_address, max_size=2))
    return head, envelope


@st.composite
def additions(draw, message: bytes, envelope: list[str]) -> list[Addition]:
    present = HeaderBlock.of(message).addresses() + envelope
    again = st.sampled_from(present + [a.upper() for a in present])
    pool = st.one_of(address, address, again)
    names = st.one_of(st.just(""), plain_name, st.text(max_size=40))
    people = draw(st.lists(st.builds(Addition, pool, names), max_size=8))
    return people + draw(st.lists(st.sampled_from(people), max_size=2)) if people else people


@st.composite
def cases(draw):
    message, envelope = draw(messages())
    people = draw(additions(message, envelope))
    trace = draw(
        st.one_of(
            st.none(),
            st.just(
                received_header(
                    helo="app",
                    peer_ip="127.0.0.1",
                    by_host="relay",
                    queue_id="Q1",
                    recipients=envelope[:1],
                )
            ),
        )
    )
    return message, envelope, people, trace


def non_cc(message: bytes) -> list[bytes]:
    return [f.raw for f in parse_fields(split_message(message)[0]) if f.name != "cc"]


def cc_addresses(message: bytes) -> list[str]:
    return HeaderBlock.of(message).addresses(("cc",))


@pytest.mark.slow  # a property test: hundreds of generated cases
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_rewrite_preserves_everything_it_does_not_add(case):
    message, envelope, people, trace = case
    result = rewrite(message, envelope, people, trace=trace)
    out = result.message
    head, body = split_message(out)

    # The body, and every header other than Cc, is byte-identical and in order.
    assert body == split_message(message)[1]
    kept = non_cc(out)
    # The trace goes on top, in the message's own line ending.
    trace_bytes = trace.replace(b"\r\n", b"\n").replace(b"\n", line_ending(message)) if trace else b""
    assert out.startswith(trace_bytes)
    if trace:
        kept = kept[1:]
    assert kept == non_cc(message)

    # It parses, the old Cc addresses come first, then exactly the added ones.
    parsed = email.message_from_bytes(out, policy=email.policy.default)
    for name in ("To", "Cc", "Subject"):
        parsed.get_all(name)
    before = cc_addresses(message)
    if result.header_added:
        assert [f.name for f in parse_fields(head)].count("cc") == 1
        assert cc_addresses(out) == before + result.header_added
        text_parsed = email.message_from_string(head.decode("utf-8"), policy=email.policy.default)
        assert [a.addr_spec for a in text_parsed["Cc"].addresses][-len(result.header_added) :] == result.header_added
        # SMTPUTF8 local parts are flagged, rightly: they need SMTPUTF8 downstream.
        defects = [d for d in text_parsed["Cc"].defects if not isinstance(d, NonASCIILocalPartDefect)]
        assert not defects
    else:
        assert out == trace_bytes + message

    # A signature over Cc (however folded or cased) keeps the Cc untouched.
    signatures = [f.raw for f in parse_fields(split_message(message)[0]) if f.name == "dkim-signature"]
    signs_cc = any(re.search(rb"h=[^;]*(?<![\w-])cc(?![\w-])", raw, re.IGNORECASE) for raw in signatures)
    assert result.cc_locked_by_dkim == (signs_cc and bool(result.envelope_added))

    # Every addition is accounted for, once; nobody already addressed is added.
    assert len(result.envelope_added) + len(result.skipped) == len(people)
    taken = {a.lower() for a in HeaderBlock.of(message).addresses() + envelope}
    added = [a.lower() for a in result.envelope_added]
    assert len(set(added)) == len(added) and not taken & set(added)
    assert set(envelope) <= set(envelope) | set(result.envelope_added)
    assert result.header_added in ([], result.envelope_added)
    assert result.needs_smtputf8 == (not all(a.isascii() for a in result.envelope_added))

    # What was written stays within the line limits and adds no other field.
    assert all(len(line) <= 998 for line in head.splitlines())
    old_lines = split_message(message)[0].splitlines()
    new_lines = set(head.splitlines()) - set(old_lines) - set((trace or b"").splitlines())
    # Merged Cc values keep their own (maybe long) lines, plus a comma.
    limit = max([78] + [len(line) + 1 for line in old_lines])
    assert all(len(line.decode("utf-8")) <= limit for line in new_lines)
    names_out = {f.name for f in parse_fields(head)}
    assert names_out <= {f.name for f in parse_fields(split_message(message)[0])} | {"cc", "received"}


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.builds(Addition, ascii_address, st.text(max_size=60)), min_size=1, max_size=5, unique_by=lambda a: a.email
    )
)
def test_display_names_decode_back_per_rfc_2047(people):
    message = b"From: a@shop.example\r\nTo: cust@example.com\r\nSubject: x\r\n\r\nbody\r\n"
    result = rewrite(message, ["cust@example.com"], people)
    head = split_message(result.message)[0].decode("utf-8")
    raw_cc = email.message_from_string(head)["Cc"]  # compat32: the value as written
    decoded = [(str(make_header(decode_header(name))), addr) for name, addr in getaddresses([raw_cc])]
    assert decoded == [(clean_display_name(p.name), p.email) for p in people]
