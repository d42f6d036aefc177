"""Captured messages: what a capture relay would have sent, newest first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from contacts_tui.core.display import visible
from contacts_tui.core.mail import chaos, relay_log
from contacts_tui.core.mail.relay_log import CapturedRecord

from ..mailformat import message_summary
from ..widgets.mail_tables import MessageTable
from .confirm import Confirm
from .mail_list import MailListScreen
from .sample import dismiss_sent_answers


class MessagesScreen(MailListScreen):
    """The messages a relay in capture mode stored instead of sending them."""

    TABLE = MessageTable
    NOUNS = ("captured message", "captured messages")
    PLACEHOLDER = "sender, recipient, subject, added person  (press /)"
    HELP = (
        "A relay started with --capture (as contacts-tui demo does) sends nothing on: it "
        "stores each message as it would have sent it, with the contact persons it added "
        "as Cc. Open one to see who was added and why, the headers before and after the "
        "relay, the text and HTML bodies and the raw message. Type after / to search: "
        "every word must appear in the sender, a recipient, the subject, the category or "
        "an added person. The list updates itself every few seconds. Chaos rules "
        "(contacts-relay chaos), which make the relay fail on purpose, show above the list "
        "while they last: contacts-relay chaos clear ends them."
    )
    EXTRA_KEYS = (
        ("enter", "Open the highlighted message (in the search box: go to the list)"),
        ("↑ ↓", "Move through the messages"),
        ("pgup pgdn", "A screen up or down"),
        ("home end", "Newest or oldest message"),
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "search", "search", tooltip="Search the captured messages", id="messages.search"),
        Binding("r", "refresh", "refresh", tooltip="Load the newest messages now", id="messages.refresh"),
        Binding(
            "d", "delete_message", "delete", tooltip="Delete the highlighted message (asks first)", id="messages.delete"
        ),
        Binding(
            "c",
            "clear_all",
            "delete all",
            tooltip="Delete every captured message (asks first)",
            id="messages.clear_all",
        ),
        Binding("l", "relay_log", "log", tooltip="Relay log", id="messages.log"),
        Binding("escape", "clear_search", "clear search", tooltip="Clear the search", id="messages.clear"),
        Binding("escape", "back", "back", tooltip="Back", id="messages.back"),
    ]

    def __init__(self, search: str = "") -> None:
        super().__init__(search)
        self.chaos_rules: list[chaos.Rule] = []

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if isinstance(widget, self.TABLE):
                # A tester who forgot a chaos rule would hunt for the bug in
                # the billing application: say it above the messages.
                yield Static("", id="chaos", markup=False)
            yield widget

    def help_text(self) -> str:
        later = self.app.options.get("read_later")
        # The demo printed this before the TUI covered the terminal.
        return f"{self.HELP} After the demo they stay: {later}" if later else super().help_text()

    def on_mount(self) -> None:
        self.sub_title = "Captured messages"
        dismiss_sent_answers(self.app)
        super().on_mount()

    def fetch(self, text: str, status: str, offset: int, limit: int) -> tuple[Sequence[Any], int]:
        # In the loading thread, with the page: the rules change while relays run.
        self.chaos_rules = chaos.current_rules()
        return relay_log.captured_messages(limit, search=text, offset=offset), relay_log.count_captured(text)

    def show_loaded(self, loaded: Any) -> None:
        super().show_loaded(loaded)
        self._show_chaos()

    def _show_chaos(self) -> None:
        line = self.query_one("#chaos", Static)
        rules = self.chaos_rules
        line.display = bool(rules)
        if rules:
            # The rules first: at 80 columns the line may end in an ellipsis.
            described = "; ".join(f"#{rule.id} {rule.describe()}" for rule in rules)
            counted = "1 rule" if len(rules) == 1 else f"{len(rules)} rules"
            line.update(visible(f"Chaos, {counted} (mail fails on purpose): {described}"))

    def count_everyone(self) -> int:
        return relay_log.count_captured()

    def empty_text(self) -> str:
        if self.app.options.get("relay_address"):
            return "No captured messages yet. Open a customer and press s to send a sample."
        return "No captured messages. What a relay started with --capture keeps shows up here."

    def summary(self, record: CapturedRecord) -> list[str]:
        return message_summary(record)

    def open_record(self, record: CapturedRecord) -> None:
        self.app.open_message(record.id)

    def action_relay_log(self) -> None:
        self.app.open_relay_log()

    def unavailable(self, action: str, parameters: tuple[object, ...]) -> str | None:
        if action == "clear_all" and self.loaded_once and self.everyone == 0:
            return "There are no captured messages to delete."
        if action == "delete_message" and self.is_mounted and self.table.current() is None:
            return "No message is highlighted."
        return super().unavailable(action, parameters)

    def action_delete_message(self) -> None:
        record = self.table.current()
        if record is None:
            return
        question = Confirm(
            f"Delete captured message {record.id}?",
            f"{record.subject or '(no subject)'}, to {', '.join(record.recipients) or 'nobody'}. It is gone for "
            "good; its relay log entry stays. Nothing is sent.",
            yes="Delete",
        )

        def done(_found: bool) -> None:
            self.app.notify(f"Deleted captured message {record.id}.", markup=False)
            self.reload()

        delete = lambda: self.call_directory(  # noqa: E731
            "delete", lambda: relay_log.delete_captured(record.id), done, write=True
        )
        self.app.push_screen(question, lambda yes: yes and delete())

    def action_clear_all(self) -> None:
        count = self.everyone
        noun = "message" if count == 1 else "messages"
        question = Confirm(
            f"Delete all {count:,} captured {noun}?",
            "They are gone for good; the relay log keeps its entries. Nothing is sent.",
            yes="Delete all",
        )
        self.app.push_screen(question, lambda yes: self._clear() if yes else None)

    def _clear(self) -> None:
        def done(deleted: int) -> None:
            noun = "message" if deleted == 1 else "messages"
            self.app.notify(f"Deleted {deleted:,} captured {noun}.", markup=False)
            self.load_first_page()

        self.call_directory("clear", relay_log.clear_captured, done, write=True)
