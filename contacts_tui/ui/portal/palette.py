"""Textual's command palette, saying its own two sentences in the portal's language.

Its placeholder is an argument; "No matches found" is written inside
``CommandPalette._start_no_matches_countdown``, a private part of Textual 8
(pinned below 9 in pyproject.toml): this is that method with the sentence
translated (tests/ui/test_portal_language.py fails if it stops being used).
"""

from __future__ import annotations

from rich.align import Align
from rich.text import Text
from textual.command import CommandList, CommandPalette
from textual.widgets.option_list import Option

from ..language import _


class PortalPalette(CommandPalette):
    """The portal's command palette: the current screen's actions, in the portal's language."""

    def _start_no_matches_countdown(self, search_value: str) -> None:
        self._stop_no_matches_countdown()

        def show_no_matches() -> None:
            # Only for a search: an empty one lists what there is, or nothing.
            if search_value:
                self.query_one(CommandList).add_option(
                    Option(
                        Align.center(Text(_("No matches found"), style="not bold")),
                        disabled=True,
                        id=self._NO_MATCHES,
                    )
                )
                self._list_visible = True
            else:
                self._list_visible = False

        self._no_matches_timer = self.set_timer(self._NO_MATCHES_COUNTDOWN, show_no_matches)
