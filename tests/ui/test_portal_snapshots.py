"""Screenshots of the portal's screens at 80x24, compared with the accepted
ones in __snapshots__ (pytest --snapshot-update rewrites them after a change
that was looked at)."""

from __future__ import annotations

import pytest

from contacts_tui.core.portal.scope import PortalScope
from contacts_tui.core.portal.signin import MailRoute, SignIn
from contacts_tui.ui.portal.app import make_portal_app

from .helpers import SIZE, contacts, customer, press, settle

OWNER = "accounts@acme-trading.example"


@pytest.fixture
def portal(sqlite_directory):
    acme = customer(sqlite_directory, "Acme Trading Ltd", OWNER)
    contacts(
        sqlite_directory,
        acme.id,
        [("Beatrice Bookman", "bookkeeping@acme-trading.example")],
        role="Bookkeeping",
        categories=("billing",),
    )
    contacts(sqlite_directory, acme.id, [("Ingrid Tech", "it@acme-trading.example")], receive_all=True)
    # Port 9 (discard): these screenshots mail nothing.
    app = make_portal_app(SignIn(sqlite_directory, MailRoute("127.0.0.1", 9)), cursor_blink=False)
    return app, PortalScope(sqlite_directory, acme.id, "ssh")


def signed_in(scope: PortalScope, *keys: str):
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
