"""One captured message: who was added and why, the headers before and
after the relay, the bodies and the raw message, each in a tab."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane

from contacts_tui.core.display import visible, visible_lines
from contacts_tui.core.errors import NotFound
from contacts_tui.core.mail import relay_log
from contacts_tui.core.mail.html_text import html_to_text
from contacts_tui.core.mail.relay_log import CapturedRecord, LogEntry
from contacts_tui.core.mail.view import MessageView, view_message

from ..mailformat import copies_lines, full_time, person
from ..widgets.hanging import raw_lines
from ..widgets.header_diff import HeaderDiff
from ..widgets.vi_keys import Scroll
from .base import AppScreen
from .confirm import Confirm

TABS = (("summary", "Summary"), ("headers", "Headers"), ("text", "Text"), ("html", "HTML"), ("raw", "Raw"))
SHOWN = 200_000
"""Characters of a body, or bytes of the raw message, on screen; the rest would only slow the terminal."""


@dataclass(frozen=True)
class Shown:
    record: CapturedRecord
    entry: LogEntry | None
    view: MessageView
    raw: str
    raw_size: int
    original: str
    original_size: int
    copies: tuple[CapturedRecord, ...] = ()
    """Every captured copy of a message that went out as one copy per customer."""


def _clip(text: str, what: str, command: str) -> str:
    if len(text) <= SHOWN:
        return text
    return text[:SHOWN] + f"\n\n… {len(text) - SHOWN:,} more characters of the {what}: {command} shows them all."


def _load(message_id: int) -> Shown:
    found = relay_log.captured_message(message_id)
    if found is None:
        raise NotFound(f"captured message {message_id} is gone (cleared, or dropped by retention)")
    record, original, rewritten = found
    entry = relay_log.log_entry(record.log_id) if record.log_id else None
    view = view_message(original, rewritten)
    raw = _raw_text(rewritten, f"contacts-relay messages raw {record.id}")
    received = _raw_text(original, f"contacts-relay messages raw --original {record.id}")
    copies = tuple(relay_log.captured_copies(record)) if record.copy_label else ()
    return Shown(record, entry, view, raw, len(rewritten), received, len(original), copies)


def _raw_text(data: bytes, command: str) -> str:
    text = visible_lines(data[:SHOWN].decode("utf-8", errors="replace"))
    if len(data) > SHOWN:
        text += f"\n\n… {len(data) - SHOWN:,} more bytes: {command} shows the whole message."
    return text


def summary_table(shown: Shown) -> Table:
    """From, to, cc, subject and category; who the relay added and why; its decision."""
    record, entry, view = shown.record, shown.entry, shown.view
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True, style="bold", min_width=9)
    table.add_column(ratio=1, overflow="fold")

    def row(label: str, value: str) -> None:
        # Every value holds something the sender wrote (a rule: something an admin wrote).
        table.add_row(Text(label), Text(visible(value)))

    category = record.category or "(no category header)"
    if entry is not None and entry.category_key and entry.category_key != category.lower():
        category += f" (category {entry.category_key})"
    row("From", view.sender or record.sender or "-")
    row("To", view.to or ", ".join(record.recipients) or "-")
    row("Cc", view.cc or "(none)")
    row("Subject", view.subject or "(no subject)")
    row("Category", category)
    if record.tagged_by:
        row("Tagged by", record.tagged_by)
    row("Received", f"{full_time(record.received_at)} · {shown.raw_size:,} bytes")
    row("", "")
    if record.added:
        for number, added in enumerate(record.added):
            why = added.reason
            if added.customer:
                why += f" (contact person of {added.customer})"
            row("Added" if number == 0 else "", f"+ {person(added)}: {why}")
    else:
        row("Added", "nobody")
    if entry is not None:
        row("Decision", f"{entry.decision}: {entry.reason}" if entry.reason else entry.decision)
    elif record.log_id is None:
        row("Decision", "(its relay log entry is gone)")
    if record.recipients:
        row("Envelope", "to " + ", ".join(record.envelope))
    if record.copy_label:
        table.add_row(Text("Copy"), Text(copies_lines(record, shown.copies)))
    for name, kind, size in view.attachments:
        row("Attached", f"{name} ({kind}, {size:,} bytes)")
    return table


class MessageScreen(AppScreen):
    """One captured message in tabs."""

    HELP = (
        "A message as the capture relay stored it. Summary: who it is from and to, the Cc, "
        "and which contact persons the relay added and why. Headers: the header fields "
        "before and after the relay; '+' marks a line the relay added, '-' one it removed, "
        "unmarked lines are unchanged (encoded words such as =?utf-8?b?…?= are shown "
        "decoded). Text and HTML: the bodies; the HTML one as readable text, h shows its "
        "source. Raw: the whole message as the relay would have sent it; o switches to the "
        "original as the relay received it. d deletes this message."
    )
    EXTRA_KEYS = (("↑ ↓ pgup pgdn", "Scroll the tab"), ("← →", "Previous or next tab"))
    BINDINGS: ClassVar[list[BindingType]] = [
        *(
            Binding(
                str(n), f"show_tab('{key}')", title.lower(), tooltip=f"Show the {title} tab", id=f"message.tab_{key}"
            )
            for n, (key, title) in enumerate(TABS, 1)
        ),
        Binding("left", "step_tab(-1)", show=False, priority=True, id="message.previous_tab"),
        Binding("right", "step_tab(1)", show=False, priority=True, id="message.next_tab"),
        Binding(
            "o",
            "raw(True)",
            "original",
            tooltip="Raw tab: the original message as the relay received it",
            id="message.raw_original",
        ),
        Binding(
            "o",
            "raw(False)",
            "as sent",
            tooltip="Raw tab: the message as the relay would have sent it",
            id="message.raw_sent",
        ),
        Binding("h", "html(True)", "source", tooltip="HTML tab: the HTML source", id="message.html_source"),
        Binding("h", "html(False)", "as text", tooltip="HTML tab: the HTML as readable text", id="message.html_text"),
        Binding("l", "log_entry", "log entry", tooltip="The relay log entry of this message", id="message.log"),
        Binding(
            "d", "delete_message", "delete", tooltip="Delete this captured message (asks first)", id="message.delete"
        ),
        Binding("escape", "back", "back", tooltip="Back to the captured messages", id="message.back"),
    ]

    def __init__(self, message_id: int) -> None:
        super().__init__()
        self.message_id = message_id
        self.shown: Shown | None = None
        self.raw_original = False
        self.html_source = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Loading…", id="message-title", markup=False)
        with TabbedContent(id="tabs"):
            for number, (key, title) in enumerate(TABS, 1):
                with TabPane(f"{number} {title}", id=key):
                    with Scroll(classes="detail", id=f"{key}-scroll"):
                        if key == "headers":
                            yield Static("", id="headers-note", markup=False)
                            yield HeaderDiff(id="header-diff")
                        elif key == "raw":
                            yield Static("", id="raw-note", markup=False)
                            yield Static("", id="raw-body", markup=False)
                        else:
                            yield Static("", id=f"{key}-body", markup=False)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = f"Captured message {self.message_id}"
        self.call_directory("message", lambda: _load(self.message_id), self._loaded, self._failed)

    def _loaded(self, shown: Shown) -> None:
        self.shown = shown
        view = shown.view
        self.query_one("#message-title", Static).update(visible(view.subject or shown.record.subject or "(no subject)"))
        self.query_one("#summary-body", Static).update(summary_table(shown))
        changed = sum(1 for mark, _ in view.header_diff if mark != " ")
        note = "Header fields after the relay. + the relay added this line, - it removed it, no mark: unchanged."
        if not changed:
            note = "The relay changed no header field of this message."
        self.query_one("#headers-note", Static).update(note)
        self.query_one(HeaderDiff).show(view.header_diff)
        command = f"contacts-relay messages raw {shown.record.id}"
        self.query_one("#text-body", Static).update(
            visible_lines(_clip(view.text, "text", command)) if view.text else "(This message has no plain-text part.)"
        )
        self._show_html()
        self._show_raw()
        self._focus_tab()
        self.update_keys()

    def _show_html(self) -> None:
        shown = self.shown
        if shown is None:
            return
        html = shown.view.html
        if not html:
            text = "(This message has no HTML part.)"
        elif self.html_source:
            text = "The HTML source; h: as text.\n\n" + _clip(
                html, "HTML", f"contacts-relay messages raw {shown.record.id}"
            )
        else:
            text = "The HTML as text (no images, nothing run); h: its source.\n\n" + _clip(
                html_to_text(html), "HTML", f"contacts-relay messages raw {shown.record.id}"
            )
        self.query_one("#html-body", Static).update(visible_lines(text))

    def _show_raw(self) -> None:
        shown = self.shown
        if shown is None:
            return
        if self.raw_original:
            note = (
                f"The original, as the relay received it ({shown.original_size:,} bytes), before "
                "anything was added. o: as sent."
            )
            text = shown.original
        else:
            note = f"As the relay would have sent it ({shown.raw_size:,} bytes). o: the original as received."
            text = shown.raw
        self.query_one("#raw-note", Static).update(note)
        self.query_one("#raw-body", Static).update(raw_lines(text))

    def _failed(self, error: Exception) -> None:
        self.query_one("#message-title", Static).update(f"Could not show this message: {error}. Escape goes back.")

    # -- tabs ----------------------------------------------------------------

    @property
    def tabs(self) -> TabbedContent:
        return self.query_one(TabbedContent)

    def action_show_tab(self, key: str) -> None:
        self.tabs.active = key
        self._focus_tab()

    def action_step_tab(self, step: int) -> None:
        keys = [key for key, _ in TABS]
        position = keys.index(self.tabs.active) if self.tabs.active in keys else 0
        self.action_show_tab(keys[(position + step) % len(keys)])

    @on(TabbedContent.TabActivated)
    def tab_activated(self) -> None:
        self._focus_tab()

    def _focus_tab(self) -> None:
        # The scrolling area of the tab takes the keys, so ↑ ↓ scroll at once.
        active = self.tabs.active or TABS[0][0]
        self.query_one(f"#{active}-scroll", Scroll).focus()

    # -- actions -------------------------------------------------------------

    def hidden(self, action: str, parameters: tuple[object, ...]) -> bool:
        # One "o" key and one "h": the footer names the view each switches to.
        if action == "html":
            return parameters[0] == self.html_source
        return action == "raw" and parameters[0] == self.raw_original

    def unavailable(self, action: str, parameters: tuple[object, ...]) -> str | None:
        if action in ("raw", "html", "delete_message") and self.shown is None:
            return "The message is not loaded (yet)."
        if action == "html" and self.shown is not None and not self.shown.view.html:
            return "This message has no HTML part."
        if action == "log_entry":
            if self.shown is None:
                return "The message is not loaded (yet)."
            if self.shown.entry is None:
                return "This message has no relay log entry any more."
        return None

    def action_raw(self, original: bool) -> None:
        self.raw_original = original
        self._show_raw()
        self.action_show_tab("raw")
        self.query_one("#raw-scroll", Scroll).scroll_home(animate=False)
        self.update_keys()

    def action_html(self, source: bool) -> None:
        self.html_source = source
        self._show_html()
        self.action_show_tab("html")
        self.query_one("#html-scroll", Scroll).scroll_home(animate=False)
        self.update_keys()

    def action_delete_message(self) -> None:
        message_id = self.message_id
        question = Confirm(
            f"Delete captured message {message_id}?",
            "It is gone for good; its relay log entry stays. Nothing is sent.",
            yes="Delete",
        )

        def delete() -> None:
            self.call_directory("delete", lambda: relay_log.delete_captured(message_id), self._deleted, write=True)

        self.app.push_screen(question, lambda yes: delete() if yes else None)

    def _deleted(self, _found: bool) -> None:
        self.app.notify(f"Deleted captured message {self.message_id}.", markup=False)
        self.dismiss()

    def action_log_entry(self) -> None:
        if self.shown is not None and self.shown.entry is not None:
            self.app.open_log_entry(self.shown.entry)

    def action_back(self) -> None:
        self.dismiss()
