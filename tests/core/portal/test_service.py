"""The portal service over its real Unix sockets, as the portal processes use
it: a code from a real capture relay signs in, the token then does what the
portal does and nothing more, the channel is the socket's, a token works
only in the process it was given to and dies at sign-out. On SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from contacts_tui.core.directory import lockout
from contacts_tui.core.directory.service import Directory
from contacts_tui.core.errors import (
    DirectoryError,
    LimitReached,
    NotFound,
    PortalClosed,
    TooManyCodes,
    ValidationError,
)
from contacts_tui.core.models import utcnow
from contacts_tui.core.portal import protocol
from contacts_tui.core.portal.client import PortalClient, ServiceUnavailable, SessionEnded, WrongCode
from contacts_tui.core.portal.server import Listener, ServiceThread, bind
from contacts_tui.core.records import ContactInput, CustomerInput, CustomerRecord
from relay.app import RelayThread

from ...capture import capture_relay
from ...portal_service import RunningService, new_code, running_service
from ...waiting import poll
from ..helpers import new_customer, person

OWNER = "owner@acme.example"


@pytest.fixture
def relay(directory: Directory, tmp_path: Path) -> Iterator[RelayThread]:
    with capture_relay(directory, tmp_path) as thread:
        yield thread


@pytest.fixture
def running(directory: Directory, relay: RelayThread, tmp_path: Path) -> Iterator[RunningService]:
    with running_service(directory, tmp_path, relay.port) as service:
        yield service


@pytest.fixture
def other(directory: Directory) -> CustomerRecord:
    customer = new_customer(directory, "boss@other.example", "Other Ltd")
    directory.add_contact(customer.id, person("Sam Secret", "sam@other.example"))
    return customer


def raw(path: Path, *lines: bytes) -> list[dict]:
    """Send request lines on one connection; the answers, one per line."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(15)
        sock.connect(str(path))
        sock.sendall(b"".join(lines))
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return [json.loads(line) for line in data.splitlines()]


def test_a_mailed_code_signs_in_and_the_token_manages_the_customers_contact_persons(
    directory: Directory, acme: CustomerRecord, other: CustomerRecord, running: RunningService
) -> None:
    client = running.client("web")
    session = client.sign_in(OWNER, new_code(client, OWNER))
    assert session is not None and session.customer().id == acme.id
    assert session.catalog.keys == directory.catalog.keys and session.max_contacts == directory.max_contacts
    bea = session.add(person("Bea Bookman", "bea@acme.example"))
    session.edit(bea.id, ContactInput("Bea Bookman", "bea@acme.example", "+31 6 1234 5678", "Billing"))
    session.toggle_category(bea.id, "billing")
    session.set_receive_all(bea.id, True)
    session.delete(bea.id)
    session.restore(bea.id)
    assert directory.get_contact(bea.id) == session.contacts()[0]
    mine = [c for c in session.history() if c.contact_id == bea.id]
    assert [c.action for c in reversed(mine)] == [
        "contact added",
        "contact edited",
        "categories changed",
        "receive all changed",
        "contact deleted",
        "contact restored",
    ]
    # Recorded as the customer, over the channel of the socket it came in by.
    assert {(c.who, c.channel) for c in mine} == {(OWNER, "web")}
    assert directory.get_customer(acme.id).last_sign_in_channel == "web"
    assert mine == [c for c in directory.history(customer_id=acme.id) if c.contact_id == bea.id]


def test_the_channel_is_the_sockets_whatever_the_request_says(
    directory: Directory, acme: CustomerRecord, running: RunningService
) -> None:
    client = running.client("ssh")
    session = client.sign_in(OWNER, new_code(client, OWNER))
    session.add(person("Bea Bookman", "bea@acme.example"))
    (added,) = [c for c in directory.history(customer_id=acme.id) if c.action == "contact added"]
    assert added.channel == "ssh" and directory.get_customer(acme.id).last_sign_in_channel == "ssh"
    # A request cannot name a channel: the protocol has no field for it.
    (answer,) = raw(running.sockets["ssh"], b'{"v":1,"op":"hello","channel":"web"}\n')
    assert answer["error"]["code"] == "bad_request" and "'channel'" in answer["error"]["message"]
    # A token given on one socket is nothing on the other.
    with pytest.raises(SessionEnded):
        running.client("web").call("contacts", session._token)


