"""One customer: its details and contact persons, and every action on them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.timer import Timer
from textual.widgets import Static

from contacts_tui.core.directory.filters import NO_FILTER, Filter
from contacts_tui.core.records import ContactRecord, CustomerRecord, Membership
from contacts_tui.core.times import local

from ..format import contact_lines, filter_title, portal_line
from ..marks import Marks
from .bulk_marks import ContactMarks, mark_bindings
from .confirm import Confirm
from .contact_list import ContactListScreen, toggle_bindings
from .sample import NO_RELAY, SampleDialog, send_in_background

SWITCH_MARK_SECONDS = 4.0
_toggle = Binding.Group("toggle", compact=True)


@dataclass(frozen=True)
class Loaded:
    customer: CustomerRecord
    contacts: list[ContactRecord]
    elsewhere: dict[str, list[Membership]]
    """Other customers of each active address, by lowercased address."""
    locked_until: dt.datetime | None = None
    """While the customer had as many sign-in codes as an hour allows: when it may ask again."""


class CustomerScreen(ContactMarks, ContactListScreen):
    """A customer's details and contact persons."""

    HELP = (
        "The customer's primary email gets every notification; its contact persons get "
        "copies of the categories they opt in to. The number keys switch a category on or "
        "off for the highlighted contact person, in catalog order; 0 switches 'receive "
        "all'. Deleting is soft: mail stops with the next message, and u restores. "
        "With a relay (contacts-tui demo starts one), s sends this customer a sample "
        "notification and m shows who the relay added as Cc. h shows the history of "
        "every change to this customer, by admins, imports and the customer itself in "
        "the portal; b stops the customer from signing in to the portal, or lets it again, "
        "and U lets a customer that asked for too many sign-in codes ask for a new one at once. "
        "f filters the contact persons (and the customers list) by role, category, status or "
        "email domain; F clears the filter. space marks contact persons and * marks every one "
        "shown; x then changes them all at once (a category, receive all, delete, restore), "
        "each checked by the rules and recorded in the history; z undoes the last bulk change."
    )
    EXTRA_KEYS = (
        ("enter", "Edit the highlighted contact person"),
        ("↑ ↓", "Move through the contact persons"),
        ("home end", "First or last contact person"),
    )
    CUSTOMER_LINES = ("name", "email", "count", "portal")
    CONTACT_ACTIONS = (*ContactListScreen.CONTACT_ACTIONS, "make_primary")
    NEEDS_ACTIVE = (*ContactListScreen.NEEDS_ACTIVE, "make_primary")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add", "add", tooltip="Add a contact person", id="customer.add"),
        Binding("e", "edit", "edit", tooltip="Edit the highlighted contact person", id="customer.edit"),
        Binding(
            "d", "delete", "delete", tooltip="Delete the highlighted contact person (mail stops)", id="customer.delete"
        ),
        Binding(
            "u",
            "undelete",
            "undelete",
            tooltip="Restore the highlighted deleted contact person",
            id="customer.undelete",
        ),
        Binding(
            "p",
            "make_primary",
            "primary",
            tooltip="Make the highlighted contact person the primary email",
            id="customer.primary",
        ),
        # One i key; the footer says which way it switches now.
        Binding(
            "i", "show_inactive(True)", "deleted", tooltip="Show deleted contact persons too", id="customer.inactive"
        ),
        Binding(
            "i",
            "show_inactive(False)",
            "hide deleted",
            tooltip="Hide the deleted contact persons",
            id="customer.hide_inactive",
        ),
        Binding(
            "s",
            "send_sample",
            "sample",
            tooltip="Send a sample notification to this customer through the relay",
            id="customer.sample",
        ),
        # "mail", not "messages": the footer has no room to spare at 80 columns.
        Binding("m", "messages", "mail", tooltip="Captured messages to this customer", id="customer.messages"),
        # Not in the footer, which is full at 80 columns: help and the palette list it.
        Binding("l", "relay_log", "log", show=False, tooltip="Relay log entries of this customer", id="customer.log"),
        *toggle_bindings("customer", _toggle),
        Binding(
            "0",
            "receive_all",
            "all",
            show=False,
            tooltip="Switch 'receive all' for the highlighted contact person",
            id="customer.receive_all",
        ),
        Binding(
            "c",
            "edit_customer",
            "customer",
            show=False,
            tooltip="Edit this customer's name, email and phone",
            id="customer.edit_customer",
        ),
        Binding(
            "h",
            "history",
            "history",
            show=False,
            tooltip="History: every change to this customer",
            id="customer.history",
        ),
        # b as in block: p (portal) is make primary.
        Binding(
            "b",
            "portal_access(False)",
            "block sign-in",
            show=False,
            tooltip="Disable this customer's sign-in to the portal",
            id="customer.portal_disable",
        ),
        Binding(
            "b",
            "portal_access(True)",
            "allow sign-in",
            show=False,
            tooltip="Enable this customer's sign-in to the portal again",
            id="customer.portal_enable",
        ),
        # U as in unlock: u (undelete) is the contact person's, and this is the customer's.
        Binding(
            "U",
            "unlock_portal",
            "unlock sign-in",
            show=False,
            tooltip="Let this customer ask for a new sign-in code now (it asked for too many)",
            id="customer.portal_unlock",
        ),
        Binding(
            "f",
            "filter",
            "filter",
            show=False,
            tooltip="Filter the contact persons (and the customers) by role, category, status or email domain",
            id="customer.filter",
        ),
        Binding("F", "clear_filter", "no filter", show=False, tooltip="Clear the filter", id="customer.clear_filter"),
        *mark_bindings(
            "customer", "Bulk change of the marked contact persons: a category, receive all, delete or restore"
        ),
        Binding("escape", "back", "back", tooltip="Back to the customers", id="customer.back"),
    ]

    def __init__(self, customer_id: int) -> None:
        super().__init__()
        self.customer_id = customer_id
        self.memberships: dict[str, list[Membership]] = {}
        self.locked_until: dt.datetime | None = None
        self.switched: tuple[int, str] | None = None
        """(contact id, category key or "all") just switched: marked on the line of toggles for a moment."""
        self._unmark: Timer | None = None
        self.marks = Marks()

    def on_mount(self) -> None:
        self.reload()

    # -- loading -------------------------------------------------------------

    def reload(self, select_id: int | None = None) -> None:
        customer_id, include, chosen = self.customer_id, self.show_inactive, self.app.filter

        def fetch() -> Loaded:
            directory = self.directory
            customer = directory.get_customer(customer_id)
            contacts = directory.list_contacts(customer_id, include_deleted=include, filter=chosen)
            # At most a few indexed lookups, and moving the cursor never waits.
            elsewhere = {
                contact.email.lower(): [m for m in directory.memberships(contact.email) if m.customer_id != customer_id]
                for contact in contacts
                if contact.active
            }
            return Loaded(customer, contacts, elsewhere, directory.portal_locked_until(customer_id))

        self.call_directory("customer", fetch, lambda loaded: self._loaded(loaded, select_id), self._load_failed)

    def _loaded(self, loaded: Loaded, select_id: int | None) -> None:
        self.customer = loaded.customer
        self.memberships = loaded.elsewhere
        self.locked_until = loaded.locked_until
        self.sub_title = filter_title(loaded.customer.name, self.app.filter, replaces=True)
        self.table.show_records(loaded.contacts, select_id)
        self.show_customer()
        self.show_contact()
        self.update_keys()

    def _load_failed(self, error: Exception) -> None:
        if self.customer is None:
            self.query_one("#customer-name", Static).update(f"Could not load this customer: {error}.")
            self.query_one("#customer-email", Static).update("Escape goes back to the customers.")

    def show_customer(self) -> None:
        super().show_customer()
        assert self.customer is not None
        blocked = not self.customer.portal_enabled or self.locked_until is not None
        self.query_one("#customer-portal").set_class(blocked, "disabled")

    def customer_lines(self, lines: list[str]) -> list[str]:
        assert self.customer is not None
        if self.app.filter.on_contacts:
            shown = len(self.table.records)
            lines[2] += f" · {shown} shown by the filter (F clears it)"
        if self.marks:
            lines[2] += f" · {self.marked_line()}"
        return [*lines, portal_line(self.customer, self.locked_until)]

    def active_count(self) -> int:
        if self.app.filter.on_contacts and self.customer is not None:
            # The table holds only the filter's: the limit counts them all.
            return self.customer.contact_count
        return super().active_count()

    def contact_lines(self, contact: ContactRecord | None) -> list[str]:
        others = self.memberships.get(contact.email.lower(), None) if contact else None
        switched = self.switched[1] if contact and self.switched and self.switched[0] == contact.id else None
        return contact_lines(
            contact, self.directory.catalog, others, has_contacts=bool(self.table.records), switched=switched
        )

    # -- what applies now ----------------------------------------------------

    def hidden(self, action: str, parameters: tuple[object, ...]) -> bool:
        if action == "portal_access":
            # One b: it offers the way the customer's sign-in is not now.
            return self.is_mounted and self.customer is not None and parameters[0] == self.customer.portal_enabled
        if action == "unlock_portal":
            return self.locked_until is None
        return super().hidden(action, parameters)

    def unavailable(self, action: str, parameters: tuple[object, ...]) -> str | None:
        if action in ("back", "filter"):
            return None
        if action == "clear_filter":
            return None if self.app.filter else "No filter is on."
        if action == "send_sample" and not self.app.options.get("relay_address"):
            return NO_RELAY
        if action == "toggle_category" and int(str(parameters[0])) > len(self.directory.catalog.categories):
            return None  # no such category: the key does nothing, and help leaves it out
        if not self.is_mounted or self.customer is None:
            return "The customer is not loaded (yet)."
        if action == "unlock_portal" and self.locked_until is None:
            return f"{self.customer.name} may ask for a sign-in code: nothing to unlock."
        limit = self.directory.max_contacts
        if action == "add" and self.active_count() >= limit:
            return f"{self.customer.name} already has {limit} of {limit} contact persons: delete one to add another."
        return self.bulk_unavailable(action) or self.contact_unavailable(action)

    # -- actions -------------------------------------------------------------

    def action_back(self) -> None:
        self.dismiss()

    def action_filter(self) -> None:
        from .filter_dialog import FilterDialog

        self.app.push_screen(FilterDialog(self.app.filter), self._filtered)

    def action_clear_filter(self) -> None:
        self._filtered(NO_FILTER)

    def _filtered(self, chosen: Filter | None) -> None:
        if chosen is not None:
            # The customers screen shows the same filter when it comes back.
            self.app.filter = chosen
            self.reload()

    def action_add(self) -> None:
        from .contact_form import ContactForm

        assert self.customer is not None
        self.app.push_screen(ContactForm(self.customer), self._saved)

    def action_edit(self) -> None:
        from .contact_form import ContactForm

        contact = self.table.current()
        if contact is not None and self.customer is not None:
            elsewhere = self.memberships.get(contact.email.lower()) if contact.active else None
            form = ContactForm(self.customer, contact, elsewhere)
            self.app.push_screen(form, lambda saved: self._saved(saved, form.copied_to))

    def _saved(self, contact: ContactRecord | None, copied_to: list[str] | None = None) -> None:
        if contact is not None:
            if copied_to:
                where = ", ".join(copied_to)
                self.app.notify(f"Saved {contact.name}, and the name and phone at {where} too.", markup=False)
            else:
                self.app.notify(f"Saved {contact.name}.", markup=False)
            self.reload(contact.id)

    def action_edit_customer(self) -> None:
        from .customer_form import CustomerForm

        if self.customer is not None:
            self.app.push_screen(CustomerForm(self.customer), lambda saved: self.reload() if saved else None)

    def write(self, call, message: str, select_id: int | None = None) -> None:
        def done(_result: object) -> None:
            self.app.notify(message, markup=False)
            self.reload(select_id)

        self.call_directory("write", call, done, write=True)

    def _switch(self, call, contact: ContactRecord, key: str) -> None:
        """Save a switch of 1-9 or 0. Its answer is the line of toggles itself
        (the new state, marked ✓): a toast would cover the rows and that line."""

        def done(_result: object) -> None:
            self.switched = (contact.id, key)
            if self._unmark is not None:
                self._unmark.stop()
            self._unmark = self.set_timer(SWITCH_MARK_SECONDS, self._clear_mark)
            self.reload(contact.id)

        self.call_directory("write", call, done, write=True)

    def _clear_mark(self) -> None:
        self.switched = None
        if self.is_mounted:
            self.show_contact()

    def action_delete(self) -> None:
        contact = self.table.current()
        if contact is not None:
            self.confirm_delete(contact, lambda: self.directory.delete_contact(contact.id))

    def action_undelete(self) -> None:
        contact = self.table.current()
        if contact is not None:
            self.write(lambda: self.directory.undelete_contact(contact.id), f"Restored {contact.name}.", contact.id)

    def action_make_primary(self) -> None:
        contact, customer = self.table.current(), self.customer
        if contact is None or customer is None:
            return
        question = Confirm(
            f"Make {contact.email} the primary email of {customer.name}?",
            f"It gets every notification from now on. The current primary email, {customer.email}, "
            "stays on as a contact person: as it was, if it was one before, or else receiving all "
            "notifications. Nobody gets a category they did not have.",
            yes="Make primary",
        )
        swap = lambda: self.directory.make_primary(contact.id)  # noqa: E731
        self.app.push_screen(
            question, lambda yes: self.write(swap, f"{contact.email} is the primary email now.") if yes else None
        )

    def action_send_sample(self) -> None:
        customer = self.customer
        if customer is None:
            return
        dialog = SampleDialog(customer, self.directory.catalog, self.app.options["relay_address"])
        self.app.push_screen(
            dialog, lambda category: send_in_background(self, customer, category) if category else None
        )

    def action_messages(self) -> None:
        if self.customer is not None:
            self.app.open_messages(self.customer.email)

    def action_relay_log(self) -> None:
        if self.customer is not None:
            self.app.open_relay_log(self.customer.email)

    def action_history(self) -> None:
        if self.customer is not None:
            self.app.open_history(self.customer.id, self.customer.name)

    def action_portal_access(self, enabled: bool) -> None:
        customer = self.customer
        if customer is None:
            return
        if enabled:
            question = Confirm(
                f"Let {customer.name} sign in to the portal again?",
                f"{customer.email} can ask for a sign-in code and manage its own contact persons.",
                yes="Enable",
            )
            message = f"{customer.name} can sign in to the portal again."
        else:
            question = Confirm(
                f"Stop {customer.name} from signing in to the portal?",
                f"{customer.email} gets no sign-in code until you enable it again (b). "
                "Its contact persons keep getting their copies.",
                yes="Disable",
            )
            message = f"{customer.name} can no longer sign in to the portal."

        def change() -> CustomerRecord:
            return self.directory.set_portal_access(customer.id, enabled)

        self.app.push_screen(question, lambda yes: self.write(change, message) if yes else None)

    def action_unlock_portal(self) -> None:
        customer, until = self.customer, self.locked_until
        if customer is None or until is None:
            return
        question = Confirm(
            f"Let {customer.name} ask for a new sign-in code now?",
            f"{customer.email} has asked for as many codes as an hour allows; without this it "
            f"can ask again at {local(until):%H:%M}. Do this when you know it is the customer asking.",
            yes="Unlock",
        )

        def unlock() -> dt.datetime | None:
            return self.directory.unlock_portal(customer.id)

        message = f"{customer.name} can ask for a new sign-in code now."
        self.app.push_screen(question, lambda yes: self.write(unlock, message) if yes else None)

    def action_toggle_category(self, number: int) -> None:
        contact = self.table.current()
        category = self.directory.catalog.categories[number - 1]
        if contact is None:
            return
        self._switch(lambda: self.directory.toggle_category(contact.id, category.key), contact, category.key)

    def action_receive_all(self) -> None:
        contact = self.table.current()
        if contact is None:
            return
        enabled = not contact.receive_all
        self._switch(lambda: self.directory.set_receive_all(contact.id, enabled), contact, "all")
