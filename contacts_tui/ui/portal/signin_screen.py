"""Sign in: the customer's primary email, then the code mailed to it."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Footer, Header, Input, Label, Static

from contacts_tui.core.errors import DirectoryError, TooManyCodes, ValidationError
from contacts_tui.core.portal.client import PortalSession, WrongCode
from contacts_tui.core.portal.signin import CODE_LIFETIME, MAX_REQUESTS, MAX_TRIES
from contacts_tui.core.times import local

from ..language import N_, TranslatedBindings, _, said
from ..screens.base import AppScreen
from .language_choice import LANGUAGE_KEY, LanguageChoice

MINUTES = int(CODE_LIFETIME.total_seconds() // 60)
SENT = N_(
    "If this address belongs to a customer, a code is on its way to it. Type it below; it "
    "works for {minutes} minutes, and only the newest code does."
)
WRONG = N_(
    "That code is not right, or no longer valid (a code works {minutes} minutes and {tries} tries). "
    "ctrl+n sends a new one."
)
NOT_RIGHT = N_("That code is not right, or no longer valid (a code works {minutes} minutes and {tries} tries).")
NO_NEW_CODE = N_(
    "No new code until {time} (in {minutes} minutes): this address has had {requests} codes in the last hour, "
    "the most there are. Ask us if you cannot wait."
)
NO_NEW_CODE_1 = N_(
    "No new code until {time} (in 1 minute): this address has had {requests} codes in the last hour, "
    "the most there are. Ask us if you cannot wait."
)


def sent() -> str:
    """What the screen says once a code was asked for, to every address alike."""
    return _(SENT).format(minutes=MINUTES)


def wrong() -> str:
    """What the screen says for a code that is not (or no longer) right."""
    return _(WRONG).format(minutes=MINUTES, tries=MAX_TRIES)


def not_right() -> str:
    return _(NOT_RIGHT).format(minutes=MINUTES, tries=MAX_TRIES)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def no_new_code(later: dt.datetime) -> str:
    """Why ctrl+n sends nothing now, and when it will (``later`` in naive UTC)."""
    minutes = max(1, -(-int((later - _utcnow()).total_seconds()) // 60))
    template = NO_NEW_CODE_1 if minutes == 1 else NO_NEW_CODE
    return _(template).format(time=f"{local(later):%H:%M}", minutes=minutes, requests=MAX_REQUESTS)


class SignInScreen(TranslatedBindings, AppScreen):
    """Email, then code. Says the same for every address, so it tells nobody who is a customer."""

    SUB_TITLE = N_("Sign in")
    HELP = N_(
        "Sign in with your primary email: the address your invoices go to. A six-digit code "
        "is mailed to it; it works for {minutes} minutes and {tries} tries. Contact persons "
        "cannot sign in: their customer manages them here. ctrl+l shows the portal in another "
        "language."
    )
    AUTO_FOCUS = "#email"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "ctrl+n", "new_code", N_("new code"), tooltip=N_("Mail a new code to the address"), id="signin.new_code"
        ),
        Binding(
            "escape",
            "other_address",
            N_("other address"),
            tooltip=N_("Sign in with another address"),
            id="signin.other_address",
        ),
        Binding(
            f"ctrl+{LANGUAGE_KEY}",
            "language",
            N_("language"),
            tooltip=N_("Show the portal in another language"),
            id="signin.language",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.address = ""

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="signin"):
            yield Static("", id="signin-intro", markup=False)
            with Horizontal(classes="field", id="email-row"):
                yield Label("", id="email-label", classes="field-label", markup=False)
                yield Input(id="email", compact=True)
            yield Static("", classes="error", id="email-error", markup=False)
            yield Static("", id="signin-sent", markup=False)
            with Horizontal(classes="field hidden", id="code-row"):
                yield Label("", id="code-label", classes="field-label", markup=False)
                yield Input(id="code", compact=True, max_length=12)
            yield Static("", classes="error", id="code-error", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("", id="send", compact=True)
                yield Button("", id="verify", compact=True, classes="hidden")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.words()
        if not self.app.cursor_blink:
            for widget in self.query(Input):
                widget.cursor_blink = False

    def words(self) -> None:
        """Every word of the screen in the portal's language (again, after it changed)."""
        self.sub_title = _(self.SUB_TITLE)
        self.query_one("#signin-intro", Static).update(_("Manage who at your company gets copies of our mail."))
        self.query_one("#email-label", Label).update(_("Email"))
        self.query_one("#email", Input).placeholder = _("your primary email")
        self.query_one("#code-label", Label).update(_("Code"))
        self.query_one("#code", Input).placeholder = _("6 digits")
        self.query_one("#send", Button).label = _("Send code (enter)")
        self.query_one("#verify", Button).label = _("Sign in (enter)")
        if self.address:
            self.query_one("#signin-sent", Static).update(sent())

    def help_text(self) -> str:
        return _(self.HELP).format(minutes=MINUTES, tries=MAX_TRIES)

    # -- what applies now ----------------------------------------------------

    def hidden(self, action: str, parameters: tuple[object, ...]) -> bool:
        if action == "close":
            return True  # nothing underneath to go back to: ctrl+q ends the session
        if action in ("new_code", "other_address"):
            return not self.address
        return False

    # -- the language --------------------------------------------------------

    def action_language(self) -> None:
        self.app.push_screen(LanguageChoice(self.app.language), self._chosen)

    def _chosen(self, language: str | None) -> None:
        # Not stored: nobody is signed in. Once somebody is, their own language wins.
        if language is not None:
            self.app.speak(language)

    # -- asking for a code ---------------------------------------------------

    @on(Input.Submitted, "#email")
    @on(Button.Pressed, "#send")
    def send(self) -> None:
        self._request(self.query_one("#email", Input).value)

    def action_new_code(self) -> None:
        if self.address:
            self._request(self.address)

    def _request(self, address: str) -> None:
        signin = self.app.signin
        self._error("email", "")
        self.call_directory(
            "request", lambda: signin.request_code(address), lambda _: self._sent(address), self._refused, write=True
        )

    def _sent(self, address: str) -> None:
        self.address = address
        email = self.query_one("#email", Input)
        email.disabled = True
        self.query_one("#signin-sent", Static).update(sent())
        for hidden in ("#code-row", "#verify"):
            self.query_one(hidden).remove_class("hidden")
        self.query_one("#send").add_class("hidden")
        self._error("code", "")
        code = self.query_one("#code", Input)
        code.value = ""
        code.focus()
        self.update_keys()

    def _refused(self, error: DirectoryError) -> None:
        if isinstance(error, ValidationError):
            self._error("email", said(error))
        elif isinstance(error, TooManyCodes):
            # ctrl+n asks the service every time: an admin may have lifted the limit meanwhile.
            self._error("code" if self.address else "email", no_new_code(error.next_code_at))

    # -- checking it ---------------------------------------------------------

    @on(Input.Submitted, "#code")
    @on(Button.Pressed, "#verify")
    def verify(self) -> None:
        signin, address = self.app.signin, self.address
        typed = self.query_one("#code", Input).value

        def check() -> PortalSession | WrongCode:
            return signin.try_code(address, typed)

        self._error("code", _("Checking…"))
        self.call_directory("verify", check, self._checked, lambda _error: self._error("code", ""), write=True)

    def _checked(self, session: PortalSession | WrongCode) -> None:
        if isinstance(session, WrongCode):
            later = session.next_code_at
            self._error("code", wrong() if later is None else f"{not_right()} {no_new_code(later)}")
            self.query_one("#code", Input).focus()
            return
        self._error("code", "")
        self.app.signed_in(session)

    # -- starting over -------------------------------------------------------

    def action_other_address(self) -> None:
        self.start_over("")

    def start_over(self, message: str) -> None:
        """Back to an empty address field (after signing out, or for another address)."""
        self.address = ""
        email = self.query_one("#email", Input)
        email.disabled = False
        email.value = ""
        self.query_one("#code", Input).value = ""
        self.query_one("#signin-sent", Static).update(message)
        for shown in ("#code-row", "#verify"):
            self.query_one(shown).add_class("hidden")
        self.query_one("#send").remove_class("hidden")
        self._error("email", "")
        self._error("code", "")
        email.focus()
        self.update_keys()

    def _error(self, name: str, message: str) -> None:
        error = self.query_one(f"#{name}-error", Static)
        error.update(message)
        error.set_class(bool(message), "shown")
