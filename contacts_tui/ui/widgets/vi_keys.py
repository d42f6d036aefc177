"""j and k, the keys people bring from less, k9s and lazygit, on every list
and every scrolling view; the arrows keep working beside them."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import OptionList

LIST_KEYS: list[BindingType] = [
    Binding("j", "cursor_down", "down", show=False),
    Binding("k", "cursor_up", "up", show=False),
]


class Scroll(VerticalScroll):
    """A scrolling view (a message's tab, a log entry, help) that j and k scroll too."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "scroll_down", "down", show=False),
        Binding("k", "scroll_up", "up", show=False),
    ]


class Options(OptionList):
    """An option list that j and k move through too."""

    BINDINGS: ClassVar[list[BindingType]] = LIST_KEYS
