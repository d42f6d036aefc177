"""Generated messages through the running relay (issue 4's "Done when").

One relay (``RelayThread``) and one recording upstream serve the whole module.
For every generated message, what reaches the upstream must parse, keep the
body bytes and every original header field byte for byte and in order (only
Cc may grow, keeping what it had), carry the relay's one Received field on
top, and go to a superset of the envelope recipients the client gave, the
additions all visible in Cc unless they were there already.
"""

from __future__ import annotations

import email
import email.policy
import itertools
import re
from email.utils import getaddresses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contacts_tui.core.catalog import DEFAULT_CATALOG
from contacts_tui.core.db import open_database
from contacts_tui.core.directory.service import Directory
from relay.app import RelayThread

from ..waiting import poll
from .helpers import ACME, BETA, QUIET, UTF8_CUSTOMER, header_lines, relay_config, seed, smtp_send, split
from .helpers.upstream import Upstream

_ids = itertools.count()

CUSTOMERS = [ACME, BETA, QUIET, UTF8_CUSTOMER, "ACME@Customer.Example"]
OTHERS = ["someone@else.example", "books@acme.example", "office@acme.example", "bea@beta.example"]
RESERVED = {"cc", "to", "from", "received", "message-id", "x-notification-category", "dkim-signature"}

field_names = st.one_of(
    st.sampled_from(["Reply-To", "X-Mailer", "Keywords", "Comments", "X-Order-Id", "Content-Language"]),
    st.from_regex(r"\AX-[A-Za-z0-9][A-Za-z0-9-]{0,20}\Z"),
).filter(lambda name: name.lower() not in RESERVED)
word = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E) | st.sampled_from("äöüßéçøłŻ€✓"),
    min_size=1,
    max_size=20,
)
field_values = st.lists(st.lists(word, min_size=1, max_size=5).map(" ".join), min_size=1, max_size=3).flatmap(
    # Folded with CRLF and a blank, as long header fields arrive.
    lambda parts: st.sampled_from(["\r\n ", "\r\n\t"]).map(lambda fold: fold.join(parts))
)
body_lines = st.lists(
    st.one_of(
        st.binary(max_size=80).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
        st.sampled_from([b".", b"..", b". leading dot", b"From the start", b"", b"--boundary--"]),
    ),
    max_size=12,
)


@st.composite
def notifications(draw):
    to = draw(st.lists(st.sampled_from(CUSTOMERS + OTHERS[:1]), min_size=1, max_size=3, unique_by=str.lower))
    cc = draw(st.lists(st.sampled_from(OTHERS[1:]), max_size=2, unique=True))
    bcc = draw(st.lists(st.sampled_from(["boss@acme.example", "hidden@else.example"]), max_size=1))
    category = draw(st.sampled_from(["billing", "ACCOUNT", "invoice.created", "Order.Confirmed", "unknown.kind", None]))
    fields = draw(st.lists(st.tuples(field_names, field_values), max_size=6))
    message_id = f"<prop-{next(_ids)}@relay.test>"
    head = [("From", "Shop <billing@shop.example>"), ("To", ", ".join(to))]
    if cc:
        head.append(("Cc", ", ".join(cc)))
    head.append(("Message-ID", message_id))
    if category is not None:
        head.append(("X-Notification-Category", category))
    head += fields
    order = draw(st.permutations(range(len(head))))
    lines = [f"{head[i][0]}: {head[i][1]}\r\n".encode() for i in order]
    body = b"\r\n".join(draw(body_lines)) + b"\r\n"
    data = b"".join(lines) + b"\r\n" + body
    envelope = list(dict.fromkeys(to + cc + bcc))
    return data, envelope, message_id


@pytest.fixture(scope="module")
def running_relay(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("relay-properties")
    database = open_database(f"sqlite:///{tmp / 'contacts.db'}")
    directory = Directory(database, DEFAULT_CATALOG)
    seed(directory)
    upstream = Upstream().start()
    relay = RelayThread(relay_config(tmp, upstream), directory).start()
    yield relay, upstream
    relay.stop()
    upstream.close()
    database.close()


def _cc_addresses(data: bytes) -> list[str]:
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    return [address.lower() for _, address in getaddresses([str(v) for v in parsed.get_all("Cc") or []])]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated=notifications())
def test_the_relay_keeps_everything_and_only_adds(running_relay, generated):
    relay, upstream = running_relay
    data, envelope, message_id = generated
    utf8 = not all(a.isascii() for a in envelope) or not split(data)[0].isascii()
    options = (["SMTPUTF8"] if utf8 else []) + ([] if data.isascii() else ["BODY=8BITMIME"])
    reply = smtp_send(relay.port, envelope, data, mail_options=options)
    assert reply.code == 250, reply

    # One copy per customer that gets someone added, one more for everyone else.
    more = re.search(r"and (\d+) more cop", reply.text)
    count = 1 + int(more.group(1)) if more else 1
    copies = poll(lambda: found if len(found := _copies_of(upstream, message_id)) >= count else None, 10)
    assert len(copies) == count
    # Each recipient the client gave gets exactly one copy.
    for recipient in set(envelope):
        assert sum(recipient in got.recipients for got in copies) == 1, recipient
    for got in copies:
        _check_copy(got, data, envelope, message_id)


def _copies_of(upstream, message_id: str) -> list:
    return [m for m in upstream.messages if message_id.encode() in m.data]


def _check_copy(got, data: bytes, envelope: list[str], message_id: str) -> None:
    # It parses, the body is the same bytes, one Received on top.
    parsed = email.message_from_bytes(got.data, policy=email.policy.default)
    assert parsed["Message-ID"] == message_id
    assert split(got.data)[1] == split(data)[1]
    out_fields, in_fields = header_lines(got.data), header_lines(data)
    assert out_fields[0].startswith(b"Received: from ")
    assert not [f for f in out_fields[1:] if f.lower().startswith(b"received:")]

    # Every original field but Cc is there byte for byte, in order; Cc kept what it had.
    def not_cc(fields):
        return [f for f in fields if not f.lower().startswith(b"cc:")]

    assert not_cc(out_fields[1:]) == not_cc(in_fields)
    assert len([f for f in out_fields if f.lower().startswith(b"cc:")]) <= 1
    before, after = _cc_addresses(data), _cc_addresses(got.data)
    assert after[: len(before)] == before

    # What the envelope gained is in Cc (or was in To/Cc already).
    added = [r.lower() for r in got.recipients if r not in envelope]
    to = [a.lower() for _, a in getaddresses([str(parsed["To"])])]
    assert all(a in after or a in to for a in added)
    # ... and whoever the Cc header gained gets the message too: header and envelope agree.
    delivered_to = {r.lower() for r in got.recipients}
    assert set(after[len(before) :]) <= delivered_to
    assert len(got.recipients) == len({r.lower() for r in got.recipients})
