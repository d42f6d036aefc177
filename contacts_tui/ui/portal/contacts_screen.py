"""The signed-in customer's contact persons: add, edit, delete, restore, and
which notifications each one gets. No key here reaches another customer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Header, Static

from contacts_tui.core.errors import DirectoryError
from contacts_tui.core.portal_scope import PortalClosed, PortalScope
from contacts_tui.core.records import ContactRecord, CustomerRecord

from ..format import contact_lines, customer_lines
from ..screens.base import AppScreen
from ..screens.confirm import Confirm
from ..widgets.contact_table import ContactTable

TOGGLE_KEYS = 9


@dataclass(frozen=True)
class Loaded:
    customer: CustomerRecord
    contacts: list[ContactRecord]


class PortalContactsScreen(AppScreen):
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
    AUTO_FOCUS = "#contacts"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add", "add", tooltip="Add a contact person", id="portal.add"),
        Binding("e", "edit", "edit", tooltip="Edit the highlighted contact person", id="portal.edit"),
        Binding("d", "delete", "delete", tooltip="Delete the highlighted contact person (their mail stops)",
                id="portal.delete"),
        Binding("u", "undelete", "restore", tooltip="Restore the highlighted deleted contact person",
                id="portal.restore"),
        Binding("i", "show_inactive(True)", "deleted", tooltip="Show deleted contact persons too",
                id="portal.inactive"),
        Binding("i", "show_inactive(False)", "hide deleted", tooltip="Hide the deleted contact persons",
                id="portal.hide_inactive"),
        Binding("h", "history", "history", tooltip="Every change to your contact persons", id="portal.history"),
        *[
            Binding(str(n), f"toggle_category({n})", "toggle", show=False, id=f"portal.toggle{n}")
            for n in range(1, TOGGLE_KEYS + 1)
        ],
        Binding("0", "receive_all", "all", show=False, tooltip="Switch 'receive all' for the highlighted person",
                id="portal.receive_all"),
        Binding("o", "sign_out", "sign out", tooltip="Sign out", id="portal.sign_out"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.customer: CustomerRecord | None = None
        self.show_inactive = False

    @property
    def scope(self) -> PortalScope:
        return self.app.directory

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="customer-details"):
            yield Static("Loading…", id="customer-name", markup=False)
            yield Static("", id="customer-email", markup=False)
            yield Static("", id="customer-count", markup=False)
        yield ContactTable(self.scope.catalog, id="contacts")
        with Vertical(id="contact-details"):
            for line in range(3):
                yield Static("", id=f"contact-line{line}", markup=False)
        yield Footer(compact=True, show_command_palette=False)

    @property
    def table(self) -> ContactTable:
        return self.query_one(ContactTable)

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
        self._show_customer()
        self._show_contact()
        self.update_keys()

    def _failed(self, error: DirectoryError) -> None:
        if isinstance(error, PortalClosed):
            self.app.call_later(self.app.sign_out, str(error).capitalize() + ".")
        else:
            self.app.notify(str(error), title="Not done", severity="warning", timeout=8, markup=False)
            self.reload()

    def _show_customer(self) -> None:
        assert self.customer is not None
        active = self.active_count()
        lines = customer_lines(self.customer, active, self.scope.max_contacts, self.show_inactive)
        lines[1] = f"{self.customer.email} · your sign-in, gets every notification"
        for name, text in zip(("name", "email", "count"), lines):
            self.query_one(f"#customer-{name}", Static).update(text)
        self.query_one("#customer-count").set_class(active >= self.scope.max_contacts, "full")

    def _show_contact(self) -> None:
        contact = self.table.current()
        lines = contact_lines(contact, self.scope.catalog, None, has_contacts=bool(self.table.records))
        # The admin's third line says where else the person is a contact:
        # other customers are not this customer's business.
        lines[2] = "o signs out · h shows the history · ? help" if contact else lines[2]
        for number, text in enumerate(lines):
            self.query_one(f"#contact-line{number}", Static).update(text)

    @on(DataTable.RowHighlighted, "#contacts")
    def highlighted(self) -> None:
        self._show_contact()
        self.update_keys()

    @on(DataTable.RowSelected, "#contacts")
    def selected(self) -> None:
        self.action_edit()

    # -- what applies now ----------------------------------------------------

    def active_count(self) -> int:
        return sum(1 for c in self.table.records if c.active)

    def hidden(self, action: str, parameters: tuple[object, ...]) -> bool:
        if not self.is_mounted:
            return False
        contact = self.table.current()
        if action == "close":
            return True  # o signs out; nothing lies underneath to close to
        if action == "toggle_category":
            return int(parameters[0]) > len(self.scope.catalog.categories)
        if action == "show_inactive":
            return parameters[0] == self.show_inactive
        if action == "undelete":
            return contact is None or contact.active
        if action == "delete":
            return contact is not None and not contact.active
        return False

    def unavailable(self, action: str, parameters: tuple[object, ...]) -> str | None:
        if action in ("sign_out", "history", "show_inactive"):
            return None
        if action == "toggle_category" and int(parameters[0]) > len(self.scope.catalog.categories):
            return None
        if not self.is_mounted or self.customer is None:
            return "Your contact persons are not loaded (yet)."
        contact = self.table.current()
        limit = self.scope.max_contacts
        if action == "add" and self.active_count() >= limit:
            return f"You have {limit} of {limit} contact persons: delete one to add another."
        if action in ("edit", "delete", "undelete", "toggle_category", "receive_all"):
            if contact is None:
                return "No contact person is highlighted."
            if action == "undelete" and contact.active:
                return f"{contact.name} is not deleted."
            if action == "delete" and not contact.active:
                return f"{contact.name} is deleted already; u restores."
            if action in ("toggle_category", "receive_all") and not contact.active:
                return f"{contact.name} is deleted; restore with u first."
        return None

    def describe(self, binding: Binding) -> str:
        if binding.action.startswith("toggle_category("):
            number = int(binding.key)
            categories = self.scope.catalog.categories
            if number <= len(categories):
                return f"Switch {categories[number - 1].label} on or off for the highlighted contact person"
        return super().describe(binding)

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

    def _write(self, call, message: str, select_id: int | None = None) -> None:
        def done(_result: object) -> None:
            self.app.notify(message, markup=False)
            self.reload(select_id)

        self.call_directory("write", call, done, self._failed, write=True)

    def action_delete(self) -> None:
        contact = self.table.current()
        if contact is None:
            return
        question = Confirm(
            f"Delete {contact.name}?",
            f"{contact.email} gets no more copies from the next message on. Nobody is told. "
            "You can restore the contact person later (i shows deleted ones, u restores).",
            yes="Delete",
        )
        scope = self.scope
        self.app.push_screen(
            question, lambda yes: yes and self._write(lambda: scope.delete(contact.id), f"Deleted {contact.name}.")
        )

    def action_undelete(self) -> None:
        contact, scope = self.table.current(), self.scope
        if contact is not None:
            self._write(lambda: scope.restore(contact.id), f"Restored {contact.name}.", contact.id)

    def action_show_inactive(self, show: bool) -> None:
        self.show_inactive = show
        current = self.table.current()
        self.reload(current.id if current else None)

    def action_toggle_category(self, number: int) -> None:
        contact, scope = self.table.current(), self.scope
        if contact is None or number > len(scope.catalog.categories):
            return
        category = scope.catalog.categories[number - 1]
        state = "off" if category.key in contact.categories else "on"
        self._write(lambda: scope.toggle_category(contact.id, category.key),
                    f"{category.label} {state} for {contact.name}.", contact.id)

    def action_receive_all(self) -> None:
        contact, scope = self.table.current(), self.scope
        if contact is None:
            return
        enabled = not contact.receive_all
        self._write(lambda: scope.set_receive_all(contact.id, enabled),
                    f"Receive all {'on' if enabled else 'off'} for {contact.name}.", contact.id)
