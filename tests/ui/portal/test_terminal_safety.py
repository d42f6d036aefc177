"""Text in the directory never writes to the customer's terminal either: a
name or a recorded change carrying escape sequences (a hidden link, clear
screen, the clipboard) is shown with visible stand-ins on the portal's
screens, and what the portal draws holds no ESC at all."""

from __future__ import annotations

from contacts_tui.core.directory import history
from contacts_tui.core.models import ContactPerson, Customer
from contacts_tui.ui.portal.app import make_portal_app

from ...portal_service import running_service
from ..helpers import SIZE, contacts, customer, press, screen_text, settle

LINK = "\x1b]8;;http://evil.example\x1b\\"
CLEAR = "\x1b[2J"
CLIPBOARD = "\x1b]52;c;ZXZpbA==\x07"


def drawn(app) -> str:
    text = screen_text(app)
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text, text
    return text


async def test_hostile_names_and_changes_show_as_stand_ins(sqlite_directory, tmp_path) -> None:
    acme = customer(sqlite_directory, "Acme Trading Ltd", "accounts@acme-trading.example")
    (bea,) = contacts(sqlite_directory, acme.id, [("Beatrice", "bea@acme-trading.example")])
    # Written past the rules, as an older program or a hand edit could have.
    Customer.update(name=f"Acme {LINK}click{CLEAR}").where(Customer.id == acme.id).execute()
    ContactPerson.update(name=f"Bea {CLIPBOARD}").where(ContactPerson.id == bea.id).execute()
    history.record(
        history.Actor("admin eve", "tui"),
        [
            history.Entry(
                acme.id,
                acme.email,
                history.CONTACT_EDITED,
                [["name", "Beatrice", f"Bea {CLIPBOARD}{CLEAR}"]],
                bea.id,
                bea.email,
            )
        ],
    )
    with running_service(sqlite_directory, tmp_path) as service:
        app = make_portal_app(service.client(), cursor_blink=False)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            app.signed_in(service.signed_in(acme.id))
            await settle(pilot)
            text = drawn(app)
            assert "Acme ␛]8;;http://evil.example␛\\click␛[2J" in text and "Bea ␛]52;c;ZXZpbA==" in text
            await press(pilot, "e")
            assert "Bea ␛]52;c;ZXZpbA==␇" in drawn(app)  # in the name field too
            await press(pilot, "escape", "h")
            text = drawn(app)
            assert "\\u001b[2J" in text and "our admin" in text and "eve" not in text
