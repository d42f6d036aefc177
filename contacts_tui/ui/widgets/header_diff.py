"""Header fields before and after the relay, each marked "+", "-" or " ".

The mark is the signal, so the diff reads the same in a terminal without
colour; colour only helps. Continuation lines stay clear of the mark column.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from contacts_tui.core.display import visible

from .hanging import INDENT, Hanging


class HeaderDiff(Static):
    COMPONENT_CLASSES: ClassVar[set[str]] = {"header-diff--added", "header-diff--removed"}
    DEFAULT_CSS = """
    HeaderDiff > .header-diff--added {
        color: $text-success;
        text-style: bold;
    }
    HeaderDiff > .header-diff--removed {
        color: $text-error;
    }
    """

    def __init__(self, lines: Sequence[tuple[str, str]] = (), *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.lines = tuple(lines)

    def on_mount(self) -> None:
        self.show(self.lines)

    def show(self, lines: Sequence[tuple[str, str]]) -> None:
        self.lines = tuple(lines)
        if not self.is_mounted:
            return
        styles = {
            "+": self.get_component_rich_style("header-diff--added"),
            "-": self.get_component_rich_style("header-diff--removed"),
        }
        table = Table.grid(padding=(0, 1))
        table.add_column(width=1, no_wrap=True)
        table.add_column(ratio=1)
        for mark, line in self.lines:
            style = styles.get(mark, "")
            # A header line is what the sender wrote: its controls are shown, not obeyed.
            # A long one wraps indented under its name, so each field reads as one.
            table.add_row(Text(mark, style=style), Hanging([(visible(line), INDENT)], style))
        self.update(table)
