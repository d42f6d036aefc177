"""Screenshots of the portal's screens at 80x24, in English and in Dutch,
compared with the accepted ones in __snapshots__ (pytest --snapshot-update
rewrites them after a change that was looked at)."""

from __future__ import annotations

import pytest

from contacts_tui.core.portal.client import PortalSession
from contacts_tui.ui.portal.app import make_portal_app

from ...portal_service import running_service
from ..helpers import SIZE, contacts, customer, press, settle

OWNER = "accounts@acme-trading.example"


@pytest.fixture
def portal(sqlite_directory, tmp_path):
    acme = customer(sqlite_directory, "Acme Trading Ltd", OWNER)
    contacts(
        sqlite_directory,
        acme.id,
        [("Beatrice Bookman", "bookkeeping@acme-trading.example")],
        role="Bookkeeping",
        categories=("billing",),
    )
    contacts(sqlite_directory, acme.id, [("Ingrid Tech", "it@acme-trading.example")], receive_all=True)
    # These screenshots mail nothing.
    with running_service(sqlite_directory, tmp_path) as service:
        yield make_portal_app(service.client(), cursor_blink=False), service.signed_in(acme.id)


def signed_in(scope: PortalSession, *keys: str):
    """Signed in as the code would (the sign-in itself is tested with real mail in test_portal.py)."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        pilot.app.signed_in(scope)
        await settle(pilot)
        await press(pilot, *keys)

    return run_before


def test_sign_in(snap_compare, portal):
    app, _scope = portal

    async def run_before(pilot) -> None:
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_contacts(snap_compare, portal):
    app, scope = portal
    assert snap_compare(app, terminal_size=SIZE, run_before=signed_in(scope))


def test_help(snap_compare, portal):
    app, scope = portal
    assert snap_compare(app, terminal_size=SIZE, run_before=signed_in(scope, "question_mark"))


def test_sign_in_in_dutch(snap_compare, portal):
    app, _scope = portal
    app.language = "nl"

    async def run_before(pilot) -> None:
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_contacts_in_dutch(snap_compare, portal):
    app, scope = portal
    scope.set_language("nl")  # the customer's own language, which signing in speaks
    assert snap_compare(app, terminal_size=SIZE, run_before=signed_in(scope))
