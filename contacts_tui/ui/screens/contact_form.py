"""Add or edit a contact person: who they are and which notifications they get."""

from __future__ import annotations

from collections.abc import Callable

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Input, Label, Select, Static, Switch

from contacts_tui.core.catalog import Category
from contacts_tui.core.display import visible
from contacts_tui.core.records import ContactInput, ContactRecord, CustomerRecord, Membership
from contacts_tui.core.validate import DEFAULT_ROLE, ROLES

from ..format import on_off
from ..language import N_, _, category_description, category_label, ngettext, role_name
from .form import FormScreen

RECEIVE_ALL_NOTE = N_("every category, also ones added later")
NOTES_PLACEHOLDER = N_("optional, e.g. call before 10; never sent in mail")


def category_note(category: Category) -> str:
    types = ", ".join(t.key for t in category.types)
    return f"{category_description(category)} ({types})" if category.description else types


class ContactForm(FormScreen):
    """Answers with the saved contact person, or None when cancelled."""

    FIELDS = ("name", "email", "phone", "role", "categories", "notes")
    SUB_TITLE = N_("Contact person")
    HELP = (
        "A contact person gets a copy (Cc) of the notifications they opt in to: "
        "switch on a category, or 'receive all' for every category including ones added "
        "later. The address must differ from the customer's primary email and from the "
        "customer's other contact persons (ignoring case). When the same address is a "
        "contact person at other customers too, you can copy a new name and phone there. "
        "The note is for whoever manages the contact persons; it is never sent in mail."
    )

    def __init__(
        self, customer: CustomerRecord, contact: ContactRecord | None = None, elsewhere: list[Membership] | None = None
    ) -> None:
        """``elsewhere``: the other customers of the contact's address, if known already."""
        super().__init__()
        self.customer = customer
        self.contact = contact
        self.known_elsewhere = elsewhere
        self.elsewhere: list[Membership] = []
        self.copied_to: list[str] = []
        """The other customers whose records the save copied name and phone to."""

    def heading(self) -> str:
        if self.contact is None:
            return _("New contact person at {customer}").format(customer=self.customer.name)
        return _("Edit {name} at {customer}").format(name=self.contact.name, customer=self.customer.name)

    def fields(self) -> ComposeResult:
        contact = self.contact
        data = contact.as_input() if contact else ContactInput("", "")
        # First, in sight when the form opens: an edit here may be meant for every customer of the person.
        yield Static("", classes="field-note hidden", id="elsewhere", markup=False)
        required, optional = _("required"), _("optional")
        yield from self.field("name", _("Name"), Input(data.name, id="name", compact=True, placeholder=required))
        yield from self.field("email", _("Email"), Input(data.email, id="email", compact=True, placeholder=required))
        yield from self.field("phone", _("Phone"), Input(data.phone, id="phone", compact=True, placeholder=optional))
        # Next to what it copies: name and phone.
        with Horizontal(classes="field switch-row hidden", id="apply_all-row"):
            yield Label(_("Copy there"), classes="field-label", markup=False)
            yield Switch(False, id="apply_all")
            yield Static(self._state(False), classes="switch-state", id="apply_all-state", markup=False)
            yield Static("", classes="field-note", id="apply_all-note", markup=False)
        role = Select(
            [(role_name(r), r) for r in ROLES],
            value=data.role or DEFAULT_ROLE,
            allow_blank=False,
            id="role",
            compact=True,
        )
        yield from self.field("role", _("Role"), role)
        with Horizontal(classes="section", id="categories-row"):
            yield Label(_("Receives copies of"), markup=False)
        yield from self.switch_row("receive_all", _("All"), data.receive_all, _(RECEIVE_ALL_NOTE))
        # Catalog keys may hold dots, which ids may not: number the switches.
        for number, category in enumerate(self.directory.catalog.categories, 1):
            yield from self.switch_row(
                f"category-{number}", category_label(category), category.key in data.categories, category_note(category)
            )
        yield Static("", classes="error", id="categories-error", markup=False)
        # Last, after what decides the mail: a note never changes who gets what.
        notes = Input(data.notes or "", id="notes", compact=True, placeholder=_(NOTES_PLACEHOLDER))
        yield from self.field("notes", _("Note"), notes)

    def switch_row(self, name: str, label: str, value: bool, note: str) -> ComposeResult:
        with Horizontal(classes="field switch-row", id=f"{name}-row"):
            yield Label(label, classes="field-label", markup=False)
            yield Switch(value, id=name)
            yield Static(self._state(value), classes="switch-state", id=f"{name}-state", markup=False)
            yield Static(note, classes="field-note", markup=False)

    @staticmethod
    def _state(value: bool) -> str:
        return on_off(value)

    @on(Switch.Changed)
    def switched(self, event: Switch.Changed) -> None:
        self.query_one(f"#{event.switch.id}-state", Static).update(self._state(event.value))

    def on_mount(self) -> None:
        super().on_mount()
        if self.contact is None:
            return
        if self.known_elsewhere is not None:
            self._show_elsewhere(self.known_elsewhere)
        else:
            email = self.contact.email
            self.call_directory("memberships", lambda: self.directory.memberships(email), self._show_elsewhere)

    def _show_elsewhere(self, memberships: list[Membership]) -> None:
        contact = self.contact
        assert contact is not None
        self.elsewhere = [m for m in memberships if m.contact_id != contact.id]
        if not self.elsewhere:
            return
        names = ", ".join(m.customer_name for m in self.elsewhere)
        count = len(self.elsewhere)
        self.query_one("#apply_all-note", Static).update(
            ngettext(
                "Copy name and phone to that record too", "Copy name and phone to those {count} records too", count
            ).format(count=count)
        )
        self.query_one("#apply_all-row").remove_class("hidden")
        note = self.query_one("#elsewhere", Static)
        note.update(
            visible(_("{email} is also a contact person at: {customers}").format(email=contact.email, customers=names))
        )
        note.remove_class("hidden")
        self.initial = self.values()

    def contact_input(self) -> ContactInput:
        catalog = self.directory.catalog
        role = self.query_one("#role", Select).value
        return ContactInput(
            self.query_one("#name", Input).value,
            self.query_one("#email", Input).value,
            self.query_one("#phone", Input).value,
            role if isinstance(role, str) else DEFAULT_ROLE,
            self.query_one("#receive_all", Switch).value,
            frozenset(
                category.key
                for number, category in enumerate(catalog.categories, 1)
                if self.query_one(f"#category-{number}", Switch).value
            ),
            self.query_one("#notes", Input).value,
        )

    def save_call(self) -> Callable[[], ContactRecord]:
        data = self.contact_input()
        directory, customer, contact = self.directory, self.customer, self.contact
        if contact is None:
            return lambda: directory.add_contact(customer.id, data)
        apply_to_all = bool(self.elsewhere) and self.query_one("#apply_all", Switch).value
        self.copied_to = [m.customer_name for m in self.elsewhere] if apply_to_all else []
        return lambda: directory.update_contact(contact.id, data, apply_to_all=apply_to_all)
