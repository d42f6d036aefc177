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

from ..format import contact_lines, note
from ..screens.contact_list import ContactListScreen, toggle_bindings

PORTAL_HINT = "o signs out · h shows the history · ? help"


@dataclass(frozen=True)
class Loaded:
    customer: CustomerRecord
    contacts: list[ContactRecord]


class PortalContactsScreen(ContactListScreen):
    """One customer's contact persons, as that customer sees them."""

    SUB_TITLE = "Your contact persons"
    HELP = (
        "Your contact persons get a copy (Cc) of the notifications they opt in to; your own "
        "address keeps getting every notification. The number keys switch a category on or "
        "off for the highlighted person, 0 switches 'receive all'. Deleting stops their "
        "mail from the next message; i shows deleted ones and u restores them. h shows "
        "every change made to your contact persons, by you or by us."
    )
    EXTRA_KEYS = (("enter", "Edit the highlighted contact person"), ("↑ ↓ j k", "Move through the list"))
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add", "add", tooltip="Add a contact person", id="portal.add"),
        Binding("e", "edit", "edit", tooltip="Edit the highlighted contact person", id="portal.edit"),
        Binding(
            "d",
            "delete",
            "delete",
            tooltip="Delete the highlighted contact person (their mail stops)",
            id="portal.delete",
        ),
        Binding(
            "u", "undelete", "restore", tooltip="Restore the highlighted deleted contact person", id="portal.restore"
        ),
        Binding(
            "i", "show_inactive(True)", "deleted", tooltip="Show deleted contact persons too", id="portal.inactive"
        ),
        Binding(
            "i",
            "show_inactive(False)",
            "hide deleted",
            tooltip="Hide the deleted contact persons",
            id="portal.hide_inactive",
        ),
        Binding("h", "history", "history", tooltip="Every change to your contact persons", id="portal.history"),
        *toggle_bindings("portal"),
        Binding(
            "0",
            "receive_all",
            "all",
            show=False,
            tooltip="Switch 'receive all' for the highlighted person",
            id="portal.receive_all",
        ),
        Binding("o", "sign_out", "sign out", tooltip="Sign out", id="portal.sign_out"),
    ]

    @property
    def scope(self) -> PortalSession:
        return self.app.directory

    def on_mount(self) -> None:
        self.sub_title = self.SUB_TITLE
        self.reload()

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
            self.app.call_later(self.app.sign_out, str(error).capitalize() + ".")
        elif isinstance(error, DatabaseUnavailable):
            pass  # said already; reloading now would fail again, and again: the next key tries
        else:
            self.app.notify(str(error), title="Not done", severity="warning", timeout=8, markup=False)
            self.reload()

    def customer_lines(self, lines: list[str]) -> list[str]:
        assert self.customer is not None
        lines[1] = f"{self.customer.email} · your sign-in, gets every notification"
        return lines

    def contact_lines(self, contact: ContactRecord | None) -> list[str]:
        lines = contact_lines(contact, self.scope.catalog, None, has_contacts=bool(self.table.records))
        # The admin's third line says where else the person is a contact:
        # other customers are not this customer's business.
        if contact is not None:
            lines[2] = visible(" · ".join(part for part in (note(contact.notes), PORTAL_HINT) if part))
        return lines

    # -- what applies now ----------------------------------------------------

    def hidden(self, action: str, parameters: tuple[object, ...]) -> bool:
        if action == "close":
            return self.is_mounted  # o signs out; nothing lies underneath to close to
        return super().hidden(action, parameters)

    def unavailable(self, action: str, parameters: tuple[object, ...]) -> str | None:
        if action in ("sign_out", "history", "show_inactive"):
            return None
        if action == "toggle_category" and int(str(parameters[0])) > len(self.scope.catalog.categories):
            return None
        if not self.is_mounted or self.customer is None:
            return "Your contact persons are not loaded (yet)."
        limit = self.scope.max_contacts
        if action == "add" and self.active_count() >= limit:
            return f"You have {limit} of {limit} contact persons: delete one to add another."
        return self.contact_unavailable(action)

    # -- actions -------------------------------------------------------------

    def action_sign_out(self) -> None:
        self.app.call_later(self.app.sign_out)

    def action_close(self) -> None:
        pass  # q would uncover the sign-in screen underneath; o signs out

    def action_history(self) -> None:
        self.app.open_history()

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
            self.app.notify(f"Saved {contact.name}.", markup=False)
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
            self.write(lambda: scope.restore(contact.id), f"Restored {contact.name}.", contact.id)

    def action_toggle_category(self, number: int) -> None:
        contact, scope = self.table.current(), self.scope
        if contact is None or number > len(scope.catalog.categories):
            return
        category = scope.catalog.categories[number - 1]
        state = "off" if category.key in contact.categories else "on"
        self.write(
            lambda: scope.toggle_category(contact.id, category.key),
            f"{category.label} {state} for {contact.name}.",
            contact.id,
        )

    def action_receive_all(self) -> None:
        contact, scope = self.table.current(), self.scope
        if contact is None:
            return
        enabled = not contact.receive_all
        self.write(
            lambda: scope.set_receive_all(contact.id, enabled),
            f"Receive all {'on' if enabled else 'off'} for {contact.name}.",
            contact.id,
        )
