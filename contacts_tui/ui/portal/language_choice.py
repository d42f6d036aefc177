"""Which language the portal speaks: a short list, each language named in itself,
so whoever cannot read the current one still finds their own."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from contacts_tui.core.portal.language import LANGUAGES

from ..language import _
from ..widgets.vi_keys import Options

LANGUAGE_KEY = "l"
"""l for language (and for "taal" it is the letter the help names): the
same letter in every language; ctrl+l where a text field takes letters."""


class LanguageChoice(ModalScreen[str | None]):
    """Answers with the chosen language's code, or None (escape)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "cancel", show=False, id="language.cancel"),
    ]

    def __init__(self, current: str) -> None:
        super().__init__(classes="dialog-screen")
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="language", classes="dialog"):
            yield Static(_("Show the portal in"), id="language-title", markup=False)
            # Each in its own words, whatever the portal speaks now.
            yield Options(*(Option(name, id=code) for code, name in LANGUAGES.items()), id="language-options")
            yield Static(_("enter chooses · escape cancels"), id="language-hint", markup=False)

    def on_mount(self) -> None:
        options = self.query_one(Options)
        options.highlighted = list(LANGUAGES).index(self.current) if self.current in LANGUAGES else 0
        options.focus()

    @on(OptionList.OptionSelected)
    def chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
