"""Words on screen in the language of the app that shows them.

The portal speaks its customer's language; the admin TUI speaks English.
The screens and widgets both use (forms, the contact table, help, the
command palette) write their words as ``_("English")``, which asks the
running app: an app with ``translations`` (the portal) gives its language's
words, any other the English as written. Words written where no app runs
yet (a class's bindings, a screen's help) are marked ``N_("...")`` and said
with ``_()`` where they are shown.

Sentences of the core (a rule's refusal) arrive as ``Phrase``: ``say``
translates them, and leaves every other text (names, addresses) as it is.
"""

from __future__ import annotations

import gettext
from dataclasses import replace
from typing import Any

# What every widget's ``app`` property reads: the app whose message loop
# (or thread worker) is running, so a plain function knows it too.
from textual._context import active_app
from textual.binding import Binding

from contacts_tui.core.catalog import Category
from contacts_tui.core.errors import DirectoryError, ValidationError
from contacts_tui.core.wording import N_, Phrase

__all__ = [
    "N_",
    "Phrase",
    "_",
    "category_description",
    "category_label",
    "ngettext",
    "pgettext",
    "role_name",
    "said",
    "say",
    "translated",
]

ROLE = "role"
"""The gettext context of a role's name (validate.ROLES): the stored value stays English."""
CATEGORY = "category"
"""The gettext context of a shipped catalog's category labels and descriptions."""

ENGLISH = gettext.NullTranslations()


def translations() -> gettext.NullTranslations:
    """The words of the app running now: the portal's language, or English."""
    try:
        app = active_app.get()
    except LookupError:
        return ENGLISH
    return getattr(app, "translations", None) or ENGLISH


def _(message: str) -> str:
    """``message`` in the running app's language."""
    return translations().gettext(message) if message else message


def ngettext(singular: str, plural: str, count: int) -> str:
    """The form of a message for ``count`` things, in the running app's language."""
    return translations().ngettext(singular, plural, count)


def pgettext(context: str, message: str) -> str:
    """``message`` in the sense ``context`` gives it ("role", "history field"), in the running app's language."""
    return translations().pgettext(context, message) if message else message


def role_name(role: str) -> str:
    """A contact person's role as the running app says it (the stored role is the English word)."""
    return pgettext(ROLE, role)


def category_label(category: Category) -> str:
    """A category's label in the running app's language: the shipped catalogs'
    are translated; a catalog file of one's own is shown as written."""
    return pgettext(CATEGORY, category.label)


def category_description(category: Category) -> str:
    return pgettext(CATEGORY, category.description)


def say(text: str) -> str:
    """A sentence of the core in the running app's language; other text (data) as it is."""
    if isinstance(text, Phrase):
        return text.say(translations().gettext)
    return text


def said(error: DirectoryError) -> str:
    """What an error of the core says, in the running app's language."""
    if isinstance(error, ValidationError):
        text = "; ".join(say(item.message) for item in error.errors)
        return f"{error.subject}: {text}" if error.subject else text
    if error.args and isinstance(error.args[0], str):
        return say(error.args[0])
    return str(error)


def translated(binding: Binding) -> Binding:
    """``binding`` with its footer word and tooltip in the running app's language."""
    description, tooltip = _(binding.description), _(binding.tooltip)
    if description == binding.description and tooltip == binding.tooltip:
        return binding
    return replace(binding, description=description, tooltip=tooltip)


class TranslatedBindings:
    """Mixin for a screen with a footer: its keys' words in the app's language
    (the bindings themselves, and so the letters, are the same in every language)."""

    @property
    def active_bindings(self) -> dict[str, Any]:
        bindings = super().active_bindings  # type: ignore[misc]
        if translations() is ENGLISH:
            return bindings
        return {
            key: active._replace(binding=translated(active.binding), tooltip=_(active.tooltip))
            for key, active in bindings.items()
        }
