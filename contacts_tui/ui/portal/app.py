"""The portal app: sign in by code, then one customer's contact persons."""

from __future__ import annotations

import gettext
import io
import signal
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

from rich.console import Console
from rich.text import Text
from textual import events
from textual.app import SystemCommand
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.screen import Screen

from contacts_tui.core.crash import crash_line, report_crash
from contacts_tui.core.portal.client import PortalClient, PortalSession
from contacts_tui.core.portal.language import DEFAULT_LANGUAGE, LANGUAGES, say, translation

from ..commands import ScreenActions
from ..inert_text import InertText
from ..language import N_, _
from ..typeahead import TypeAhead
from .help import PortalHelp
from .limits import IDLE_SECONDS, LIFETIME_SECONDS, SIGN_IN_SECONDS, bounded_size
from .palette import PortalPalette
from .signin_screen import SignInScreen

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
    TITLE = N_("Contact persons portal")
    # Only the current screen's own actions, plus help, sign out and quit.
    COMMANDS: ClassVar[set] = {ScreenActions}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark,f1", "help", N_("help"), tooltip=N_("Show the keys of this screen"), id="portal.help"),
        # Every way out ends the session: over SSH there is no shell to
        # suspend to (ctrl+z) or to interrupt into (ctrl+c).
        Binding(
            "ctrl+q,ctrl+c,ctrl+z",
            "quit",
            N_("quit"),
            show=False,
            priority=True,
            tooltip=N_("End the session"),
            id="portal.quit",
        ),
    ]

    def __init__(
        self,
        signin: PortalClient,
        *,
        cursor_blink: bool = True,
        idle_seconds: float = IDLE_SECONDS,
        sign_in_seconds: float = SIGN_IN_SECONDS,
        lifetime_seconds: float = LIFETIME_SECONDS,
        language: str = DEFAULT_LANGUAGE,
    ) -> None:
        super().__init__()
        self.signin = signin
        self.language = language if language in LANGUAGES else DEFAULT_LANGUAGE
        self.cursor_blink = cursor_blink
        self.idle_seconds = idle_seconds
        self.sign_in_seconds = sign_in_seconds
        self.lifetime_seconds = lifetime_seconds
        self.directory: PortalSession | None = None
        self.started = self.last_input = time.monotonic()
        self.ended_idle = False
        self.crash_reference: str | None = None
        self.ending = ""

    def get_default_screen(self) -> Screen:
        return SignInScreen()

    @property
    def translations(self) -> gettext.NullTranslations:
        """The words of the portal's language now (language.py's ``_`` asks for them)."""
        return translation(self.language)

    def speak(self, language: str) -> None:
        """Say everything in ``language`` from now on: the title, the footers,
        and each screen that shows words already (``words``, if it has it)."""
        if language not in LANGUAGES:
            return
        self.language = language
        self.title = _(self.TITLE)
        for screen in self.screen_stack:
            words = getattr(screen, "words", None)
            if callable(words) and screen.is_mounted:
                words()
            screen.refresh_bindings()

    def on_mount(self) -> None:
        self.title = _(self.TITLE)
        self.watch(self, "app_focus", self._focus_returned, init=False)
        shortest = min(self.idle_seconds, self.sign_in_seconds, self.lifetime_seconds)
        self.set_interval(min(IDLE_CHECK_SECONDS, shortest / 2), self._check_time)
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
        elif isinstance(event, events.Resize):
            # Every size the terminal reports (at the start, on SIGWINCH, in
            # band, from the browser) comes here: a client's 30000x30000
            # would otherwise be drawn, cell by cell.
            event.size = self._bounded(event.size)
            event.virtual_size = self._bounded(event.virtual_size)
            event.container_size = self._bounded(event.container_size)
        await super().on_event(event)

    @property
    def size(self) -> Size:
        # Before the first Resize, Textual asks the terminal itself.
        return self._bounded(super().size)

    @staticmethod
    def _bounded(size: Size) -> Size:
        return Size(*bounded_size(size.width, size.height))

    def _check_time(self) -> None:
        now = time.monotonic()
        # Ends the process too: an abandoned connection keeps nothing open.
        if now - self.started >= self.lifetime_seconds:
            self.end(
                _("The session ended after {time}: start a new one to go on.").format(
                    time=_minutes(self.lifetime_seconds)
                )
            )
        elif self.directory is None and now - self.last_input >= self.sign_in_seconds:
            self.end(_("The session ended: nobody signed in for {time}.").format(time=_minutes(self.sign_in_seconds)))
        elif now - self.last_input >= self.idle_seconds:
            self.ended_idle = True
            self.end(_("Signed out after {minutes} idle minutes.").format(minutes=round(self.idle_seconds / 60)))

    def end(self, why: str, return_code: int = 0) -> None:
        """End the session, saying why: below the screen over SSH, in the page in a browser."""
        self.ending = why
        self._tell_the_page(why)
        self.exit(return_code=return_code, message=Text(why))

    def _tell_the_page(self, why: str, out_of_memory: bool = False) -> None:
        # The web server closes the browser's websocket with this as its
        # reason, and the page shows it where it says the session ended.
        write_meta = getattr(self._driver, "write_meta", None)
        if write_meta is not None:
            try:
                write_meta({"type": "ending", "reason": why, "out_of_memory": out_of_memory})
            except OSError:
                pass  # the server has gone already

    # -- a crash: one line for the customer, the details for the log ------------
    # Textual's own handling shows a traceback with local variables and
    # install paths, on the customer's screen over SSH, and exits 0.

    def _handle_exception(self, error: Exception) -> None:
        from textual.worker import WorkerFailed

        cause = error.error if isinstance(error, WorkerFailed) else error
        self._end_on_error(cause if isinstance(cause, BaseException) else error)
        if self._exception is None:  # the tests under Pilot raise it again
            self._exception = error
            self._exception_event.set()

    def panic(self, *renderables: Any) -> None:
        # A driver's input thread failed: its traceback is one of these.
        console = Console(width=120, record=True, file=io.StringIO(), color_system=None)
        for renderable in renderables:
            console.print(renderable)
        details = console.export_text().rstrip()
        self._end_on_error(None, details, out_of_memory=details.endswith("MemoryError"))

    def _end_on_error(self, error: BaseException | None, details: str = "", out_of_memory: bool = False) -> None:
        self._return_code = 1
        if self.crash_reference is None:
            self.crash_reference = report_crash(error, details)
            out_of_memory = out_of_memory or isinstance(error, MemoryError)
            line = say(crash_line(self.crash_reference, out_of_memory), self.language)
            self._tell_the_page(line, out_of_memory)
            self._exit_renderables.append(Text(line))
        self._close_messages_no_wait()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        # Textual's own (themes, screenshots, its key panel) are left out.
        yield SystemCommand(_("Help"), _("Key: ?  The keys of this screen"), self.action_help)
        if self.directory is not None:
            yield SystemCommand(_("Sign out"), _("Key: o  End this sign-in"), self.sign_out)
        yield SystemCommand(_("Quit"), _("Key: ctrl+q  End the session"), self.exit)

    def action_command_palette(self) -> None:
        # Textual's own palette, with its two sentences in the portal's language.
        if self.use_command_palette and not PortalPalette.is_open(self):
            self.push_screen(PortalPalette(id="--command-palette", placeholder=_("Search for commands…")))

    def action_help(self) -> None:
        if not isinstance(self.screen, PortalHelp):
            self.push_screen(PortalHelp(self.screen))

    # -- the session ---------------------------------------------------------

    def signed_in(self, session: PortalSession) -> None:
        from .contacts_screen import PortalContactsScreen

        self.directory = session
        # The customer is known now: their own language, whatever the browser or terminal asked for.
        self.speak(session.language)
        self.push_screen(PortalContactsScreen())

    async def sign_out(self, message: str | None = None) -> None:
        """Back to the sign-in screen, which says ``message`` (by default: signed out)."""
        session, self.directory = self.directory, None
        if session is not None:
            # The token dies at the service too; a service that is down has none to end.
            self.run_worker(session.sign_out, thread=True, exit_on_error=False)
        while len(self.screen_stack) > 1:
            await self.pop_screen()
        screen = self.screen
        if isinstance(screen, SignInScreen):
            screen.start_over(_("You are signed out.") if message is None else message)

    # -- navigation: screens ask the app, so they never import each other ----

    def open_history(self) -> None:
        from .history_screen import PortalHistoryScreen

        self.push_screen(PortalHistoryScreen())


def _minutes(seconds: float) -> str:
    if seconds >= 120:
        return _("{count} minutes").format(count=round(seconds / 60))
    return _("{count} seconds").format(count=round(seconds))


def make_portal_app(signin: PortalClient, **options: Any) -> PortalApp:
    """The portal at the service of ``signin``; the CLI, the web server's
    sessions and the tests build it the same way."""
    return PortalApp(signin, **options)