def test_every_rule_holds_and_another_customers_ids_do_not_exist(
    directory: Directory, acme: CustomerRecord, other: CustomerRecord, running: RunningService
) -> None:
    session = running.signed_in(acme.id)
    with pytest.raises(ValidationError) as own:
        session.add(person("Me Again", "OWNER@acme.example"))
    assert own.value.errors[0].field == "email"
    with pytest.raises(ValidationError) as control:
        session.add(person("Eve\r\nBcc: all@acme.example", "eve@acme.example"))
    assert control.value.errors[0].field == "name"
    for number in range(directory.max_contacts):
        session.add(person(f"Person {number}", f"p{number}@acme.example"))
    with pytest.raises(LimitReached):
        session.add(person("One Too Many", "many@acme.example"))
    (sam,) = directory.list_contacts(other.id)
    for call in (
        lambda: session.edit(sam.id, ContactInput("Taken Over", "sam@other.example")),
        lambda: session.delete(sam.id),
        lambda: session.restore(sam.id),
        lambda: session.toggle_category(sam.id, "billing"),
        lambda: session.set_receive_all(sam.id, True),
    ):
        with pytest.raises(NotFound) as raised:
            call()
        assert "Other" not in str(raised.value) and "sam@" not in str(raised.value)
    assert directory.list_contacts(other.id) == [sam]
    assert all(c.customer_id == acme.id for c in session.history())


def test_a_deleted_contact_cannot_be_changed_until_restored(
    directory: Directory, acme: CustomerRecord, tmp_path: Path
) -> None:
    """The exploit over the socket: delete, edit the address to the primary
    email, and a later make primary would have brought the record back."""
    with running_service(directory, tmp_path) as service:
        session = service.signed_in(acme.id)
        eve = session.add(person("Eve", "eve@acme.example"))
        session.delete(eve.id)
        for call in (
            lambda: session.edit(eve.id, ContactInput("Crafted", OWNER)),
            lambda: session.toggle_category(eve.id, "billing"),
            lambda: session.set_receive_all(eve.id, True),
        ):
            with pytest.raises(ValidationError) as raised:
                call()
            assert str(raised.value) == "Eve is deleted: restore this contact person before changing it"
        assert directory.get_contact(eve.id).email == "eve@acme.example"
        session.restore(eve.id)
        assert session.edit(eve.id, ContactInput("Eve Smith", "eve@acme.example")).name == "Eve Smith"


def test_without_a_valid_token_nothing_but_sign_in(acme: CustomerRecord, running: RunningService) -> None:
    client = running.client()
    for op in protocol.WITH_TOKEN:
        for token in (None, "", "made-up", "x" * 129):
            (answer,) = raw(running.sockets["ssh"], protocol.encode({"v": 1, "op": op, "token": token}))
            assert not answer["ok"], (op, token)
            assert answer["error"]["code"] in ("not_signed_in", "bad_request"), answer
            assert "result" not in answer
    assert client.hello() == {"version": 1, "channel": "ssh"}
    assert client.sign_in(OWNER, "123456") is None


def test_what_the_directory_cannot_take_is_refused_with_the_reason(
    acme: CustomerRecord, running: RunningService
) -> None:
    """Each would reach the directory and fail there (an empty key, an id past
    what a database column holds, half a surrogate pair): the protocol says no first."""
    session = running.signed_in(acme.id)
    bea = session.add(person("Bea Bookman", "bea@acme.example"))
    for op, args, words in (
        ("toggle_category", {"contact_id": bea.id, "category": " "}, "category must be a category key"),
        ("delete", {"contact_id": 2**63}, "contact_id must be a whole number from 1 to"),
        ("add", {"contact": {"name": "\ud800", "email": "x@acme.example"}}, "valid Unicode"),
    ):
        request = {"v": 1, "op": op, "token": session._token, "args": args}
        (answer,) = raw(running.sockets["ssh"], protocol.encode(request))
        assert answer["error"]["code"] == "bad_request" and words in answer["error"]["message"], answer


