"""What a bulk change is: its action, the records it is for, what a plan
found and what applying it did, in the words the TUI and the CLI show."""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

from ..filters import NO_FILTER, Filter

SWITCH_ON, SWITCH_OFF = "switch on", "switch off"
RECEIVE_ALL_ON, RECEIVE_ALL_OFF = "receive all on", "receive all off"
DELETE, RESTORE = "delete", "restore"
DEACTIVATE, ACTIVATE = "deactivate", "activate"
INVERSE = {
    SWITCH_ON: SWITCH_OFF,
    SWITCH_OFF: SWITCH_ON,
    RECEIVE_ALL_ON: RECEIVE_ALL_OFF,
    RECEIVE_ALL_OFF: RECEIVE_ALL_ON,
    DELETE: RESTORE,
    RESTORE: DELETE,
    DEACTIVATE: ACTIVATE,
    ACTIVATE: DEACTIVATE,
}
"""Every action, and the one that undoes it."""
CUSTOMER_VERBS = frozenset({DEACTIVATE, ACTIVATE})
"""Actions on customers; the others are on contact persons."""
SHOWN_REFUSALS = 20
"""Refusals a plan or result keeps to name; the rest are counted."""


def counted(count: int, singular: str, plural: str) -> str:
    return f"{count:,} {singular if count == 1 else plural}"


@dataclass(frozen=True)
class BulkAction:
    """What a bulk change does to each record."""

    verb: str
    """A key of ``INVERSE``."""
    category: str | None = None
    """The category key of a switch on or off."""

    def __post_init__(self) -> None:
        if self.verb not in INVERSE:
            raise ValueError(f"unknown bulk action {self.verb!r}")
        if (self.verb in (SWITCH_ON, SWITCH_OFF)) != (self.category is not None):
            raise ValueError("a category goes with switching on or off, and only there")

    @property
    def on_customers(self) -> bool:
        return self.verb in CUSTOMER_VERBS

    @property
    def on(self) -> bool:
        """For a switch: on or off."""
        return self.verb in (SWITCH_ON, RECEIVE_ALL_ON, RESTORE, ACTIVATE)

    def inverse(self) -> BulkAction:
        return BulkAction(INVERSE[self.verb], self.category)

    def describe(self, labels: dict[str, str] | None = None) -> str:
        """In a few words, lower case: "switch Account on", "switch receive all off", "delete"."""
        if self.category is not None:
            label = (labels or {}).get(self.category, self.category)
            return f"switch {label} {'on' if self.on else 'off'}"
        if self.verb in (RECEIVE_ALL_ON, RECEIVE_ALL_OFF):
            return f"switch receive all {'on' if self.on else 'off'}"
        return self.verb

    def records(self, count: int, customers: int) -> str:
        """ "37 contact persons at 12 customers", or "12 customers"."""
        if self.on_customers:
            return counted(count, "customer", "customers")
        return f"{counted(count, 'contact person', 'contact persons')} at {counted(customers, 'customer', 'customers')}"

    def past(self, labels: dict[str, str] | None = None) -> str:
        """ "switched Account on", "deleted", "activated"."""
        words = self.describe(labels)
        if words.startswith("switch "):
            return "switched " + words[len("switch ") :]
        return words + "d"

    def question(self, count: int, customers: int, labels: dict[str, str] | None = None) -> str:
        """ "Switch Account on for 37 contact persons at 12 customers?", "Delete 3 contact persons at 1 customer?" """
        words = self.describe(labels)
        if self.verb in (DELETE, RESTORE, DEACTIVATE, ACTIVATE):
            text = f"{words} {self.records(count, customers)}?"
        else:
            text = f"{words} for {self.records(count, customers)}?"
        return text[0].upper() + text[1:]

    def unchanged(self, labels: dict[str, str] | None = None) -> str:
        """Why a record is left as it is, after its count: "3 have it on already"."""
        if self.category is not None:
            label = (labels or {}).get(self.category, self.category)
            return f"opted {'in to' if self.on else 'out of'} {label} already"
        return {
            RECEIVE_ALL_ON: "receiving all already",
            RECEIVE_ALL_OFF: "not receiving all already",
            DELETE: "deleted already",
            RESTORE: "not deleted",
            DEACTIVATE: "inactive already",
            ACTIVATE: "active already",
        }[self.verb]


