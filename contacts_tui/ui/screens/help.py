"""Help for the screen underneath: what it is for and every key it knows."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from ..language import N_, _
from ..widgets.vi_keys import Scroll
from .base import KeyHelp

APP_KEYS = (
    ("?", "This help (F1 inside a text field)"),
    ("j k", "Down and up in lists and views, like ↓ ↑"),
    ("q", "Close this screen, where nothing is being typed (on the customers: quit)"),
    ("ctrl+p", "Command palette: every action by name"),
    ("escape", "Back, or cancel"),
    ("ctrl+q", "Quit"),
)
FORM_KEYS = (
    ("tab", N_("Next field")),
    ("shift+tab", N_("Previous field")),
    ("space", N_("Switch a switch or checkbox on or off")),
    ("enter", N_("Open the role list, or choose in it")),
)


def key_rows(screen: Screen) -> list[tuple[str, str]]:
    """(key, what it does) for every key of ``screen``, bound or handled by widgets."""
    rows: list[tuple[str, str]] = []
    if isinstance(screen, KeyHelp):
        for binding in screen.key_bindings(every=True):
            text = screen.describe(binding)
            reason = screen.reason_for(binding)
            if reason:
                text += _(" (not now: {reason})").format(reason=reason)
            rows.append((screen.app.get_key_display(binding), text))
        rows.extend(said_keys(screen.EXTRA_KEYS))
    return rows


def said_keys(rows: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    """(key, what it does) rows written at import, in the app's language."""
    return [(key, _(text)) for key, text in rows]


class HelpScreen(ModalScreen[None]):
    """Keys of one screen, the app's keys, and a few lines on what the screen does."""

    APP_KEYS: ClassVar[tuple[tuple[str, str], ...]] = APP_KEYS

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark,f1", "close", "close", id="help.close"),
    ]

    def __init__(self, screen: Screen) -> None:
        super().__init__(classes="dialog-screen")
        self.described = screen

    def compose(self) -> ComposeResult:
        screen = self.described
        title = getattr(screen, "TITLE", None) or screen.sub_title or _("Help")
        with Vertical(id="help", classes="dialog"):
            yield Static(_("Help: {title}").format(title=title), id="help-title", markup=False)
            with Scroll(id="help-body"):
                text = screen.help_text() if isinstance(screen, KeyHelp) else ""
                if text:
                    yield Static(text, id="help-text", markup=False)
                yield Static(self._keys_table(key_rows(screen)), id="help-keys", markup=False)
                if getattr(screen, "IS_FORM", False):
                    yield Static(self._keys_table(said_keys(FORM_KEYS)), id="help-form-keys", markup=False)
                yield Static(self._keys_table(said_keys(self.APP_KEYS)), id="help-app-keys", markup=False)
            yield Static(_("↑ ↓ j k pgup pgdn scroll · escape or q closes this help"), id="help-hint", markup=False)

    @staticmethod
    def _keys_table(rows: list[tuple[str, str]]) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(no_wrap=True, style="bold", min_width=9)
        table.add_column(ratio=1)
        for key, text in rows:
            table.add_row(Text(key), Text(text))
        return table

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def action_close(self) -> None:
        self.dismiss(None)
