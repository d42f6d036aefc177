"""The portal app: sign in by code, then one customer's contact persons."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

from textual import events
from textual.app import SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from contacts_tui.core.portal.client import PortalClient, PortalSession
from contacts_tui.core.portal.sessions import IDLE_TIMEOUT

from ..commands import ScreenActions
from ..inert_text import InertText
from ..typeahead import TypeAhead
from .help import PortalHelp
from .signin_screen import SignInScreen

IDLE_SECONDS = IDLE_TIMEOUT
IDLE_CHECK_SECONDS = 5.0
UI = Path(__file__).resolve().parent.parent


class PortalApp(InertText, TypeAhead):
    """A customer's own contact persons, after signing in with a mailed code.

    Holds no directory of its own, nor a database: until sign-in it can only
    ask the portal service for a code and sign in (``signin``, the client);
    afterwards ``directory`` is the customer's ``PortalSession`` at the
    service (the screens of the admin UI it reuses call it by that name).
    """

    CSS_PATH: ClassVar[list] = [UI / "app.tcss", "portal.tcss"]
    TITLE = "Contact persons portal"
    # Only the current screen's own actions, plus help, sign out and quit.
    COMMANDS: ClassVar[set] = {ScreenActions}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark,f1", "help", "help", tooltip="Show the keys of this screen", id="portal.help"),
        # Every way out ends the session: over SSH there is no shell to
        # suspend to (ctrl+z) or to interrupt into (ctrl+c).
        Binding(
            "ctrl+q,ctrl+c,ctrl+z",
            "quit",
            "quit",
            show=False,
            priority=True,
            tooltip="End the session",
            id="portal.quit",
        ),
    ]

    def __init__(self, signin: PortalClient, *, cursor_blink: bool = True, idle_seconds: float = IDLE_SECONDS) -> None:
        super().__init__()
        self.signin = signin
        self.cursor_blink = cursor_blink
        self.idle_seconds = idle_seconds
        self.directory: PortalSession | None = None
        self.last_input = time.monotonic()
        self.ended_idle = False

    def get_default_screen(self) -> Screen:
        return SignInScreen()

    def on_mount(self) -> None:
        self.watch(self, "app_focus", self._focus_returned, init=False)
        self.set_interval(min(IDLE_CHECK_SECONDS, self.idle_seconds / 2), self._check_idle)
        try:
            # A dropped SSH connection: end like ctrl+q, not killed mid-write.
            self.loop_signal(signal.SIGHUP)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread (tests), or no such signal

    def _focus_returned(self, focused: bool) -> None:
        # In a browser the app starts without focus (textual's web driver
        # says so), and a screen built meanwhile focused nothing: when the
        # page gets the focus, the first field gets it, so typing lands there.
        screen = self.screen
        if focused and screen.focused is None and screen.AUTO_FOCUS:
            for widget in screen.query(screen.AUTO_FOCUS):
                if widget.focusable:
                    widget.focus()
                    break

    def loop_signal(self, number: int) -> None:
        import asyncio

        asyncio.get_running_loop().add_signal_handler(number, self.exit)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.Paste, events.MouseDown)):
            self.last_input = time.monotonic()
        await super().on_event(event)

    def _check_idle(self) -> None:
        if time.monotonic() - self.last_input >= self.idle_seconds:
            # Ends the process too: an abandoned connection keeps nothing open.
            self.ended_idle = True
            self.exit(message=f"Signed out after {round(self.idle_seconds / 60)} idle minutes.")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        # Textual's own (themes, screenshots, its key panel) are left out.
        yield SystemCommand("Help", "Key: ?  The keys of this screen", self.action_help)
        if self.directory is not None:
            yield SystemCommand("Sign out", "Key: o  End this sign-in", self.sign_out)
        yield SystemCommand("Quit", "Key: ctrl+q  End the session", self.exit)

    def action_help(self) -> None:
        if not isinstance(self.screen, PortalHelp):
            self.push_screen(PortalHelp(self.screen))

    # -- the session ---------------------------------------------------------

    def signed_in(self, session: PortalSession) -> None:
        from .contacts_screen import PortalContactsScreen

        self.directory = session
        self.push_screen(PortalContactsScreen())

    async def sign_out(self, message: str = "You are signed out.") -> None:
        session, self.directory = self.directory, None
        if session is not None:
            # The token dies at the service too; a service that is down has none to end.
            self.run_worker(session.sign_out, thread=True, exit_on_error=False)
        while len(self.screen_stack) > 1:
            await self.pop_screen()
        screen = self.screen
        if isinstance(screen, SignInScreen):
            screen.start_over(message)

    # -- navigation: screens ask the app, so they never import each other ----

    def open_history(self) -> None:
        from .history_screen import PortalHistoryScreen

        self.push_screen(PortalHistoryScreen())


def make_portal_app(signin: PortalClient, **options: Any) -> PortalApp:
    """The portal at the service of ``signin``; the CLI, the web server's
    sessions and the tests build it the same way."""
    return PortalApp(signin, **options)
