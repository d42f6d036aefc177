"""Text on screen does nothing when clicked, and notifications are never markup.

Textual runs an action when a click lands on text whose style carries it:
``[@click=app.screenshot('contacts.db','/var/lib/…')]Eve[/]`` as markup
makes "Eve" write a file. Text from customers, files and mail never reaches
Textual as markup (format.py says how), so no text of ours carries an action;
should some ever slip through, the apps refuse every action that comes from
text. Textual (8.x) turns a style's ``@click``/``@mouse.*`` meta into an
action in one place, ``App._broker_event``; the only widgets of Textual that
put actions in what they draw are its scrollbars (the test of this module
fails if that changes, or if the method is renamed). Actions no key of ours
uses and that write files or send keys are refused wherever they come from.
"""

from __future__ import annotations

from typing import Any

from textual import events
from textual.app import App
from textual.dom import DOMNode
from textual.scrollbar import ScrollBar

from contacts_tui.core.display import visible, visible_lines

SCROLLBAR_ACTIONS = frozenset({"grab", "scroll_up", "scroll_down"})
"""What Textual's scrollbars draw into their track and thumb."""
NEVER = frozenset({"screenshot", "simulate_key", "suspend_process"})
"""App actions refused from anywhere: they write a file, send keys, or drop to a shell."""


class InertText(App):
    """An app whose text runs no action when clicked (see above)."""

    async def _broker_event(self, event_name: str, event: events.Event, default_namespace: DOMNode) -> bool:
        meta = getattr(getattr(event, "style", None), "meta", None) or {}
        actions = {key: value for key, value in meta.items() if key.startswith("@")}
        if not actions:
            return False
        if isinstance(default_namespace, ScrollBar) and set(actions.values()) <= SCROLLBAR_ACTIONS:
            return await super()._broker_event(event_name, event, default_namespace)
        self.log.warning("refused an action in the text under the mouse", actions)
        event.stop()  # as if handled: the widgets around it would only refuse it again
        return False

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in NEVER:
            return False
        return super().check_action(action, parameters)

    def notify(self, message: str, *, title: str = "", **options: Any) -> None:
        # Notifications name customers, contact persons and senders: shown
        # as typed (never markup), their control characters as stand-ins.
        options["markup"] = False
        super().notify(visible_lines(message), title=visible(title), **options)
