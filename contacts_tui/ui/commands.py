"""Every action of the current screen in the command palette, found by the
words people type for it.

An action that does not apply right now is listed all the same, saying why
("Not now: Bea is not deleted"), so ``ctrl+p`` then ``undelete`` always
answers. Each action also answers to the other words people use for it
(restore, remove, promote …), not only to its title.

The reasons name people and customers, and titles name categories: the
palette gets them as ``Content``, since it reads a ``str`` as markup (a
click on ``[@click=app.screenshot(…)]Eve[/]`` in a help line would run it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import NamedTuple

from textual.actions import parse
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.fuzzy import Matcher
from textual.screen import Screen

from .format import plain
from .language import _, pgettext
from .screens.base import KeyHelp

WORDS = {
    "add": "new create",
    "edit": "change rename modify update",
    "delete": "remove deactivate stop",
    "undelete": "restore recover undo bring back reactivate",
    "make_primary": "promote swap main primary email",
    "show_inactive": "deleted inactive hidden removed",
    "set_active": "deactivate activate disable enable",
    "search": "find filter look",
    "clear_search": "reset",
    "messages": "mail captured inbox mailpit",
    "relay_log": "log deliveries",
    "history": "changes audit who changed trail",
    "every_customer": "history everyone",
    "portal_access": "portal sign in login block disable enable customer access",
    "send_sample": "test try email notification",
    "toggle_category": "category opt in subscribe",
    "receive_all": "everything all categories",
    "edit_customer": "customer rename",
    "clear_all": "purge empty remove all delete all",
    "delete_message": "remove",
    "sort": "order",
    "filter": "role category status domain only bookkeeper billing inactive deleted",
    "clear_filter": "filter reset all",
    "reverse": "descending ascending order",
    "next_status": "filter status",
    "refresh": "reload update",
    "raw": "original source",
    "log_entry": "log",
    "close": "quit exit leave back",
    "back": "return leave",
    "save": "store keep",
    "cancel": "discard abandon",
    "tagging_rules": "tag tagging rules header category sender subject match filter route",
    "switch": "enable disable turn on off activate deactivate",
    "move": "reorder order up down priority first",
}
"""Other words for an action, by its name."""


class ScreenCommand(NamedTuple):
    title: str
    help: str
    callback: Callable[[], object]
    words: tuple[str, ...]


def screen_commands(screen: Screen) -> Iterator[ScreenCommand]:
    """One command per action of ``screen``; one that does not apply now says why."""
    if not isinstance(screen, KeyHelp):
        return
    app = screen.app
    for binding in screen.key_bindings(every=True):
        title = screen.describe(binding)
        reason = screen.reason_for(binding)
        name = parse(binding.action)[1]
        words = (name.replace("_", " "), *WORDS.get(name, "").split(), *other_words(name))
        if reason:
            yield ScreenCommand(
                title,
                _("Not now: {reason}").format(reason=reason),
                partial(app.notify, reason, severity="warning", markup=False),
                words,
            )
        else:
            key = app.get_key_display(binding)
            yield ScreenCommand(
                title, _("Key: {key}").format(key=key), partial(screen.run_action, binding.action), words
            )


WORDS_CONTEXT = "palette.words"
"""The gettext context of the words people type for an action, in a language
other than English (Dutch "toevoegen nieuw aanmaken" for add)."""


def other_words(action: str) -> list[str]:
    """The words for an action in the app's language, besides the English ones."""
    said = pgettext(WORDS_CONTEXT, action)
    return [] if said == action else said.split()


class ScreenActions(Provider):
    """The command palette's source of the current screen's actions."""

    async def discover(self) -> Hits:
        for command in screen_commands(self.screen):
            # help is typed str, but the palette takes Content as it is: a
            # string would be read as markup (a name in it could run an action).
            yield DiscoveryHit(plain(command.title), command.callback, text=command.title, help=plain(command.help))  # type: ignore[arg-type]  # see above

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in screen_commands(self.screen):
            # A title that matches ranks above a word that only means the same.
            score = max([matcher.match(command.title)] + [matcher.match(word) * 0.9 for word in command.words])
            if score > 0:
                title = highlighted(matcher, command.title)
                yield Hit(score, title, command.callback, text=command.title, help=plain(command.help))  # type: ignore[arg-type]  # see above


def highlighted(matcher: Matcher, title: str) -> Content:
    """``title`` with the letters the query matched marked, as ``Matcher.highlight``
    marks them, without reading ``title`` as markup as that does."""
    content = plain(title)
    score, offsets = matcher.fuzzy_search.match(matcher.query, content.plain)
    if not score:
        return content
    for offset in offsets:
        if not content.plain[offset].isspace():
            content = content.stylize(matcher.match_style, offset, offset + 1)
    return content
