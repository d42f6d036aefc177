"""Lines that wrap with a hanging indent, as a mail client shows raw headers:
a long Received or DKIM-Signature field that wraps continues indented under
its name, so each field still reads as one."""

from __future__ import annotations

from collections.abc import Iterable

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.style import Style
from rich.text import Text

INDENT = 4


class Hanging:
    """``(text, indent)`` lines: each wraps at the width it is drawn at, its
    later rows indented by ``indent`` cells (0: a plain wrap)."""

    def __init__(self, lines: Iterable[tuple[str, int]], style: str | Style = "") -> None:
        self.lines = list(lines)
        self.style = style

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        rows: list[Text] = []
        for text, indent in self.lines:
            line = Text(text, style=self.style)
            if cell_len(text) <= width:
                rows.append(line)
                continue
            room = width - indent if width > indent + 10 else width
            for number, row in enumerate(line.wrap(console, room, overflow="fold")):
                rows.append(Text(" " * (width - room), style=self.style) + row if number else row)
        # One text of rows that fit already: nothing wraps them again.
        yield Text("\n", style=self.style, no_wrap=True, overflow="crop").join(rows)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        longest = max((cell_len(text) for text, _ in self.lines), default=0)
        return Measurement(min(longest, INDENT + 10), min(longest, options.max_width))


def raw_lines(text: str) -> Hanging:
    """A raw message: its header fields with a hanging indent, its body as it is."""
    head, blank, body = text.partition("\n\n")
    lines = [(line, INDENT) for line in head.split("\n")]
    if blank:
        lines.append(("", 0))
        lines.extend((line, 0) for line in body.split("\n"))
    return Hanging(lines)
