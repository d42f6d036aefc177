"""The portal's languages in the core: which one a browser or a terminal asks
for, the catalogs read as msgfmt reads them, the core's sentences carried
through the portal service's protocol, and the sign-in mail in Dutch."""

from __future__ import annotations

import gettext
import io
import json
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

import pytest

from contacts_tui.core.errors import NotFound, ValidationError
from contacts_tui.core.portal import protocol as p
from contacts_tui.core.portal.language import (
    SESSION_ENV,
    compile_po,
    from_accept_language,
    from_environment,
    read_po,
    say,
)
from contacts_tui.core.portal.signin import code_message
from contacts_tui.core.validate import clean_email, clean_name
from contacts_tui.core.wording import Phrase


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("nl-NL,nl;q=0.9,en-US;q=0.8,en;q=0.7", "nl"),  # Chromium with Dutch first
        ("nl-BE", "nl"),
        ("en-GB,en;q=0.9,nl;q=0.8", "en"),
        ("de-DE,de;q=0.9,nl;q=0.5", "nl"),  # a language we have beats English we were not asked for
        ("de-DE,de;q=0.9", "en"),
        ("fr;q=0.3, nl;q=0.2, *;q=0.1", "nl"),
        ("*", "en"),
        ("nl;q=0", "en"),  # q=0: not acceptable
        ("", "en"),
        (None, "en"),
        ("nl;q=abc, ;;, =", "en"),  # nonsense is read past, not trusted
        ("x" * 5000 + ",nl", "en"),  # read no further than a browser would send
    ],
)
def test_the_browser_s_accept_language_picks_the_sign_in_screen_s_language(header: str | None, language: str) -> None:
    assert from_accept_language(header) == language


@pytest.mark.parametrize(
    ("environ", "language"),
    [
        ({"LANG": "nl_NL.UTF-8"}, "nl"),
        ({"LANG": "nl_NL.UTF-8", "LC_ALL": "C"}, "en"),  # LC_ALL wins, as for every program
        ({"LC_MESSAGES": "nl_BE", "LANG": "en_US.UTF-8"}, "nl"),
        ({"LANG": "de_DE.UTF-8"}, "en"),
        ({SESSION_ENV: "nl", "LANG": "en_US.UTF-8"}, "nl"),  # a browser session's, as its server negotiated
        ({SESSION_ENV: "../../etc", "LANG": "nl_NL"}, "nl"),  # only a language of ours is taken
        ({}, "en"),
    ],
)
def test_a_portal_process_starts_in_its_session_s_or_its_terminal_s_language(
    environ: dict[str, str], language: str
) -> None:
    assert from_environment(environ) == language


def test_the_catalog_reader_takes_what_msgfmt_takes() -> None:
    po = (
        '# a comment\nmsgid ""\nmsgstr "Plural-Forms: nplurals=2; plural=(n != 1);\\n"\n\n'
        'msgctxt "role"\nmsgid "Billing"\nmsgstr "Facturatie"\n\n'
        '#, fuzzy\nmsgid "Unsure"\nmsgstr "Onzeker"\n\n'
        'msgid "Untranslated"\nmsgstr ""\n\n'
        'msgid ""\n"one "\n"line"\nmsgstr "een \\"regel\\"\\n"\n\n'
        'msgid "{n} contact"\nmsgid_plural "{n} contacts"\n'
        'msgstr[0] "{n} contactpersoon"\nmsgstr[1] "{n} contactpersonen"\n'
    )
    messages = read_po(po)
    assert messages["role\x04Billing"] == "Facturatie"
    assert messages["one line"] == 'een "regel"\n'
    assert "Unsure" not in messages and "Untranslated" not in messages
    compiled = gettext.GNUTranslations(io.BytesIO(compile_po(po)))
    assert compiled.pgettext("role", "Billing") == "Facturatie"
    assert compiled.ngettext("{n} contact", "{n} contacts", 1) == "{n} contactpersoon"
    assert compiled.ngettext("{n} contact", "{n} contacts", 3) == "{n} contactpersonen"
    assert compiled.gettext("Unsure") == "Unsure"
    with pytest.raises(ValueError, match="line 2"):
        read_po('msgid "x"\nmsgstr x\n')


def test_a_rule_s_refusal_crosses_the_protocol_and_is_said_in_dutch() -> None:
    with pytest.raises(ValidationError) as caught:
        clean_name("")
    answer = json.loads(p.encode(p.error_answer(7, caught.value)))
    # Whoever reads the protocol without our catalogs still gets the English.
    assert answer["error"]["fields"][0]["message"] == "Name is required"
    error = p.error_from(answer["error"])
    assert isinstance(error, ValidationError)
    message = error.errors[0].message
    assert message == "Name is required"  # the core and the admin's screens: English
    assert say(message, "nl") == "Naam is verplicht"
    assert say(message, "en") == "Name is required"


def test_data_inside_a_sentence_stays_as_it_was_typed() -> None:
    with pytest.raises(ValidationError) as caught:
        clean_email("no address")
    said = say(caught.value.errors[0].message, "nl")
    assert "'no address'" in said and "geen geldig e-mailadres" in said
    not_found = p.error_from(
        json.loads(p.encode(p.error_answer(1, NotFound(Phrase("contact person {id} does not exist", id=42)))))["error"]
    )
    assert say(not_found.args[0], "nl") == "contactpersoon 42 bestaat niet"
    # A name is never looked up in the catalog, even one that reads like a message.
    assert say("Name is required", "nl") == "Name is required"


def test_a_forged_phrase_is_taken_as_its_text() -> None:
    forged = {"code": p.NOT_FOUND, "message": "plain", "phrase": {"template": "{0.__class__}", "args": {}}}
    assert str(p.error_from(forged)) == "plain"
    deep: dict = {"template": "{a}", "args": {}}
    for _ in range(10):
        deep = {"template": "{a}", "args": {"a": deep}}
    assert str(p.error_from({"code": p.NOT_FOUND, "message": "plain", "phrase": deep})) == "plain"


def test_the_sign_in_mail_speaks_dutch_to_a_dutch_customer() -> None:
    raw = code_message("portal@billing.example", "Bakkerij de Vries", "info@devries.example", "123456", "nl")
    message = message_from_bytes(raw, _class=EmailMessage, policy=default)
    assert message["Subject"] == "Uw inlogcode voor het portaal contactpersonen"
    assert message["Content-Language"] == "nl"
    body = message.get_content()
    assert "Uw inlogcode: 123456" in body and "10 minuten" in body
    assert "sign-in" not in body.lower()
    english = message_from_bytes(
        code_message("portal@billing.example", "Acme", "a@acme.example", "654321"), _class=EmailMessage, policy=default
    )
    assert english["Subject"] == "Your sign-in code for the contact persons portal"
    assert "Your sign-in code: 654321" in english.get_content()