@dataclass(frozen=True)
class Selection:
    """Which records a bulk change is for.

    Contact persons by id (``contact_ids``), customers by id
    (``customer_ids``), or every customer a search ``text`` and ``filter``
    show (``shown``) less those ``excluded``. For an action on contact
    persons, customers mean their contact persons that ``filter`` keeps
    (every active one where it says nothing of contact persons), as a
    customer's screen and ``contacts-tui list`` show them.
    """

    contact_ids: tuple[int, ...] = ()
    customer_ids: tuple[int, ...] = ()
    shown: bool = False
    text: str = ""
    filter: Filter = NO_FILTER
    excluded: frozenset[int] = frozenset()

    @classmethod
    def of_contacts(cls, ids) -> Selection:
        return cls(contact_ids=tuple(sorted(set(ids))))

    @classmethod
    def of_customers(cls, ids, flt: Filter = NO_FILTER) -> Selection:
        return cls(customer_ids=tuple(sorted(set(ids))), filter=flt)

    @classmethod
    def shown_by(cls, text: str, flt: Filter, excluded=frozenset()) -> Selection:
        return cls(shown=True, text=text.strip(), filter=flt, excluded=frozenset(excluded))


@dataclass(frozen=True)
class Refusal:
    """A record a rule keeps from changing, and the rule's reason."""

    id: int
    customer_id: int
    name: str
    email: str
    customer_name: str
    """Empty for a customer."""
    reason: str

    def describe(self) -> str:
        where = f" at {self.customer_name}" if self.customer_name else ""
        return f"{self.name} <{self.email}>{where}: {self.reason}"


@dataclass(frozen=True)
class BulkRecord:
    """A record of a plan, as a list of them names it."""

    customer_email: str
    customer_name: str
    name: str = ""
    """Of a contact person; empty for a customer."""
    email: str = ""


@dataclass(frozen=True)
class BulkPlan:
    """What applying an action to a selection would do."""

    action: BulkAction
    ids: array = field(repr=False)
    """The records to change (contact persons or customers), grouped by customer."""
    owners: array = field(repr=False)
    """The customer of each of ``ids`` (for customers, the customer itself)."""
    customers: int
    """Customers the records to change belong to."""
    unchanged: int
    """Records that are as the action would make them already."""
    refused: tuple[Refusal, ...]
    """The first ``SHOWN_REFUSALS`` records a rule refuses, with the reason."""
    refused_count: int

    @property
    def count(self) -> int:
        return len(self.ids)

    @property
    def selected(self) -> int:
        return self.count + self.unchanged + self.refused_count


@dataclass(frozen=True)
class BulkResult:
    """What applying a plan did."""

    action: BulkAction
    changed: array = field(repr=False)
    owners: array = field(repr=False)
    customers: int
    refused: tuple[Refusal, ...]
    """Records a rule refused when applied (changed by someone else since the plan)."""
    refused_count: int
    unchanged: int
    """Records found as the action would make them when applied."""
    stopped: bool = False
    """Stopped before the end: what is in ``changed`` was changed, the rest not."""
    error: str = ""
    """Why it stopped, when a batch failed (the database went away): the batches before it stay changed."""
    planned: int = 0
    """Records the plan had for it."""

    @property
    def count(self) -> int:
        return len(self.changed)

    def summary(self, labels: dict[str, str] | None = None) -> str:
        """What was done, in a sentence or three, for a notification or a terminal."""
        action = self.action
        records = action.records(self.count, self.customers)
        done = action.past(labels)
        text = (
            f"{done} {records}." if action.verb in (DELETE, RESTORE, DEACTIVATE, ACTIVATE) else f"{done} for {records}."
        )
        text = text[0].upper() + text[1:]
        if self.error:
            text = f"Stopped after {self.count:,} of {self.planned:,} by an error: {self.error}. {text}"
        elif self.stopped:
            text = f"Stopped after {self.count:,} of {self.planned:,}. {text}"
        if self.refused_count:
            text += f" {self.refused_count:,} refused (changed meanwhile): {self.refused[0].describe()}"
            if self.refused_count > 1:
                text += f" and {self.refused_count - 1:,} more"
            text += "."
        return text

    def undo(self) -> tuple[BulkAction, Selection]:
        """The action and selection that put back what this change changed (and nothing else)."""
        ids = tuple(self.changed)
        if self.action.on_customers:
            return self.action.inverse(), Selection.of_customers(ids)
        return self.action.inverse(), Selection.of_contacts(ids)


def refusals_text(refused: tuple[Refusal, ...], count: int, shown: int = 3) -> str:
    """The first few refusals, one a line, and how many more."""
    lines = [refusal.describe() for refusal in refused[:shown]]
    if count > len(lines):
        lines.append(f"… and {count - len(lines):,} more")
    return "\n".join(lines)
