"""Moving between the relay log and the captured messages.

From either list the other is one key away; going there a second time goes
back instead, so l m l m never piles up screens that escape must unwind.
"""

from __future__ import annotations

from textual.screen import Screen


def open_list(screen: Screen, kind: str, search: str = "") -> None:
    """Open the relay log (``kind`` "log") or the captured messages ("messages")."""
    from .messages import MessagesScreen
    from .relay_log import LogScreen

    target = LogScreen if kind == "log" else MessagesScreen
    stack = screen.app.screen_stack
    if len(stack) >= 2 and isinstance(stack[-2], target) and stack[-1] is screen:
        screen.dismiss()
        return
    screen.app.push_screen(target(search))
