"""Demo customers and contact persons: every role, every opt-in mix, the limit,
a soft-deleted contact and a person who is a contact at two customers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..records import ContactInput, CustomerInput
from .service import Directory

# (customer name, primary email, phone, [(name, email, role, receive_all, categories)])
CUSTOMERS: list[tuple[str, str, str, list[tuple[str, str, str, bool, tuple[str, ...]]]]] = [
    (
        "Acme Trading Ltd",
        "accounts@acme-trading.example",
        "+44 20 7946 0001",
        [
            ("Beatrice Bookman", "bookkeeping@acme-trading.example", "Bookkeeping", False, ("billing",)),
            ("Marcus Manning", "marcus.manning@acme-trading.example", "Management", True, ()),
            ("Ivy Tran", "it@acme-trading.example", "Technical", False, ("account",)),
        ],
    ),
    (
        "Müller & Söhne GmbH",
        "rechnung@mueller-soehne.example",
        "+49 30 901820",
        [
            ("Jürgen Weiß", "buchhaltung@mueller-soehne.example", "Bookkeeping", False, ("billing",)),
            ("Anja Köhler", "a.koehler@mueller-soehne.example", "Management", False, ("billing", "account")),
        ],
    ),
    (
        "Nordlicht Design AB",
        "faktura@nordlicht.example",
        "",
        [
            ("Åsa Lindqvist", "asa@nordlicht.example", "Billing", False, ("billing",)),
            ("Erik Sundström", "erik@nordlicht.example", "Support", False, ()),
        ],
    ),
    (
        "東京トレーディング株式会社",
        "billing@tokyo-trading.example",
        "+81 3 1234 5678",
        [
            ("山田 花子", "hanako.yamada@tokyo-trading.example", "Bookkeeping", False, ("billing",)),
        ],
    ),
    (
        "Café Olé SARL",
        "compta@cafe-ole.example",
        "+33 1 23 45 67 89",
        [
            ("Émilie Durand", "emilie@cafe-ole.example", "Bookkeeping", False, ("billing",)),
            ("Luc Moreau", "luc@cafe-ole.example", "General", False, ("account",)),
        ],
    ),
    (
        "Bright Pixel Studio 🎨",
        "hello@brightpixel.example",
        "",
        [
            ("Sam Rivera", "sam@brightpixel.example", "Management", True, ()),
        ],
    ),
    (
        "Greenfield Farms Co-op",
        "office@greenfield.example",
        "+1 555 0100",
        [
            ("Olivia Green", "olivia@greenfield.example", "Bookkeeping", False, ("billing",)),
            ("Pat Fields", "pat@greenfield.example", "Technical", False, ("account",)),
            ("Chris Barn", "chris@greenfield.example", "Support", False, ()),
        ],
    ),
    (
        "Harbour Logistics BV",
        "facturen@harbour.example",
        "+31 20 555 0199",
        [
            ("Daan de Vries", "daan@harbour.example", "Billing", False, ("billing", "account")),
        ],
    ),
    # At the limit of 10 contact persons: the TUI disables "add" with a reason.
    (
        "Orbit Networks Inc",
        "ap@orbit-networks.example",
        "+1 555 0142",
        [
            (f"Orbit Contact {n}", f"contact{n}@orbit-networks.example", role, n == 1, cats)
            for n, role, cats in [
                (1, "Management", ()),
                (2, "Bookkeeping", ("billing",)),
                (3, "Billing", ("billing",)),
                (4, "Technical", ("account",)),
                (5, "Support", ()),
                (6, "General", ()),
                (7, "Technical", ("account",)),
                (8, "General", ("billing",)),
                (9, "Support", ("account",)),
                (10, "General", ()),
            ]
        ],
    ),
    # The same bookkeeping firm works for two customers.
    (
        "Silverline Dental",
        "billing@silverline-dental.example",
        "",
        [
            ("Ledger & Co Bookkeeping", "clients@ledger-co.example", "Bookkeeping", False, ("billing",)),
        ],
    ),
    (
        "Riverside Bakery",
        "orders@riverside-bakery.example",
        "+44 161 555 0123",
        [
            ("Ledger & Co Bookkeeping", "clients@ledger-co.example", "Bookkeeping", False, ("billing",)),
            ("Rosa Baker", "rosa@riverside-bakery.example", "Management", False, ("account",)),
        ],
    ),
    ("Quiet Customer Ltd", "finance@quiet.example", "", []),
]

FILLER = 40


def seed_demo(directory: Directory) -> int:
    """Fill an empty directory with demo data; returns the customers created."""
    created = 0
    for name, email, phone, contacts in CUSTOMERS:
        customer = directory.create_customer(CustomerInput(name, email, phone))
        created += 1
        for contact_name, contact_email, role, receive_all, categories in contacts:
            directory.add_contact(
                customer.id, ContactInput(contact_name, contact_email, "", role, receive_all, categories)
            )
    # A soft-deleted contact: "show inactive" and undelete have something to show.
    acme = directory.find_customer("accounts@acme-trading.example")
    if acme is not None:
        former = directory.add_contact(
            acme.id,
            ContactInput("Former Bookkeeper", "old.books@acme-trading.example", "", "Bookkeeping", False, ("billing",)),
        )
        directory.delete_contact(former.id)
    # Enough rows to page and search through.
    for n in range(1, FILLER + 1):
        customer = directory.create_customer(
            CustomerInput(f"Demo Customer {n:02d}", f"billing{n:02d}@customer{n:02d}.example")
        )
        created += 1
        directory.add_contact(
            customer.id,
            ContactInput(
                f"Bookkeeper {n:02d}", f"books{n:02d}@customer{n:02d}.example", "", "Bookkeeping", False, ("billing",)
            ),
        )
    return created


class DemoRunning(Exception):
    """Another demo holds the demo database; starting afresh would delete its data."""

    def __init__(self, pid: str) -> None:
        super().__init__(f"a demo is already running (pid {pid or 'unknown'}); quit it first")
        self.pid = pid


@contextmanager
def demo_lock(database: Path) -> Iterator[None]:
    """Hold a lock next to the demo database while a demo runs.

    Each demo starts afresh by deleting the database; a second demo started
    while one runs would pull the first one's data away under it.
    """
    try:
        from ..process import take_lock
    except ImportError:  # no fcntl (Windows): nothing to lock with
        yield
        return
    fd, owner = take_lock(Path(str(database) + ".lock"))
    if fd is None:
        raise DemoRunning(owner)
    try:
        yield
    finally:
        os.close(fd)
