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
from contacts_tui.core.portal.signin import CODE_LIFETIME, MAX_REQUESTS
from contacts_tui.core.times import local

from ..screens.base import AppScreen

MINUTES = int(CODE_LIFETIME.total_seconds() // 60)
SENT = (
    "If this address belongs to a customer, a code is on its way to it. Type it below; it "
    f"works for {MINUTES} minutes, and only the newest code does."
)
WRONG = "That code is not right, or no longer valid (a code works 10 minutes and 5 tries). ctrl+n sends a new one."
NOT_RIGHT = "That code is not right, or no longer valid (a code works 10 minutes and 5 tries)."


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def no_new_code(later: dt.datetime) -> str:
    """Why ctrl+n sends nothing now, and when it will (``later`` in naive UTC)."""
    minutes = max(1, -(-int((later - _utcnow()).total_seconds()) // 60))
    return (
        f"No new code until {local(later):%H:%M} (in {minutes} minute{'s' if minutes != 1 else ''}): this address "
        f"has had {MAX_REQUESTS} codes in the last hour, the most there are. Ask us if you cannot wait."
    )


class SignInScreen(AppScreen):
    """Email, then code. Says the same for every address, so it tells nobody who is a customer."""

    SUB_TITLE = "Sign in"
    HELP = (
        "Sign in with your primary email: the address your invoices go to. A six-digit code "
        f"is mailed to it; it works for {MINUTES} minutes and five tries. Contact persons "
        "cannot sign in: their customer manages them here."
    )
    AUTO_FOCUS = "#email"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+n", "new_code", "new code", tooltip="Mail a new code to the address", id="signin.new_code"),
        Binding(
            "escape",
            "other_address",
            "other address",
            tooltip="Sign in with another address",
            id="signin.other_address",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.address = ""

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="signin"):
            yield Static("Manage who at your company gets copies of our mail.", id="signin-intro", markup=False)
            with Horizontal(classes="field", id="email-row"):
                yield Label("Email", classes="field-label", markup=False)
                yield Input(id="email", compact=True, placeholder="your primary email")
            yield Static("", classes="error", id="email-error", markup=False)
            yield Static("", id="signin-sent", markup=False)
            with Horizontal(classes="field hidden", id="code-row"):
                yield Label("Code", classes="field-label", markup=False)
                yield Input(id="code", compact=True, placeholder="6 digits", max_length=12)
            yield Static("", classes="error", id="code-error", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Send code (enter)", id="send", compact=True)
                yield Button("Sign in (enter)", id="verify", compact=True, classes="hidden")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = self.SUB_TITLE
        if not self.app.cursor_blink:
            for widget in self.query(Input):
                widget.cursor_blink = False

    # -- what applies now ----------------------------------------------------

    def hidden(self, action: str, parameters: tuple[object, ...]) -> bool:
        if action == "close":
            return True  # nothing underneath to go back to: ctrl+q ends the session
        if action in ("new_code", "other_address"):
            return not self.address
        return False

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
        self.query_one("#signin-sent", Static).update(SENT)
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
            self._error("email", " ".join(e.message for e in error.errors))
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

        self._error("code", "Checking…")
        self.call_directory("verify", check, self._checked, lambda _error: self._error("code", ""), write=True)

    def _checked(self, session: PortalSession | WrongCode) -> None:
        if isinstance(session, WrongCode):
            later = session.next_code_at
            self._error("code", WRONG if later is None else f"{NOT_RIGHT} {no_new_code(later)}")
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
