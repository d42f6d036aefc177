"""The portal's own short help: the keys of the screen and of the portal."""

from __future__ import annotations

from ..language import N_
from ..screens.help import HelpScreen

PORTAL_KEYS = (
    ("?", N_("This help (F1 inside a text field)")),
    ("ctrl+p", N_("Find an action of this screen by name")),
    ("escape", N_("Back, or cancel")),
    ("ctrl+q", N_("End the session (ctrl+c too)")),
)


class PortalHelp(HelpScreen):
    """The admin help's layout, with the portal's keys instead of the admin's."""

    APP_KEYS = PORTAL_KEYS
