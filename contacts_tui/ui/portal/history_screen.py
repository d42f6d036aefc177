"""The signed-in customer's history: every change to its contact persons, read only."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Header, Static

from contacts_tui.core.directory.history import ADMIN_CHANNELS, ADMIN_PREFIX, PORTAL_CHANNELS, Change
from contacts_tui.core.directory.history import shown as history_shown
from contacts_tui.core.display import visible
from contacts_tui.core.portal.language import LANGUAGES
from contacts_tui.core.times import local_time, short_time

from ..format import cell
from ..language import N_, TranslatedBindings, _, pgettext, role_name
from ..screens.base import AppScreen
from ..widgets.vi_keys import LIST_KEYS

ACTION = "history.action"
"""The gettext context of a change's action (history.py's ``contact added``, ...)."""
FIELD = "history.field"
"""The gettext context of a changed field's name (history.py's ``receive all``, ...)."""


def author(change: Change, own_email: str) -> str:
    """Who made a change, as the customer may know it: "you", or an address
    it signed in with before; our admins and imports only as such (their
    names and files are ours)."""
    if change.channel in PORTAL_CHANNELS:
        who = _("you") if change.who.lower() == own_email.lower() else change.who
        return f"{who} ({change.channel})"
    if change.who.startswith(ADMIN_PREFIX) or change.channel in ADMIN_CHANNELS:
        return _("our admin")
    return _("an import by us")


def summary(change: Change) -> str:
    """What a change was, and to whom, for its row: "contact edited ann@acme.example"."""
    action = pgettext(ACTION, change.action)
    return f"{action} {change.contact_email}" if change.contact_email else action


def described(change: Change) -> str:
    """What changed, field by field, in the portal's language (history.py's ``describe``)."""
    return "; ".join(
        f"{pgettext(FIELD, name)} {shown(name, before)} -> {shown(name, after)}"
        for name, before, after in change.changes
    )


def shown(field: str, value: object) -> str:
    """A before or after value: our words (yes, no, none, a role, a language)
    in the portal's language, what people typed as it is."""
    if value is None or (isinstance(value, (list, tuple)) and not value):
        return _("(none)")
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if field == "role" and isinstance(value, str):
        return history_shown(role_name(value))
    if field == "language" and value in LANGUAGES:
        return LANGUAGES[str(value)]
    return history_shown(value)


class PortalHistoryTable(DataTable):
    """The customer's changes with the list keys (vi's j/k too); the admin's history is widgets/history_table.py."""

    BINDINGS: ClassVar[list[BindingType]] = LIST_KEYS


class PortalHistoryScreen(TranslatedBindings, AppScreen):
    """Newest first; the line under the table shows the highlighted change in full."""

    SUB_TITLE = N_("History")
    HELP = N_("Every change to your contact persons, newest first: when, by whom, and what it was before and after.")
    EXTRA_KEYS = (("↑ ↓ j k", N_("Move through the changes")),)
    AUTO_FOCUS = "#history"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", N_("back"), tooltip=N_("Back to your contact persons"), id="portal.history.back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.changes: list[Change] = []
        self.own_email = ""

    def compose(self) -> ComposeResult:
        yield Header()
        yield PortalHistoryTable(id="history", cursor_type="row")
        yield Static(_("Loading…"), id="history-detail", markup=False)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = _(self.SUB_TITLE)
        table = self.query_one(PortalHistoryTable)
        table.add_column(_("When"), key="when", width=11)
        table.add_column(_("Who"), key="who", width=16)
        table.add_column(_("What"), key="what")
        scope = self.app.directory
        self.call_directory("history", lambda: (scope.customer().email, scope.history()), self._loaded)

    def _loaded(self, loaded: tuple[str, list[Change]]) -> None:
        self.own_email, changes = loaded
        self.changes = changes
        table = self.query_one(PortalHistoryTable)
        table.clear()
        for change in changes:
            table.add_row(cell(short_time(change.at)), cell(author(change, self.own_email)), cell(summary(change)))
        self._show_detail()

    @on(DataTable.RowHighlighted, "#history")
    def _show_detail(self) -> None:
        detail = self.query_one("#history-detail", Static)
        if not self.changes:
            detail.update(_("No changes recorded yet."))
            return
        row = self.query_one(PortalHistoryTable).cursor_row
        change = self.changes[max(0, min(row, len(self.changes) - 1))]
        # Values are what people typed: their control characters are shown, never sent.
        what = described(change) or pgettext(ACTION, change.action)
        detail.update(visible(f"{local_time(change.at)} · {author(change, self.own_email)} · {what}"))
