"""The service's socket is a door for strangers' processes: whatever comes in
(bytes that are not JSON, JSON of any shape, requests in any order, replays
of a signed-out token, another customer's ids), the service answers every
line with a clear error of the protocol, never fails, never shows another
customer's data, and changes nothing that is not the signed-in customer's.
A property test over the real socket."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contacts_tui.core.directory.service import Directory
from contacts_tui.core.portal import protocol
from contacts_tui.core.records import ContactInput, CustomerInput

from ...portal_service import RunningService, running_service

SECRETS = ("boss@other.example", "Other Ltd", "sam@other.example", "Sam Secret")
ARGUMENTS = (
    "email",
    "code",
    "include_deleted",
    "contact",
    "contact_id",
    "category",
    "enabled",
    "since",
    "limit",
    "language",
)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[dict]:
    """Acme, signed in (a live token, and one signed out), and Other Ltd, whose data must stay whole."""
    from contacts_tui.core.db import open_database

    folder: Path = tmp_path_factory.mktemp("hostile")
    database = open_database(f"sqlite:///{folder / 'contacts.db'}")
    directory = Directory(database)
    acme = directory.create_customer(CustomerInput("Acme Ltd", "owner@acme.example"))
    bea = directory.add_contact(acme.id, ContactInput("Bea Bookman", "bea@acme.example"))
    other = directory.create_customer(CustomerInput("Other Ltd", "boss@other.example"))
    sam = directory.add_contact(other.id, ContactInput("Sam Secret", "sam@other.example"))
    with running_service(directory, folder) as running:
        gone = running.signed_in(acme.id)
        gone.sign_out()
        yield {
            "running": running,
            "directory": directory,
            "acme": acme,
            "other": other,
            "signed_out": gone._token,
            "ids": [bea.id, bea.id, sam.id, sam.id, other.id, acme.id, 0, -1, 2**63, 2**64],
            "before": (directory.list_contacts(other.id), directory.history(customer_id=other.id)),
        }
    database.close()


def json_values(ids: list[int]) -> st.SearchStrategy:
    leaves = (
        st.none()
        | st.booleans()
        | st.sampled_from(ids)
        | st.integers()
        | st.floats(allow_nan=False)
        | st.text(max_size=40)
        | st.sampled_from(["billing", "BILLING", "all", "", " ", "owner@acme.example", "sam@other.example"])
    )
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
        max_leaves=12,
    )


def requests(world: dict, tokens: list[str]) -> st.SearchStrategy[bytes]:
    """Request lines: mostly well-formed for their operation with hostile
    values, some of any JSON shape, some not JSON at all."""
    values = json_values(world["ids"])
    contact = st.fixed_dictionaries(
        {
            "name": st.sampled_from(["Eve", "Eve\r\nBcc: x@y.example", "\u202eevE", ""]),
            # Never the other customer's addresses: what Acme adds is Acme's to see.
            "email": st.sampled_from(["new@acme.example", "Bea@acme.example", "OWNER@acme.example", "no"]),
        },
        optional={
            "phone": st.text(max_size=20),
            "role": st.sampled_from(["Billing", "Root"]),
            "receive_all": st.booleans(),
            "categories": st.lists(st.sampled_from(["billing", "account", "all", "x" * 65]), max_size=3),
            "notes": st.sampled_from(["call before 10", "two\nlines", "\u202e", "x" * 600]),
        },
    )

    def mostly(good: st.SearchStrategy) -> st.SearchStrategy:
        return st.one_of(good, good, good, values)

    argument = {
        "email": mostly(st.sampled_from(["owner@acme.example", "boss@other.example", "bea@acme.example", "x"])),
        "code": mostly(st.text("0123456789 -", max_size=8)),
        "include_deleted": mostly(st.booleans()),
        "contact": mostly(contact),
        "contact_id": mostly(st.sampled_from(world["ids"])),
        "category": mostly(st.sampled_from(["billing", "account", "all", "", "x" * 65])),
        "enabled": mostly(st.booleans()),
        "since": mostly(st.sampled_from(["2026-01-01T00:00:00", "2026-01-01T00:00:00+02:00", "yesterday"])),
        "limit": mostly(st.integers(-5, 600)),
        "language": mostly(st.sampled_from(["nl", "EN", "de", "", "x" * 70])),
    }
    takes = {
        "hello": (),
        "request_code": ("email",),
        "sign_in": ("email", "code"),
        "customer": (),
        "contacts": ("include_deleted",),
        "add": ("contact",),
        "edit": ("contact_id", "contact"),
        "delete": ("contact_id",),
        "restore": ("contact_id",),
        "toggle_category": ("contact_id", "category"),
        "set_receive_all": ("contact_id", "enabled"),
        "history": ("since", "limit"),
        "set_language": ("language",),
        "sign_out": (),
    }

    often = st.sampled_from([True] * 7 + [False])  # the simplest draw is the usual case

    @st.composite
    def shaped(draw) -> dict:
        op = draw(st.sampled_from(protocol.OPERATIONS))
        names = [name for name in takes[op] if draw(often)]  # now and then one is left out
        if not draw(often):
            names.append(draw(st.sampled_from(ARGUMENTS)))  # now and then one too many
        request = {"v": draw(st.sampled_from([1] * 12 + [2, "1", True])), "op": op}
        request["args"] = {name: draw(argument[name]) for name in names}
        if draw(often):
            request["token"] = draw(st.sampled_from(tokens))
        if draw(st.booleans()):
            request["id"] = draw(st.integers(0, 2**40) | st.text(max_size=8))
        return request

    odd = st.sampled_from(
        [
            b"[" * 5000,
            b'{"v":1,"op":"hello","id":' + b"9" * 5000 + b"}",
            b'{"v":1,"op":"add","token":"x","args":{"contact":{"name":"\\ud800","email":"a@b.example"}}}',
            b'{"v":NaN,"op":"hello"}',
            b'{"v":1,"op":"hello"}{"v":1}',
            b"\xff\xfe{}",
        ]
    )
    # Seven in ten well-formed for their operation; the rest any JSON, any bytes, or a known oddity.
    kinds = [shaped().map(lambda request: json.dumps(request).encode())] * 7
    kinds += [values.map(lambda value: json.dumps(value).encode()), st.binary(max_size=200), odd]
    line = st.integers(0, len(kinds) - 1).flatmap(lambda kind: kinds[kind])
    return line.map(lambda line: line.replace(b"\n", b" ") + b"\n")


def exchange(path: Path, lines: list[bytes]) -> list[dict]:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(30)
        sock.connect(str(path))
        sock.sendall(b"".join(lines))
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.endswith(b"\n")
    return [json.loads(line) for line in data.splitlines()]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_request_crashes_the_service_leaks_or_changes_another_customer(world: dict, data) -> None:
    running: RunningService = world["running"]
    channel = data.draw(st.sampled_from(["ssh", "web"]))
    # A live token of Acme's for each run (a run may sign it out), one signed out long ago, and junk.
    tokens = [running.signed_in(world["acme"].id, channel)._token] * 6 + [world["signed_out"], "", "x" * 43]
    lines = data.draw(st.lists(requests(world, tokens), min_size=1, max_size=5))
    answers = exchange(running.sockets[channel], lines)
    assert len(answers) == len(lines)
    for line, answer in zip(lines, answers, strict=True):
        assert answer["v"] == 1 and isinstance(answer["ok"], bool), answer
        if not answer["ok"]:
            error = answer["error"]
            assert error["code"] in protocol.ERROR_CODES and error["code"] != protocol.FAILED, (line, answer)
            assert isinstance(error["message"], str) and len(error["message"]) > 10, (line, answer)
        # What a request says may come back in its error ("x is not a valid email address"); nothing else may.
        shown, asked = json.dumps(answer), line.decode("utf-8", "replace")
        assert not [secret for secret in SECRETS if secret in shown and secret not in asked], (line, answer)
    directory, other = world["directory"], world["other"]
    assert (directory.list_contacts(other.id), directory.history(customer_id=other.id)) == world["before"]
    assert running.client(channel).hello() == {"version": 1, "channel": channel}
