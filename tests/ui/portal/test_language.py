"""A Dutch customer's portal: the sign-in screen in the terminal's language
until the customer is known, then the customer's own, stored language; the
code mail in it too; and the customer changes it with l, for good."""

from __future__ import annotations

from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

from contacts_tui.core.directory.service import Directory
from contacts_tui.core.mail import relay_log
from contacts_tui.ui.portal.app import PortalApp, make_portal_app
from contacts_tui.ui.portal.contacts_screen import PortalContactsScreen
from contacts_tui.ui.portal.language_choice import LanguageChoice

from ..helpers import SIZE, burst, contacts, customer, press, seen, settle, wait_for
from .test_app import mailed_codes

OWNER = "info@bakkerij-devries.example"


def code_mails(address: str) -> list[EmailMessage]:
    return [
        message_from_bytes(relay_log.captured_message(record.id)[2], _class=EmailMessage, policy=default)
        for record in relay_log.captured_messages(50)
        if address in record.recipients
    ]


async def test_a_dutch_customer_signs_in_and_sees_dutch_and_can_choose_english(
    portal_service, sqlite_directory: Directory
) -> None:
    devries = customer(sqlite_directory, "Bakkerij de Vries", OWNER)
    contacts(sqlite_directory, devries.id, [("Anneke Boekhouder", "boekhouding@bakkerij-devries.example")])
    sqlite_directory.set_language(devries.id, "nl")
    app: PortalApp = make_portal_app(portal_service.client(), cursor_blink=False)  # a terminal with no LANG
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "Send code (enter)" in seen(app)  # nobody is known yet: the terminal's language
        await burst(pilot, *OWNER)
        await press(pilot, "enter")
        codes = await wait_for(lambda: mailed_codes(OWNER))
        (mail,) = code_mails(OWNER)
        assert mail["Subject"] == "Uw inlogcode voor het portaal contactpersonen"
        assert mail["Content-Language"] == "nl"
        assert f"Uw inlogcode: {codes[0]}" in mail.get_content()
        await burst(pilot, *codes[0])
        await press(pilot, "enter")
        assert isinstance(app.screen, PortalContactsScreen)
        text = seen(app)
        assert "Uw contactpersonen" in text and "Anneke Boekhouder" in text and "1 van 10" in text
        assert "uitloggen" in text and "sign out" not in text

        await press(pilot, "l")
        assert isinstance(app.screen, LanguageChoice)
        await press(pilot, "home", "enter")  # English, named in English
        assert isinstance(app.screen, PortalContactsScreen)
        assert "Your contact persons" in seen(app) and "sign out" in seen(app)
        stored = await wait_for(lambda: sqlite_directory.get_customer(devries.id).language == "en")
        assert stored
        change = sqlite_directory.history(customer_id=devries.id)[0]
        assert (change.who, change.channel) == (OWNER, "ssh")
