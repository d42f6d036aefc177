"""The history: who changed what, when and through which channel, for one
customer or for all of them; the highlighted change in full below."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Header, Static

from contacts_tui.core.directory.history import Change, shown
from contacts_tui.core.display import visible
from contacts_tui.core.times import local_time

from ..widgets.history_table import HistoryTable
from ..widgets.vi_keys import Scroll
from .base import AppScreen

LIMIT = 500
"""Changes shown at once, the newest; `contacts-tui history` reaches further back."""


def change_lines(change: Change, *, with_customer: bool) -> str:
    """A change in full: when, who and how; what (and of which customer, where
    the list holds every customer's); then each field before and after, one per line."""
    lines = [
        f"{local_time(change.at)} · {change.who} ({change.channel})",
        # A tagging rule's change is about no customer.
        (f"{change.customer_email}: " if with_customer and change.customer_email else "") + change.summary(),
    ]
    lines += [
        f"  {field}: {shown(before)}" if before == after else f"  {field}: {shown(before)} → {shown(after)}"
        for field, before, after in change.changes
    ]
    return "\n".join(visible(line) for line in lines)


class HistoryScreen(AppScreen):
    """Recorded changes, newest first."""

    HELP = (
        "Every change to customers and contact persons, newest first: when, who made it "
        "(an admin as 'admin <user>', a customer by its primary email, an import by its "
        "file), through which channel (tui, cli, import, or the portal over ssh or web), "
        "and what changed. Below the table, the highlighted change with each field "
        "before and after. Deleting a contact person keeps its history. "
        f"The newest {LIMIT} are shown; contacts-tui history --since DATE reaches further back."
    )
    EXTRA_KEYS = (
        ("↑ ↓", "Move through the changes"),
        ("home end", "Newest or oldest change"),
    )
    AUTO_FOCUS = "#history"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "a", "every_customer(True)", "all customers", tooltip="Show the changes of every customer", id="history.all"
        ),
        Binding(
            "a",
            "every_customer(False)",
            "this customer",
            tooltip="Show only this customer's changes again",
            id="history.one",
        ),
        Binding("r", "refresh", "refresh", tooltip="Load the newest changes now", id="history.refresh"),
        Binding("escape", "back", "back", tooltip="Back", id="history.back"),
    ]

    def __init__(self, customer_id: int | None = None, customer_name: str = "") -> None:
        super().__init__()
        self.customer_id, self.customer_name = customer_id, customer_name
        self.every_customer = customer_id is None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Loading the history…", id="status", markup=False)
        yield HistoryTable(id="history")
        with Scroll(id="change-details"):
            yield Static("", id="change-text", markup=False)
        yield Footer(compact=True, show_command_palette=False)

    @property
    def table(self) -> HistoryTable:
        return self.query_one(HistoryTable)

    def on_mount(self) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        customer_id = None if self.every_customer else self.customer_id
        self.sub_title = "History" + ("" if customer_id is None else f" of {self.customer_name}")
        current = self.table.current()
        keep = current.id if current else None
        self.call_directory(
            "history",
            lambda: self.directory.history(customer_id, limit=LIMIT),
            lambda changes: self._loaded(changes, keep),
        )

    def _loaded(self, changes: list[Change], keep: int | None) -> None:
        ids = [change.id for change in changes]
        row = ids.index(keep) if keep in ids else 0
        self.table.show_customer(self.every_customer)
        self.table.show_page(changes, 0, len(changes), row)
        if not changes:
            text = "No changes recorded yet."
        else:
            count = f"{len(changes):,} change{'' if len(changes) == 1 else 's'}"
            text = f"The newest {count}" if len(changes) >= LIMIT else count
            text += ", newest first" + (
                "" if self.customer_id is None or self.every_customer else f", of {self.customer_name}"
            )
        self.query_one("#status", Static).update(visible(text))
        self._show_change()
        self.update_keys()

    @on(DataTable.RowHighlighted, "#history")
    def highlighted(self) -> None:
        self._show_change()

    def _show_change(self) -> None:
        change = self.table.current()
        text = change_lines(change, with_customer=self.every_customer) if change else ""
        self.query_one("#change-text", Static).update(text)

    def hidden(self, action: str, parameters: tuple[object, ...]) -> bool:
        if action == "every_customer":
            return self.customer_id is None or parameters[0] == self.every_customer
        return False

    def action_every_customer(self, every: bool) -> None:
        self.every_customer = every
        self.action_refresh()

    def action_back(self) -> None:
        self.dismiss()
