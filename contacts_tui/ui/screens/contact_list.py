"""What the admin's customer screen and the portal's contacts screen share:
one customer's contact persons in a table, the customer above it, the
highlighted person below it, and the keys that act on that person."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Header, Static

from contacts_tui.core.records import ContactRecord, CustomerRecord

from ..format import customer_lines
from ..language import N_, _, category_label
from ..widgets.contact_table import ContactTable
from .base import AppScreen
from .confirm import Confirm

TOGGLE_KEYS = 9


def toggle_bindings(prefix: str, group: Binding.Group | None = None) -> list[Binding]:
    """1-9: switch a category of the highlighted person, in catalog order.

    Not in the footer: the contact line under the table names these keys
    with each category's state.
    """
    return [
        Binding(str(n), f"toggle_category({n})", N_("toggle"), show=False, group=group, id=f"{prefix}.toggle{n}")
        for n in range(1, TOGGLE_KEYS + 1)
    ]


class ContactListScreen(AppScreen):
    """A customer's contact persons (#contacts), the customer's lines above and
    three lines on the highlighted person below.

    Subclasses load ``customer`` and the table, and say what the details
    show (``show_customer``, ``show_contact``).
    """

    AUTO_FOCUS = "#contacts"
    CUSTOMER_LINES: ClassVar[tuple[str, ...]] = ("name", "email", "count")
    CONTACT_ACTIONS: ClassVar[tuple[str, ...]] = ("edit", "delete", "undelete", "toggle_category", "receive_all")
    """Actions on the highlighted contact person."""
    CATEGORY_LABELS: ClassVar[bool] = False
    """The table names categories by label (for customers), not by key (for admins)."""
    NEEDS_ACTIVE: ClassVar[tuple[str, ...]] = ("edit", "toggle_category", "receive_all")
    """Of those, the ones a deleted person must be restored for: a deleted
    record is read-only (the directory refuses a change to it too)."""

    def __init__(self) -> None:
        super().__init__()
        self.customer: CustomerRecord | None = None
        self.show_inactive = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="customer-details"):
            for number, name in enumerate(self.CUSTOMER_LINES):
                yield Static(_("Loading…") if number == 0 else "", id=f"customer-{name}", markup=False)
        yield ContactTable(self.directory.catalog, id="contacts", labels=self.CATEGORY_LABELS)
        with Vertical(id="contact-details"):
            for line in range(3):
                yield Static("", id=f"contact-line{line}", markup=False)
        yield Footer(compact=True, show_command_palette=False)

    @property
    def table(self) -> ContactTable:
        return self.query_one(ContactTable)

    # -- the details ---------------------------------------------------------

    def show_customer(self) -> None:
        """The customer's name, email and "N of 10 contacts" above the table."""
        assert self.customer is not None
        active = self.active_count()
        limit = self.directory.max_contacts
        lines = self.customer_lines(customer_lines(self.customer, active, limit, self.show_inactive))
        for name, text in zip(self.CUSTOMER_LINES, lines, strict=False):
            self.query_one(f"#customer-{name}", Static).update(text)
        self.query_one("#customer-count").set_class(active >= limit, "full")

    def customer_lines(self, lines: list[str]) -> list[str]:
        """The lines above the table, from the admin's (a subclass changes or adds to them)."""
        return lines

    def show_contact(self) -> None:
        for number, text in enumerate(self.contact_lines(self.table.current())):
            self.query_one(f"#contact-line{number}", Static).update(text)

    def contact_lines(self, contact: ContactRecord | None) -> list[str]:
        raise NotImplementedError

    @on(DataTable.RowHighlighted, "#contacts")
    def highlighted(self) -> None:
        self.show_contact()
        self.update_keys()

    @on(DataTable.RowSelected, "#contacts")
    def selected(self) -> None:
        # enter reaches here from the table, past the screen's check of e.
        reason = self.unavailable("edit", ())
        if reason:
            self.app.notify(reason, severity="warning", timeout=6)
        else:
            self.action_edit()

    # -- what applies now ----------------------------------------------------

    def active_count(self) -> int:
        return sum(1 for c in self.table.records if c.active)

    def hidden(self, action: str, parameters: tuple[object, ...]) -> bool:
        if not self.is_mounted:
            return False
        contact = self.table.current()
        if action == "toggle_category":
            return int(str(parameters[0])) > len(self.directory.catalog.categories)
        if action == "show_inactive":
            return parameters[0] == self.show_inactive
        if action == "undelete":
            return contact is None or contact.active
        if action == "delete":
            return contact is not None and not contact.active
        return False

    def contact_unavailable(self, action: str) -> str | None:
        """Why an action on the highlighted contact person does not apply now, or None."""
        if action not in self.CONTACT_ACTIONS:
            return None
        contact = self.table.current()
        if contact is None:
            return _("No contact person is highlighted.")
        if action == "undelete" and contact.active:
            return _("{name} is not deleted.").format(name=contact.name)
        if action == "delete" and not contact.active:
            return _("{name} is deleted already; u restores.").format(name=contact.name)
        if action in self.NEEDS_ACTIVE and not contact.active:
            return _("{name} is deleted; restore with u first.").format(name=contact.name)
        return None

    def describe(self, binding: Binding) -> str:
        if binding.action.startswith("toggle_category("):
            number = int(binding.key)
            categories = self.directory.catalog.categories
            if number <= len(categories):
                return _("Switch {category} on or off for the highlighted contact person").format(
                    category=category_label(categories[number - 1])
                )
        return super().describe(binding)

    # -- actions -------------------------------------------------------------

    def reload(self, select_id: int | None = None) -> None:
        raise NotImplementedError

    def action_edit(self) -> None:
        raise NotImplementedError

    def write(self, call: Callable[[], object], message: str, select_id: int | None = None) -> None:
        """Run ``call`` in a thread, then say ``message`` and load again."""
        raise NotImplementedError

    def confirm_delete(self, contact: ContactRecord, delete: Callable[[], object]) -> None:
        question = Confirm(
            _("Delete {name}?").format(name=contact.name),
            _(
                "{email} gets no more copies from the next message on. Nobody is told. "
                "You can restore the contact person later (i shows deleted ones, u restores)."
            ).format(email=contact.email),
            yes=_("Delete"),
        )
        deleted = _("Deleted {name}.").format(name=contact.name)
        self.app.push_screen(question, lambda yes: self.write(delete, deleted) if yes else None)

    def action_show_inactive(self, show: bool) -> None:
        self.show_inactive = show
        current = self.table.current()
        self.reload(current.id if current else None)