def test_sign_out_revokes_and_a_replayed_request_gets_nothing(
    directory: Directory, acme: CustomerRecord, running: RunningService
) -> None:
    session = running.signed_in(acme.id)
    request = protocol.encode({"v": 1, "id": 1, "op": "contacts", "token": session._token})
    (before,) = raw(running.sockets["ssh"], request)
    assert before["ok"]
    assert session.sign_out()
    (after,) = raw(running.sockets["ssh"], request)
    assert after["error"]["code"] == "not_signed_in" and "signed out" in after["error"]["message"]
    with pytest.raises(SessionEnded):
        session.add(person("Bea Bookman", "bea@acme.example"))
    assert directory.list_contacts(acme.id) == []
    assert not session.sign_out()  # once is enough


def test_a_used_code_does_not_sign_in_twice(acme: CustomerRecord, running: RunningService) -> None:
    client = running.client()
    code = new_code(client, OWNER)
    assert client.sign_in(OWNER, code) is not None
    assert client.sign_in(OWNER, code) is None


def test_a_token_works_only_in_the_process_it_was_given_to(acme: CustomerRecord, running: RunningService) -> None:
    session = running.signed_in(acme.id)
    other_process = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from contacts_tui.core.portal.client import PortalClient\n"
            "try:\n    PortalClient(sys.argv[1]).call('contacts', sys.argv[2])\n"
            "except Exception as e:\n    print(type(e).__name__, e)",
            str(running.sockets["ssh"]),
            session._token,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert other_process.stdout.startswith("SessionEnded your session has ended"), other_process
    assert session.contacts() == []  # still this process's


def test_turning_the_portal_off_ends_the_session_at_its_next_step(
    directory: Directory, acme: CustomerRecord, running: RunningService
) -> None:
    session = running.signed_in(acme.id)
    directory.set_portal_access(acme.id, False)
    with pytest.raises(PortalClosed) as closed:
        session.contacts()
    assert "turned off" in str(closed.value)
    directory.set_portal_access(acme.id, True)
    with pytest.raises(SessionEnded):  # the token went with it
        session.contacts()


def test_the_socket_is_for_its_group_only_and_goes_with_the_service(
    directory: Directory, running: RunningService, tmp_path: Path
) -> None:
    for path in running.sockets.values():
        assert stat.S_IMODE(path.stat().st_mode) == 0o660
    # A second service on the same socket is refused; the first keeps it.
    with pytest.raises(DirectoryError, match="another portal service listens on"):
        bind(Listener(running.sockets["ssh"], "ssh"))
    assert running.client().hello()["channel"] == "ssh"
    # A socket left by a service that ended is taken over.
    stale = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX) as left:
        left.bind(str(stale))
    with ServiceThread(running.service, [Listener(stale, "ssh")]):
        assert PortalClient(str(stale)).hello()["channel"] == "ssh"
    assert not stale.exists()


def test_a_service_that_is_down_is_said_so(tmp_path: Path) -> None:
    with pytest.raises(ServiceUnavailable) as down:
        PortalClient(str(tmp_path / "nothing.sock")).hello()
    assert f"no portal service answers at {tmp_path / 'nothing.sock'}" in str(down.value)
    with pytest.raises(ServiceUnavailable) as down:
        PortalClient(str(tmp_path / "nothing.sock")).request_code(OWNER)
    assert "the portal is not available right now" in str(down.value)


def test_connections_beyond_the_limit_are_told_busy(directory: Directory, tmp_path: Path) -> None:
    with running_service(directory, tmp_path, max_connections=2) as running:
        held = [socket.socket(socket.AF_UNIX) for _ in range(2)]
        try:
            for sock in held:
                sock.connect(str(running.sockets["ssh"]))
                sock.sendall(b'{"v":1,"op":"hello"}\n')
                assert json.loads(sock.makefile("rb").readline())["ok"]
            with pytest.raises(ServiceUnavailable) as busy:
                running.client().hello()
            assert "busy" in str(busy.value)
        finally:
            for sock in held:
                sock.close()

        # Given back once they close.
        def answers() -> bool:
            try:
                return running.client().hello()["version"] == 1
            except ServiceUnavailable:
                return False

        assert poll(answers, 15)


