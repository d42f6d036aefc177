"""The admin TUI: customers and their contact persons, keyboard first."""

from __future__ import annotations

import gc
from collections.abc import Iterable
from typing import Any, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from contacts_tui.core.db import describe
from contacts_tui.core.directory.bulk.actions import BulkResult
from contacts_tui.core.directory.filters import NO_FILTER
from contacts_tui.core.directory.service import Directory
from contacts_tui.core.display import visible
from contacts_tui.core.mail.relay_log import LogEntry

from .commands import ScreenActions
from .inert_text import InertText
from .screens.customers import CustomersScreen
from .screens.help import HelpScreen
from .typeahead import TypeAhead

# Built-in palette entries that belong to this app; the rest (screenshots,
# maximising, Textual's own key panel) would only compete with our help.
KEPT_SYSTEM_COMMANDS = ("Theme", "Quit")


class ContactsApp(InertText, TypeAhead):
    """Customers and contact persons over one directory."""

    CSS_PATH = "app.tcss"
    TITLE = "Contact Persons"
    # Every action of the screen, by its name and the words people use for it.
    COMMANDS = App.COMMANDS | {ScreenActions}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark,f1", "help", "help", tooltip="Show every key of this screen", id="app.help"),
    ]

    def __init__(self, directory: Directory, *, cursor_blink: bool = True, **options: Any) -> None:
        super().__init__()
        self.directory = directory
        self.cursor_blink = cursor_blink
        self.filter = NO_FILTER
        """The filter the customers and customer screens show (f sets it)."""
        self.last_bulk: BulkResult | None = None
        """The last bulk change made here, for z to undo (its undo becomes the last in turn)."""
        # The relay log, captured messages and sample screens read theirs from here.
        self.options = options
        # Over SSH an admin must tell production from a test file at a glance.
        title = f"{self.TITLE} demo" if options.get("demo") else self.TITLE  # the demo's relay only captures
        self.title = f"{title} · {visible(describe(directory.database))}"

    def on_ready(self) -> None:
        # A full garbage collection walks every object made at start (the
        # modules, styles and widgets of Textual and Rich): 60-110 ms, landing
        # in the middle of typing a search at random. Frozen, they are skipped.
        gc.freeze()

    def on_unmount(self) -> None:
        # Let what this app made be collected again once it is gone (the tests
        # run hundreds of apps in one process).
        gc.unfreeze()

    def get_default_screen(self) -> Screen:
        return CustomersScreen()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield SystemCommand("Help", "Key: ?  Every key of this screen", self.action_help)
        for command in super().get_system_commands(screen):
            if command.title in KEPT_SYSTEM_COMMANDS:
                yield command

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    # -- navigation: screens ask the app, so they never import each other ----
    # The mail screens load when first opened: the customers screen, what
    # every start shows, does not wait for them.

    def open_relay_log(self, search: str = "") -> None:
        """The relay log, searched for ``search``."""
        from .screens.relay_log import LogScreen

        self._open_list(LogScreen, search)

    def open_messages(self, search: str = "") -> None:
        """The captured messages, searched for ``search``."""
        from .screens.messages import MessagesScreen

        self._open_list(MessagesScreen, search)

    def open_log_entry(self, entry: LogEntry) -> None:
        """One relay log entry in full."""
        from .screens.log_entry import LogEntryScreen

        self.push_screen(LogEntryScreen(entry))

    def open_message(self, message_id: int) -> None:
        """A captured message."""
        from .screens.message import MessageScreen

        self.push_screen(MessageScreen(message_id))

    def open_history(self, customer_id: int | None = None, customer_name: str = "") -> None:
        """The history of changes: of one customer, or of all with ``None``."""
        from .screens.history import HistoryScreen

        self.push_screen(HistoryScreen(customer_id, customer_name))

    def open_tagging_rules(self) -> None:
        """The tagging rules, for mail from senders that cannot add a category header."""
        from .screens.tagging_rules import TaggingRulesScreen

        self.push_screen(TaggingRulesScreen())

    def _open_list(self, target: type[Screen], search: str) -> None:
        # From either list the other is one key away; going there a second
        # time goes back instead, so l m l m never piles up screens that
        # escape must unwind.
        stack = self.screen_stack
        if len(stack) >= 2 and isinstance(stack[-2], target):
            self.screen.dismiss()
        else:
            self.push_screen(target(search))


def make_app(directory: Directory, **options: Any) -> ContactsApp:
    """The app over ``directory``; the CLI and the tests build it the same way.

    ``cursor_blink=False`` keeps screenshots steady. Other options, kept for
    the screens that need them: ``relay_address=(host, port)`` lets s send
    sample notifications through that relay; ``demo=True`` shows the demo's
    hint, ``read_later`` the command that lists its captured messages
    afterwards; ``refresh_seconds`` is how often the relay log and the
    captured messages reload while open (default 2; 0 never).
    """
    return ContactsApp(directory, **options)
