"""Signing in to the portal by code: codes mailed through a real capture
relay, stored only hashed, ten minutes, five tries, three an hour, and no
way to tell a customer's address from any other by the answer or its time.
On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from contacts_tui.core.directory.service import Directory
from contacts_tui.core.errors import TooManyCodes, ValidationError
from contacts_tui.core.mail import relay_log
from contacts_tui.core.models import CodeRequest, SignInCode, utcnow
from contacts_tui.core.portal.signin import CATEGORY, MailRoute, SignIn, code_matches, normal_code
from contacts_tui.core.records import CustomerRecord
from relay.app import RelayThread

from ...capture import capture_relay
from ...waiting import poll

OWNER = "owner@acme.example"
START = dt.datetime(2026, 12, 5, 9, 0, 0)


class Clock:
    """Naive UTC that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now

    def move(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def relay(directory: Directory, tmp_path: Path) -> Iterator[RelayThread]:
    with capture_relay(directory, tmp_path) as thread:
        yield thread


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def signin(directory: Directory, relay: RelayThread, clock: Clock) -> Iterator[SignIn]:
    # Half a second at most, not the seconds of production: each request
    # still waits a random moment, so their order is tried.
    service = SignIn(
        directory, MailRoute("127.0.0.1", relay.port, "portal@shop.example"), clock=clock, delay=(0.0, 0.5)
    )
    yield service
    service.wait_sent()


def mails_to(address: str) -> list[bytes]:
    found = []
    for record in relay_log.captured_messages(50):
        if address in record.recipients:
            found.append(relay_log.captured_message(record.id)[2])
    return found


def code_in(message: bytes) -> str:
    return re.search(rb"(?:sign-in code|inlogcode): (\d{6})", message).group(1).decode()


def wait_for_codes(address: str, count: int) -> list[str]:
    """The codes mailed to ``address``, oldest first, once ``count`` have arrived."""
    poll(lambda: len(mails_to(address)) >= count, 15, lambda: len(mails_to(address)))
    return [code_in(m) for m in reversed(mails_to(address))]


def stored_codes(customer: CustomerRecord) -> list[SignInCode]:
    return list(SignInCode.select().where(SignInCode.customer == customer.id).order_by(SignInCode.id))


def test_a_code_goes_to_the_primary_email_as_a_notification_and_signs_in(
    directory: Directory, acme: CustomerRecord, signin: SignIn
) -> None:
    assert signin.request_code("  Owner@ACME.example ") is None
    (message,) = [message_from_bytes(m) for m in mails_to_wait(OWNER)]
    # An ordinary message of its own category, which the relay passed on unchanged.
    assert message["X-Notification-Category"] == CATEGORY
    assert message["From"] == "Contact Persons portal <portal@shop.example>"
    assert "Cc" not in message
    code = code_in(message.as_bytes())
    customer = signin.verify(OWNER, code, "ssh")
    assert customer is not None and customer.id == acme.id
    signed = directory.get_customer(acme.id)
    assert signed.last_sign_in_channel == "ssh" and signed.last_sign_in_at is not None
    # Used once, it is used up.
    assert signin.verify(OWNER, code, "ssh") is None


def test_the_code_mail_never_carries_a_note(directory: Directory, acme: CustomerRecord, signin: SignIn) -> None:
    from contacts_tui.core.records import CustomerInput

    directory.update_customer(acme.id, CustomerInput(acme.name, acme.email, notes="NOTE-OF-THE-CUSTOMER"))
    signin.request_code(OWNER)
    (mail,) = mails_to_wait(OWNER)
    assert b"NOTE-OF" not in mail


def mails_to_wait(address: str) -> list[bytes]:
    poll(lambda: mails_to(address), 15)
    return mails_to(address)


def test_codes_are_stored_only_as_slow_salted_hashes(acme: CustomerRecord, signin: SignIn) -> None:
    signin.request_code(OWNER)
    signin.request_code(OWNER)
    codes = wait_for_codes(OWNER, 2)
    rows = stored_codes(acme)
    assert len(rows) == 2
    for row in rows:
        assert row.code_hash.startswith("scrypt$")
        assert all(code not in row.code_hash for code in codes)
    # The same code twice would still hash differently: each has its own salt.
    assert rows[0].code_hash.split("$")[1] != rows[1].code_hash.split("$")[1]


def test_an_address_of_nobody_gets_the_same_answer_and_no_mail(directory: Directory, acme, signin: SignIn) -> None:
    assert signin.request_code("nobody@acme.example") is None
    assert signin.request_code(OWNER) is None
    wait_for_codes(OWNER, 1)
    signin.wait_sent()
    assert [r.recipients for r in relay_log.captured_messages(50)] == [(OWNER,)]
    assert SignInCode.select().count() == 1
    assert signin.verify("nobody@acme.example", "123456", "ssh") is None


def test_a_contact_person_cannot_sign_in(directory: Directory, acme: CustomerRecord, signin: SignIn) -> None:
    from contacts_tui.core.records import ContactInput

    directory.add_contact(acme.id, ContactInput("Bea Bookman", "bea@acme.example"))
    signin.request_code("bea@acme.example")
    signin.wait_sent()
    assert SignInCode.select().count() == 0 and mails_to("bea@acme.example") == []


def test_the_sixth_try_is_refused_even_with_the_right_code(acme: CustomerRecord, signin: SignIn) -> None:
    signin.request_code(OWNER)
    (code,) = wait_for_codes(OWNER, 1)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        assert signin.verify(OWNER, wrong, "ssh") is None
    assert signin.verify(OWNER, code, "ssh") is None
    assert stored_codes(acme)[0].tries == 5


def test_the_fourth_code_in_an_hour_is_refused(acme: CustomerRecord, signin: SignIn, clock: Clock) -> None:
    for _ in range(3):
        signin.request_code(OWNER)
        clock.move(minutes=10)
    signin.wait_sent()  # each request is counted after its answer
    with pytest.raises(TooManyCodes) as refused:
        signin.request_code(OWNER)  # 30 minutes after the first
    # Said, with when: an hour after the first of the three.
    assert refused.value.next_code_at == START + dt.timedelta(hours=1)
    assert str(refused.value) == (
        "this address has had 3 sign-in codes in the last 60 minutes, the most it may; "
        "a new code can be asked for in 30 minutes"
    )
    assert len(stored_codes(acme)) == 3
    clock.move(minutes=31)  # the first is more than an hour old now
    signin.request_code(OWNER)
    signin.wait_sent()
    assert len(stored_codes(acme)) == 4
    codes = wait_for_codes(OWNER, 4)
    signin.wait_sent()
    assert len(mails_to(OWNER)) == 4  # the refused request mailed nothing
    assert signin.verify(OWNER, codes[-1], "web") is not None


def test_codes_asked_in_a_burst_are_stored_and_mailed_in_the_order_asked(
    acme: CustomerRecord, signin: SignIn, clock: Clock
) -> None:
    # Each request's work starts at a random moment; one address's keep their order.
    for _ in range(3):  # as many as an hour allows
        signin.request_code(OWNER)
        clock.move(seconds=1)
    codes = wait_for_codes(OWNER, 3)  # in the order they arrived
    rows = stored_codes(acme)
    assert [row.created_at for row in rows] == sorted(row.created_at for row in rows)
    assert [code_matches(code, row.code_hash) for code, row in zip(codes, rows, strict=True)] == [True] * 3
    # The one mailed last is the newest, the one that works.
    assert signin.verify(OWNER, codes[-1], "ssh") is not None


def test_a_code_expires_after_ten_minutes(acme: CustomerRecord, signin: SignIn, clock: Clock) -> None:
    signin.request_code(OWNER)
    (code,) = wait_for_codes(OWNER, 1)
    clock.move(minutes=10)
    assert signin.verify(OWNER, code, "ssh") is None
    clock.move(minutes=1)
    signin.request_code(OWNER)
    fresh = wait_for_codes(OWNER, 2)[-1]
    clock.move(minutes=9, seconds=59)
    assert signin.verify(OWNER, fresh, "ssh") is not None


def test_only_the_newest_code_works(acme: CustomerRecord, signin: SignIn, clock: Clock) -> None:
    signin.request_code(OWNER)
    clock.move(seconds=30)
    signin.request_code(OWNER)
    first, second = wait_for_codes(OWNER, 2)
    if first != second:  # one in a million they are the same
        assert signin.verify(OWNER, first, "ssh") is None
    assert signin.verify(OWNER, second, "ssh") is not None


def test_a_customer_whose_sign_in_is_disabled_gets_no_code_and_cannot_use_one(
    directory: Directory, acme: CustomerRecord, signin: SignIn, clock: Clock
) -> None:
    signin.request_code(OWNER)
    (code,) = wait_for_codes(OWNER, 1)
    directory.set_portal_access(acme.id, False)
    assert signin.verify(OWNER, code, "ssh") is None
    signin.request_code(OWNER)
    signin.wait_sent()
    assert len(stored_codes(acme)) == 1
    directory.set_portal_access(acme.id, True)
    clock.move(seconds=1)
    signin.request_code(OWNER)
    fresh = wait_for_codes(OWNER, 2)[-1]
    assert signin.verify(OWNER, fresh, "ssh") is not None


def test_a_deactivated_customer_cannot_sign_in(directory: Directory, acme: CustomerRecord, signin: SignIn) -> None:
    directory.set_customer_active(acme.id, False)
    signin.request_code(OWNER)
    signin.wait_sent()
    assert stored_codes(acme) == []


@pytest.mark.parametrize("typed", ["", "not an address", "owner@acme.example\r\nBcc: x@evil.example"])
def test_what_is_not_an_address_is_a_field_error(acme, signin: SignIn, typed: str) -> None:
    with pytest.raises(ValidationError) as raised:
        signin.request_code(typed)
    assert raised.value.errors[0].field == "email"
    assert SignInCode.select().count() == 0


def test_codes_are_read_as_people_type_them() -> None:
    assert normal_code(" 123 456 ") == "123456"
    assert normal_code("123-456") == "123456"
    assert normal_code("12345") == "" and normal_code("1234567") == "" and normal_code("١٢٣٤٥٦") == ""


def median_seconds(call, times: int = 7) -> float:
    samples = []
    for _ in range(times):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


@contextmanager
def another_writer(db_url: str) -> Iterator[None]:
    """Another program in the middle of a write to the codes table, holding its lock.

    Its own driver connection: a second peewee database would take the models over.
    """
    if db_url.startswith("sqlite"):
        connection = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
    else:
        import psycopg2

        parts = urlsplit(db_url)
        options = parse_qs(parts.query).get("options", [""])[0]
        connection = psycopg2.connect(parts._replace(query="").geturl(), options=options)
        connection.cursor().execute("LOCK TABLE portal_codes IN EXCLUSIVE MODE")
    try:
        yield
    finally:
        connection.rollback()
        connection.close()


def test_the_answer_comes_before_any_work_on_the_address(
    db_url: str, acme: CustomerRecord, signin: SignIn, clock: Clock
) -> None:
    # Whatever a known customer's request costs (storing its code, starting
    # its mail) is done after the answer, so it cannot make that answer
    # slower than a stranger's: with the codes table locked by another
    # writer, both answers still come at once, and the code follows.
    with another_writer(db_url):
        for address in (OWNER, "stranger@acme.example"):
            asking = threading.Thread(target=signin.request_code, args=(address,))
            asking.start()
            asking.join(5)  # the lock is held for as long as this test wants: 10 s and more
            assert not asking.is_alive(), f"the answer to {address} waited for the database"
    assert len(wait_for_codes(OWNER, 1)) == 1


def test_a_wrong_code_takes_as_long_for_a_customer_as_for_a_stranger(
    acme: CustomerRecord, signin: SignIn, clock: Clock
) -> None:
    signin.request_code(OWNER)
    signin.wait_sent()
    wrong_known = median_seconds(lambda: signin.verify(OWNER, "000000", "ssh"), 4)
    wrong_nobody = median_seconds(lambda: signin.verify("stranger@acme.example", "000000", "ssh"), 4)
    # Generous: only a path that skipped the hashing (a tenth of the time) would fail.
    assert abs(wrong_known - wrong_nobody) < 0.5 * max(wrong_known, wrong_nobody), (wrong_known, wrong_nobody)


def test_the_limit_is_told_alike_for_a_customer_and_a_stranger(
    acme: CustomerRecord, signin: SignIn, clock: Clock
) -> None:
    said = {}
    for address in (OWNER, "stranger@acme.example"):
        for _ in range(3):
            signin.request_code(address)
        signin.wait_sent()  # each request is counted after its answer
        clock.move(minutes=5)
        with pytest.raises(TooManyCodes) as refused:
            signin.request_code(address)
        said[address] = (str(refused.value), refused.value.next_code_at - clock.now)
        assert signin.next_code_at(address) == refused.value.next_code_at
        clock.move(minutes=-5)
    assert said[OWNER] == said["stranger@acme.example"]
    # Only a hash of each address is kept, never the address.
    assert all("@" not in row.address for row in CodeRequest.select())


def test_five_wrong_tries_after_three_codes_say_when_a_new_code_can_be_had(
    directory: Directory, acme: CustomerRecord, signin: SignIn, clock: Clock
) -> None:
    clock.now = first = utcnow()  # the directory lifts a lock as of the real time
    for _ in range(3):
        signin.request_code(OWNER)
    signin.wait_sent()
    for _ in range(5):
        assert signin.verify(OWNER, "000000", "ssh") is None
    assert signin.next_code_at(OWNER) == first + dt.timedelta(hours=1)
    assert directory.portal_locked_until(acme.id) == first + dt.timedelta(hours=1)
    # An admin lifts it, and says so in the history.
    assert directory.unlock_portal(acme.id) == first + dt.timedelta(hours=1)
    assert directory.portal_locked_until(acme.id) is None
    assert signin.next_code_at(OWNER) is None
    signin.request_code(OWNER)
    (change,) = [c for c in directory.history(acme.id) if c.action == "portal unlocked"]
    assert change.changes == (("portal sign-in", "locked", "unlocked"),)
    # Nothing to lift: nothing recorded.
    assert directory.unlock_portal(acme.id) is None
    assert len([c for c in directory.history(acme.id) if c.action == "portal unlocked"]) == 1


def test_the_stored_sender_is_used_unless_the_service_was_given_one(
    directory: Directory, acme: CustomerRecord, relay: RelayThread, clock: Clock
) -> None:
    from contacts_tui.core.directory import settings

    settings.change_mail_from(directory.database, "billing@shop.example")
    given = SignIn(directory, MailRoute("127.0.0.1", relay.port, "portal@shop.example"), clock=clock)
    stored = SignIn(directory, MailRoute("127.0.0.1", relay.port), clock=clock)
    directory.refresh_settings()
    given.request_code(OWNER)
    clock.move(minutes=1)
    stored.request_code(OWNER)
    given.wait_sent()
    stored.wait_sent()
    poll(lambda: len(mails_to(OWNER)) == 2, 15)
    senders = sorted(message_from_bytes(m)["From"] for m in mails_to(OWNER))
    assert senders == ["Contact Persons portal <billing@shop.example>", "Contact Persons portal <portal@shop.example>"]
