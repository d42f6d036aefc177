"""Every key of the current screen, by name, in the command palette."""

from __future__ import annotations

from functools import partial
from typing import Iterator

from textual.app import SystemCommand
from textual.screen import Screen

from .screens.base import KeyHelp


def screen_commands(screen: Screen) -> Iterator[SystemCommand]:
    """One command per action of ``screen`` that applies now; unavailable ones say why."""
    if not isinstance(screen, KeyHelp):
        return
    app = screen.app
    for binding in screen.key_bindings():
        title = screen.describe(binding)
        reason = screen.reason_for(binding)
        if reason:
            yield SystemCommand(title, f"Not now: {reason}", partial(app.notify, reason, severity="warning",
                                                                     markup=False))
        else:
            key = app.get_key_display(binding)
            yield SystemCommand(title, f"Key: {key}", partial(screen.run_action, binding.action))
