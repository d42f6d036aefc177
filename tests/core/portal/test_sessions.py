"""How long a portal session lives at the service: 15 minutes without a
request, 60 minutes in all, on a clock the test moves. Through the service's
own answer to request lines, as its socket passes them on."""

from __future__ import annotations

import json

import pytest

from contacts_tui.core.directory.service import Directory
from contacts_tui.core.portal import sessions as lifetimes
from contacts_tui.core.portal.protocol import encode
from contacts_tui.core.portal.scope import PortalScope
from contacts_tui.core.portal.service import PortalService
from contacts_tui.core.portal.sessions import Peer, Sessions
from contacts_tui.core.portal.signin import MailRoute, SignIn
from contacts_tui.core.records import CustomerRecord

PEER = Peer("ssh", 4242, 1000)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def move(self, minutes: float) -> None:
        self.now += round(minutes * 60)  # whole seconds: 15 minutes are 900 s, not 899.99


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(directory: Directory, clock: Clock) -> PortalService:
    return PortalService(SignIn(directory, MailRoute("127.0.0.1", 9)), Sessions(clock=clock))


def ask(service: PortalService, token: str, op: str = "contacts", peer: Peer = PEER) -> dict:
    return json.loads(service.answer(encode({"v": 1, "op": op, "token": token}), peer))


def sign_in(service: PortalService, customer: CustomerRecord, peer: Peer = PEER) -> str:
    return service.sessions.open(PortalScope(service.directory, customer.id, peer.channel), peer)


def test_the_portals_numbers_live_in_one_place() -> None:
    assert (lifetimes.IDLE_TIMEOUT, lifetimes.SESSION_LIFETIME, lifetimes.SIGN_IN_TIMEOUT) == (15 * 60, 60 * 60, 120)
    from contacts_tui.ui.portal.app import IDLE_SECONDS

    assert IDLE_SECONDS == lifetimes.IDLE_TIMEOUT


def test_fifteen_minutes_without_a_request_end_a_session(
    service: PortalService, acme: CustomerRecord, clock: Clock
) -> None:
    token = sign_in(service, acme)
    clock.move(14.9)
    assert ask(service, token)["ok"]
    clock.move(14.9)  # each request starts the idle time again
    assert ask(service, token)["ok"]
    clock.move(15)
    ended = ask(service, token)
    assert ended["error"]["code"] == "not_signed_in" and "15 minutes without a key" in ended["error"]["message"]
    clock.move(-15)  # gone for good, not just not valid now
    assert ask(service, token)["error"]["code"] == "not_signed_in"


def test_sixty_minutes_after_sign_in_a_busy_session_ends_too(
    service: PortalService, acme: CustomerRecord, clock: Clock
) -> None:
    token = sign_in(service, acme)
    for _ in range(5):
        clock.move(11.9)
        assert ask(service, token)["ok"]
    clock.move(0.6)  # 60 minutes after sign-in
    assert ask(service, token)["error"]["code"] == "not_signed_in"


def test_a_token_is_its_peers_only(service: PortalService, acme: CustomerRecord) -> None:
    token = sign_in(service, acme)
    for stranger in (Peer("ssh", 4243, 1000), Peer("web", 4242, 1000), Peer("ssh", 4242, 0)):
        assert ask(service, token, peer=stranger)["error"]["code"] == "not_signed_in"
        assert ask(service, token, "sign_out", peer=stranger)["error"]["code"] == "not_signed_in"
    assert ask(service, token)["ok"]  # another's sign_out ended nothing


def test_the_oldest_session_goes_when_the_table_is_full(directory: Directory, acme: CustomerRecord) -> None:
    service = PortalService(SignIn(directory, MailRoute("127.0.0.1", 9)), Sessions(limit=2))
    first, second, third = (sign_in(service, acme) for _ in range(3))
    assert ask(service, first)["error"]["code"] == "not_signed_in"
    assert ask(service, second)["ok"] and ask(service, third)["ok"]
    assert len(service.sessions) == 2


def test_tokens_are_random_and_kept_only_hashed(service: PortalService, acme: CustomerRecord) -> None:
    tokens = {sign_in(service, acme) for _ in range(50)}
    assert len(tokens) == 50 and all(len(token) >= 43 for token in tokens)
    kept = repr(service.sessions._live)
    assert not any(token in kept for token in tokens)
