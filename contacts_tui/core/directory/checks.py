"""The rule checks of ``Directory`` that need the database: is an address
free as a customer's primary email, may it be an active contact person's at
a customer, and one save's errors reported together.

The checks themselves are the functions of ``rules``; these look up what
they are checked against, with the catalog and the limit that ``settings``
(the database's, followed) holds.
"""

from __future__ import annotations

from ..errors import FieldError, ValidationError
from ..models import ContactPerson, Customer
from ..records import ContactInput, CustomerInput
from ..validate import clean_email, email_key
from .rows import active_contacts
from .rules import (
    CleanContact,
    CleanCustomer,
    Problems,
    clean_contact,
    clean_customer,
    deleted_error,
    duplicate_conflict,
    primary_conflict,
    primary_taken,
    raise_limit,
)
from .settings import Following


def check_not_deleted(row: ContactPerson) -> None:
    """A deleted contact person is read-only until it is restored, whoever
    asks (an admin, the portal): an edit of a deleted record with a crafted
    address would come back with it. An import restores it first."""
    if row.deleted_at is not None:
        raise ValidationError([deleted_error(row.name)])


class RuleChecks:
    def __init__(self, settings: Following) -> None:
        self.settings = settings

    def customer_email_free(self, key: str, email: str, customer_id: int | None) -> None:
        """``email`` is no other customer's primary email (``customer_id`` is the customer itself)."""
        other = Customer.get_or_none(Customer.email_key == key)
        if other is not None and other.id != customer_id:
            raise ValidationError([primary_taken(email, other.name)])

    def clean_customer(self, data: CustomerInput, customer_id: int | None) -> CleanCustomer:
        """``rules.clean_customer``; when another field is wrong, the address is still
        checked against the other customers, to report both at once."""
        try:
            return clean_customer(data)
        except ValidationError as exc:
            if any(error.field == "email" for error in exc.errors):
                raise
            try:
                email = clean_email(data.email)
                self.customer_email_free(email_key(email), email, customer_id)
            except ValidationError as taken:
                raise ValidationError([*exc.errors, *taken.errors], exc.subject) from None
            raise

    def clean_contact(
        self, data: ContactInput, *, customer_id: int | None = None, contact_id: int | None = None
    ) -> CleanContact:
        """``rules.clean_contact``, but when another field is wrong the address is
        still checked against the customer (of ``customer_id``, or of the
        contact ``contact_id`` being edited), so one save reports an empty
        name and a duplicate email together."""
        try:
            return clean_contact(data, self.settings.catalog)
        except ValidationError as exc:
            if any(error.field == "email" for error in exc.errors):
                raise
            exclude = None
            if contact_id is not None:
                row = ContactPerson.get_or_none(ContactPerson.id == contact_id)
                if row is None or row.deleted_at is not None:
                    raise  # a deleted record is refused as such (check_not_deleted)
                customer_id, exclude = row.customer_id, row.id
            customer = Customer.get_or_none(Customer.id == customer_id)
            if customer is None:
                raise
            email = clean_email(data.email)
            conflicts = self.email_conflicts(customer, email_key(email), email, exclude)[0]
            if conflicts:
                raise ValidationError([*exc.errors, *conflicts], exc.subject) from None
            raise

    def contact_email(
        self, customer: Customer, key: str, email: str, name: str, *, exclude: int | None, adding: bool
    ) -> None:
        """Check that ``email`` can be an active contact person's at ``customer``: not its
        primary email, nor another active contact's (``exclude`` is the contact itself).
        ``adding`` one more (a new or a restored contact person) also checks the limit."""
        conflicts, active = self.email_conflicts(customer, key, email, exclude)
        if conflicts:
            raise ValidationError(conflicts, name)
        if adding:
            raise_limit(active, self.settings.limit_for_write(), name)

    def email_conflicts(
        self, customer: Customer, key: str, email: str, exclude: int | None
    ) -> tuple[list[FieldError], int]:
        """Why ``email`` cannot be an active contact person's at ``customer``
        (its primary email, or another active contact's), and how many other
        active contact persons it has."""
        active = {r.email_key: r.email for r in active_contacts(customer.id) if r.id != exclude}
        problems = Problems()
        problems.add(primary_conflict(key, email, customer.email_key))
        problems.add(duplicate_conflict(email, active.get(key)))
        return problems.errors, len(active)
