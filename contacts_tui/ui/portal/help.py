"""The portal's own short help: the keys of the screen and of the portal."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from ..screens.help import FORM_KEYS, HelpScreen, key_rows
from ..widgets.vi_keys import Scroll

PORTAL_KEYS = (
    ("?", "This help (F1 inside a text field)"),
    ("ctrl+p", "Find an action of this screen by name"),
    ("escape", "Back, or cancel"),
    ("ctrl+q", "End the session (ctrl+c too)"),
)


class PortalHelp(HelpScreen):
    """The admin help's layout, with the portal's keys instead of the admin's."""

    def compose(self) -> ComposeResult:
        screen = self.described
        title = getattr(screen, "TITLE", None) or screen.sub_title or "Help"
        with Vertical(id="help", classes="dialog"):
            yield Static(f"Help: {title}", id="help-title", markup=False)
            with Scroll(id="help-body"):
                text = getattr(screen, "HELP", "")
                if text:
                    yield Static(text, id="help-text", markup=False)
                yield Static(self._keys_table(key_rows(screen)), id="help-keys")
                if getattr(screen, "IS_FORM", False):
                    yield Static(self._keys_table(list(FORM_KEYS)), id="help-form-keys")
                yield Static(self._keys_table(list(PORTAL_KEYS)), id="help-app-keys")
            yield Static("↑ ↓ j k pgup pgdn scroll · escape or q closes this help", id="help-hint")