def test_an_oversized_request_is_refused_and_the_connection_closed(running: RunningService) -> None:
    big = b'{"v":1,"op":"request_code","args":{"email":"' + b"a" * protocol.MAX_REQUEST_BYTES + b'"}}\n'
    answers = raw(running.sockets["ssh"], big, b'{"v":1,"op":"hello"}\n')
    assert [a["error"]["code"] for a in answers] == ["too_large"]
    assert "at most 65536 bytes" in answers[0]["error"]["message"]
    assert running.client().hello()["version"] == 1


def test_idle_connections_are_closed(directory: Directory, tmp_path: Path) -> None:
    with running_service(directory, tmp_path, idle_seconds=0.2) as running:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(15)
            sock.connect(str(running.sockets["ssh"]))
            assert sock.recv(10) == b""  # closed by the service, unasked


def test_a_locked_out_address_is_told_why_and_when_and_an_admin_unlock_lifts_it(
    directory: Directory, acme: CustomerRecord, running: RunningService
) -> None:
    client = running.client()
    for _ in range(3):
        client.request_code(OWNER)
    # Each request is counted with its work, after the answer.
    poll(lambda: lockout.next_request_at(OWNER, utcnow()))
    wrong = client.try_code(OWNER, "000000")
    assert isinstance(wrong, WrongCode) and wrong.next_code_at is not None
    with pytest.raises(TooManyCodes) as refused:
        client.request_code(OWNER)
    assert refused.value.next_code_at == wrong.next_code_at
    assert "3 sign-in codes in the last 60 minutes" in str(refused.value)
    # A stranger's address is told the same, so the answer tells nobody who is a customer.
    for _ in range(3):
        client.request_code("nobody@acme.example")
    poll(lambda: lockout.next_request_at("nobody@acme.example", utcnow()))
    (answer,) = raw(
        running.sockets["ssh"],
        protocol.encode({"v": 1, "op": "request_code", "args": {"email": "nobody@acme.example"}}),
    )
    assert answer["error"]["code"] == "too_many_codes" and answer["error"]["next_code_at"]
    directory.unlock_portal(acme.id)
    client.request_code(OWNER)
    assert client.try_code(OWNER, "000000") == WrongCode(None)


def test_the_customer_sets_its_language_and_notes_of_its_contact_persons_but_never_sees_the_admins_note(
    directory: Directory, acme: CustomerRecord, running: RunningService
) -> None:
    directory.update_customer(acme.id, CustomerInput(acme.name, acme.email, notes="pays late, be firm"))
    session = running.signed_in(acme.id, "web")
    customer = session.customer()
    assert customer.notes == "" and customer.language == "en"
    assert session.set_language("NL").language == "nl"
    with pytest.raises(ValidationError, match="Unknown language 'de'"):
        session.set_language("de")
    bea = session.add(ContactInput("Bea Bookman", "bea@acme.example", notes="part time"))
    assert bea.notes == "part time"
    # A portal that sends no note keeps the stored one.
    request = {
        "v": 1,
        "op": "edit",
        "token": session._token,
        "args": {"contact_id": bea.id, "contact": {"name": "Bea B.", "email": "bea@acme.example"}},
    }
    (answer,) = raw(running.sockets["web"], protocol.encode(request))
    assert answer["ok"] and answer["result"]["notes"] == "part time"
    with pytest.raises(ValidationError, match="Note may not contain line breaks"):
        session.edit(bea.id, ContactInput("Bea", "bea@acme.example", notes="a\nb"))
    shown = json.dumps([protocol.change_json(c) for c in session.history()])
    assert "pays late" not in shown
    assert '"language", "en", "nl"' in shown and "part time" in shown
    everything = [c.action for c in directory.history(acme.id)]
    assert everything.count("customer edited") == 2  # the admin's note, and the language
    changes = {c.action: c for c in directory.history(acme.id) if c.channel == "web"}
    assert changes["customer edited"].who == OWNER
