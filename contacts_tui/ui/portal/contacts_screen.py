"""The signed-in customer's contact persons: add, edit, delete, restore, and
which notifications each one gets. No key here reaches another customer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual.binding import Binding, BindingType

from contacts_tui.core.display import visible
from contacts_tui.core.errors import DatabaseUnavailable, DirectoryError, PortalClosed
from contacts_tui.core.portal.client import PortalSession
from contacts_tui.core.records import ContactRecord, CustomerRecord

from ..format import contact_lines, note, on_off
from ..language import N_, TranslatedBindings, _, category_label, said
from ..screens.contact_list import ContactListScreen, toggle_bindings
from .language_choice import LANGUAGE_KEY, LanguageChoice

PORTAL_HINT = N_("o signs out · h shows the history · l language · ? help")


@dataclass(frozen=True)
class Loaded:
    customer: CustomerRecord
    contacts: list[ContactRecord]


class PortalContactsScreen(TranslatedBindings, ContactListScreen):
    """One customer's contact persons, as that customer sees them."""

    SUB_TITLE = N_("Your contact persons")
    CATEGORY_LABELS = True
    HELP = N_(
        "Your contact persons get a copy (Cc) of the notifications they opt in to; your own "
        "address keeps getting every notification. The number keys switch a category on or "
        "off for the highlighted person, 0 switches 'receive all'. Deleting stops their "
        "mail from the next message; i shows deleted ones and u restores them. h shows "
        "every change made to your contact persons, by you or by us. l shows the portal "
        "in another language, here and in the mail with your sign-in code."
    )
    EXTRA_KEYS = (("enter", N_("Edit the highlighted contact person")), ("↑ ↓ j k", N_("Move through the list")))
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add", N_("add"), tooltip=N_("Add a contact person"), id="portal.add"),
        Binding("e", "edit", N_("edit"), tooltip=N_("Edit the highlighted contact person"), id="portal.edit"),
        Binding(
            "d",
            "delete",
            N_("delete"),
            tooltip=N_("Delete the highlighted contact person (their mail stops)"),
            id="portal.delete",
        ),
        Binding(
            "u",
            "undelete",
            N_("restore"),
            tooltip=N_("Restore the highlighted deleted contact person"),
            id="portal.restore",
        ),
        Binding(
            "i",
            "show_inactive(True)",
            N_("deleted"),
            tooltip=N_("Show deleted contact persons too"),
            id="portal.inactive",
        ),
        Binding(
            "i",
            "show_inactive(False)",
            N_("hide deleted"),
            tooltip=N_("Hide the deleted contact persons"),
            id="portal.hide_inactive",
        ),
        Binding("h", "history", N_("history"), tooltip=N_("Every change to your contact persons"), id="portal.history"),
        *toggle_bindings("portal"),
        Binding(
            "0",
            "receive_all",
            N_("all"),
            show=False,
            tooltip=N_("Switch 'receive all' for the highlighted person"),
            id="portal.receive_all",
        ),
        Binding(
            LANGUAGE_KEY,
            "language",
            N_("language"),
            tooltip=N_("Show the portal in another language"),
            id="portal.language",
        ),
        Binding("o", "sign_out", N_("sign out"), tooltip=N_("Sign out"), id="portal.sign_out"),
    ]

    @property
    def scope(self) -> PortalSession:
        return self.app.directory

    def on_mount(self) -> None:
        self.sub_title = _(self.SUB_TITLE)
        self.reload()

    def words(self) -> None:
        """Every word of the screen in the portal's language (again, after it changed)."""
        self.sub_title = _(self.SUB_TITLE)
        if self.customer is not None:
            self.table.show_records(self.table.records)
            self.show_customer()
            self.show_contact()

    def reload(self, select_id: int | None = None) -> None:
        scope, include = self.scope, self.show_inactive

        def fetch() -> Loaded:
            return Loaded(scope.customer(), scope.contacts(include_deleted=include))

        self.call_directory("portal", fetch, lambda loaded: self._loaded(loaded, select_id), self._failed)

    def _loaded(self, loaded: Loaded, select_id: int | None) -> None:
        self.customer = loaded.customer
        self.table.show_records(loaded.contacts, select_id)
        self.show_customer()
        self.show_contact()
        self.update_keys()

    def _failed(self, error: DirectoryError) -> None:
        if isinstance(error, PortalClosed):
            self.app.call_later(self.app.sign_out, sentence(said(error)))
        elif isinstance(error, DatabaseUnavailable):
            pass  # said already; reloading now would fail again, and again: the next key tries
        else:
            self.app.notify(said(error), title=_("Not done"), severity="warning", timeout=8, markup=False)
            self.reload()

    def customer_lines(self, lines: list[str]) -> list[str]:
        assert self.customer is not None
        lines[1] = _("{email} · your sign-in, gets every notification").format(email=self.customer.email)
        return lines

    def contact_lines(self, contact: ContactRecord | None) -> list[str]:
        lines = contact_lines(contact, self.scope.catalog, None, has_contacts=bool(self.table.records))
        # The admin's third line says where else the person is a contact:
        # other customers are not this customer's business.
        if contact is not None:
            lines[2] = visible(" · ".join(part for part in (note(contact.notes), _(PORTAL_HINT)) if part))
        return lines

    # -- what applies now ----------------------------------------------------

    def hidden(self, action: str, parameters: tuple[object, ...]) -> bool:
        if action == "close":
            return self.is_mounted  # o signs out; nothing lies underneath to close to
        return super().hidden(action, parameters)

    def unavailable(self, action: str, parameters: tuple[object, ...]) -> str | None:
        if action in ("sign_out", "history", "show_inactive", "language"):
            return None
        if action == "toggle_category" and int(str(parameters[0])) > len(self.scope.catalog.categories):
            return None
        if not self.is_mounted or self.customer is None:
            return _("Your contact persons are not loaded (yet).")
        limit = self.scope.max_contacts
        if action == "add" and self.active_count() >= limit:
            return _("You have {limit} of {limit} contact persons: delete one to add another.").format(limit=limit)
        return self.contact_unavailable(action)

    # -- actions -------------------------------------------------------------

    def action_sign_out(self) -> None:
        self.app.call_later(self.app.sign_out)

    def action_close(self) -> None:
        pass  # q would uncover the sign-in screen underneath; o signs out

    def action_history(self) -> None:
        self.app.open_history()

    def action_language(self) -> None:
        self.app.push_screen(LanguageChoice(self.app.language), self._chosen)

    def _chosen(self, language: str | None) -> None:
        if language is None or self.customer is None:
            return
        scope = self.scope
        self.app.speak(language)
        # Stored on the customer, so the sign-in mail and the next sign-in speak it too.
        self.call_directory(
            "write", lambda: scope.set_language(language), lambda _customer: None, self._failed, write=True
        )

    def action_add(self) -> None:
        from .contact_form import PortalContactForm

        if self.customer is not None:
            self.app.push_screen(PortalContactForm(self.customer), self._saved)

    def action_edit(self) -> None:
        from .contact_form import PortalContactForm

        contact = self.table.current()
        if contact is not None and self.customer is not None:
            self.app.push_screen(PortalContactForm(self.customer, contact), self._saved)

    def _saved(self, contact: ContactRecord | None) -> None:
        if contact is not None:
            self.app.notify(_("Saved {name}.").format(name=contact.name), markup=False)
            self.reload(contact.id)

    def write(self, call, message: str, select_id: int | None = None) -> None:
        def done(_result: object) -> None:
            self.app.notify(message, markup=False)
            self.reload(select_id)

        self.call_directory("write", call, done, self._failed, write=True)

    def action_delete(self) -> None:
        contact, scope = self.table.current(), self.scope
        if contact is not None:
            self.confirm_delete(contact, lambda: scope.delete(contact.id))

    def action_undelete(self) -> None:
        contact, scope = self.table.current(), self.scope
        if contact is not None:
            self.write(lambda: scope.restore(contact.id), _("Restored {name}.").format(name=contact.name), contact.id)

    def action_toggle_category(self, number: int) -> None:
        contact, scope = self.table.current(), self.scope
        if contact is None or number > len(scope.catalog.categories):
            return
        category = scope.catalog.categories[number - 1]
        state = on_off(category.key not in contact.categories)
        self.write(
            lambda: scope.toggle_category(contact.id, category.key),
            _("{category} {state} for {name}.").format(
                category=category_label(category), state=state, name=contact.name
            ),
            contact.id,
        )

    def action_receive_all(self) -> None:
        contact, scope = self.table.current(), self.scope
        if contact is None:
            return
        enabled = not contact.receive_all
        self.write(
            lambda: scope.set_receive_all(contact.id, enabled),
            _("Receive all {state} for {name}.").format(state=on_off(enabled), name=contact.name),
            contact.id,
        )


def sentence(text: str) -> str:
    """A clause of the core ("you have been signed out") as a sentence on its own."""
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")
