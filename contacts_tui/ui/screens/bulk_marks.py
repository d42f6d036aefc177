"""Marking rows for a bulk change, on the customers screen and a customer's:
space marks the highlighted row, * all that are shown (or none again), x
opens the bulk change dialog for the marked, z undoes the last bulk change.

A mixin: a screen gives its ``table`` (whose ``marks`` it shows), says what
its marks select (``bulk_target``) and how many it shows marked
(``marked_count``), and calls ``bulk_unavailable`` from its ``unavailable``.
"""

from __future__ import annotations

from typing import Any

from textual.binding import Binding

from contacts_tui.core.catalog import Catalog
from contacts_tui.core.directory.bulk.actions import (
    ACTIVATE,
    DEACTIVATE,
    DELETE,
    RECEIVE_ALL_OFF,
    RECEIVE_ALL_ON,
    RESTORE,
    SWITCH_OFF,
    SWITCH_ON,
    BulkAction,
    BulkResult,
    Selection,
)
from contacts_tui.core.directory.filters import Filter

from ..marks import Marks
from .bulk_dialog import BulkDialog

BULK_ACTIONS = ("mark", "mark_all", "bulk", "undo_bulk")
Choices = list[tuple[str, BulkAction | None]]


def mark_bindings(prefix: str, bulk: str) -> list[Binding]:
    """space, *, x (``bulk`` says what it does) and z; not in the footer (full at
    80 columns): the status line names x while rows are marked."""
    return [
        Binding(
            "space",
            "mark",
            "mark",
            show=False,
            tooltip="Mark or unmark the highlighted row for a bulk change",
            id=f"{prefix}.mark",
        ),
        Binding(
            "asterisk",
            "mark_all",
            "mark all",
            show=False,
            tooltip="Mark every row shown (with the filter and search), or unmark them all",
            id=f"{prefix}.mark_all",
        ),
        Binding(
            "x",
            "bulk",
            "bulk change",
            show=False,
            tooltip=bulk,
            id=f"{prefix}.bulk",
        ),
        Binding(
            "z",
            "undo_bulk",
            "undo bulk",
            show=False,
            tooltip="Undo the last bulk change (the same records, the other way)",
            id=f"{prefix}.undo_bulk",
        ),
    ]


def contact_choices(catalog: Catalog, *, switches: bool = True, delete: bool = True, restore: bool = True) -> Choices:
    """What can be done to contact persons, in the order the dialog lists it."""
    choices: Choices = []
    if switches:
        for category in catalog.categories:
            choices.append((f"Switch {category.label} on", BulkAction(SWITCH_ON, category.key)))
            choices.append((f"Switch {category.label} off", BulkAction(SWITCH_OFF, category.key)))
        choices.append(("Switch receive all on", BulkAction(RECEIVE_ALL_ON)))
        choices.append(("Switch receive all off", BulkAction(RECEIVE_ALL_OFF)))
    if delete:
        choices.append(("Delete (mail to them stops)", BulkAction(DELETE)))
    if restore:
        choices.append(("Restore", BulkAction(RESTORE)))
    return choices


class BulkMarking:
    """Marks and bulk changes for a screen of rows (see the module's docstring)."""

    app: Any
    table: Any
    marks: Marks

    def on_mount(self) -> None:
        # Textual runs the on_mount of every class of a screen: the screen's own loads its rows.
        self.table.marks = self.marks

    # -- what a screen says ----------------------------------------------------

    def bulk_target(self) -> tuple[Selection, str, Choices, str]:
        """The marked records as a Selection, their name ("3 marked customers"),
        the choices of the dialog and a note above them."""
        raise NotImplementedError

    def marked_count(self) -> int:
        raise NotImplementedError

    def marks_changed(self) -> None:
        """Show the count of marked rows anew (the status line, the keys)."""
        raise NotImplementedError

    def marked_line(self) -> str:
        """ "3 marked (x changes them)", for the status line; empty when none is."""
        if not self.marks:
            return ""
        count = self.marked_count()
        every = "all " if self.marks.all_shown and not self.marks.excluded else ""
        return f"{every}{count:,} marked (x changes them)"

    def bulk_unavailable(self, action: str) -> str | None:
        if action == "bulk" and not self.marks:
            return "Nothing is marked: space marks the highlighted row, * every row shown."
        if action == "undo_bulk" and (self.app.last_bulk is None or not self.app.last_bulk.count):
            return "No bulk change to undo: none was made since the TUI started."
        if action == "mark" and self.table.current() is None:
            return "There is no row here to mark."
        return None

    # -- the keys --------------------------------------------------------------

    def action_mark(self) -> None:
        current = self.table.current()
        if current is None:
            return
        self.marks.toggle(current.id)
        self.table.show_marks(current.id)
        self.table.action_cursor_down()  # marking several in a row: space, space, space
        self.marks_changed()

    def action_bulk(self) -> None:
        if not self.marks:
            return
        selection, what, choices, note = self.bulk_target()
        self.app.push_screen(BulkDialog(selection, what, choices, note=note), self.bulk_done)

    def action_undo_bulk(self) -> None:
        last: BulkResult | None = self.app.last_bulk
        if last is None or not last.count:
            return
        action, selection = last.undo()
        what = last.action.records(last.count, last.customers)
        self.app.push_screen(BulkDialog(selection, what, [], action=action, undoing=True), self.bulk_done)

    def bulk_done(self, result: BulkResult | None) -> None:
        if result is None:
            return
        labels = {category.key: category.label for category in self.app.directory.catalog.categories}
        if result.count:
            self.app.last_bulk = result
        more = " z undoes it." if result.count else ""
        severity = "warning" if result.stopped or result.refused_count else "information"
        self.app.notify(result.summary(labels) + more, severity=severity, timeout=10, markup=False)
        self.marks.clear()
        self.table.show_marks()
        self.marks_changed()
        self.bulk_reload()

    def bulk_reload(self) -> None:
        """Load the rows again after a bulk change."""
        self.reload()  # type: ignore[attr-defined]


class CustomerMarks(BulkMarking):
    """The customers screen's: customers by id, or all that the search and
    filter show (which the table never holds at once); an action on contact
    persons acts on those the filter keeps at the marked customers."""

    query_state: Any
    estimated: bool
    everyone_stale: bool
    counted: tuple[tuple[str, Filter], int] | None

    def action_mark_all(self) -> None:
        if self.marks.all_shown and not self.marks.excluded:
            self.marks.clear()
        else:
            self.marks.mark_all(*self.query_state.matching())
        self.table.show_marks()
        self.marks_changed()

    def marked_count(self) -> int:
        return self.marks.count(self.table.total)

    def marked_line(self) -> str:
        line = super().marked_line()
        if line and self.marks.all_shown and self.estimated:
            line = "about " + line.removeprefix("all ")
        return line

    def marks_changed(self) -> None:
        self.show_cursor()  # type: ignore[attr-defined]
        self.update_keys()  # type: ignore[attr-defined]

    def bulk_reload(self) -> None:
        # Counts of a filter (inactive, not in a category) may have changed.
        self.everyone_stale, self.counted = True, None
        self.reload()  # type: ignore[attr-defined]

    def keep_marks(self, matching: tuple[str, Filter]) -> None:
        """Rows shown for another search or filter: marks of all that were shown go."""
        if self.marks.all_shown and self.marks.shown != matching:
            self.marks.clear()
            self.app.notify("The marks are cleared: they were of every row of the search and filter before.")

    def bulk_target(self) -> tuple[Selection, str, Choices, str]:
        flt = self.query_state.filter
        count = self.marked_count()
        noun = "customer" if count == 1 else "customers"
        if self.marks.all_shown:
            text, flt = self.marks.shown
            selection = Selection.shown_by(text, flt, self.marks.excluded)
            what = f"{'about ' if self.estimated else ''}{count:,} {noun} shown"
        else:
            selection = Selection.of_customers(self.marks.ids, flt)
            what = f"{count:,} marked {noun}"
        if flt.on_contacts:
            note = f"Contact persons: those the filter keeps at these customers ({flt.describe()})."
        else:
            note = "Contact persons: every active one of these customers (f filters them)."
        deleted = flt.status == "deleted"
        choices: Choices = [
            ("Their contact persons", None),
            *contact_choices(self.app.directory.catalog, switches=not deleted, delete=not deleted, restore=deleted),
            ("The customers", None),
            ("Deactivate (their contact persons get no copies)", BulkAction(DEACTIVATE)),
            ("Activate", BulkAction(ACTIVATE)),
        ]
        return selection, what, choices, note


class ContactMarks(BulkMarking):
    """A customer's screen's: its contact persons, by id (the table holds them all)."""

    customer: Any

    def action_mark_all(self) -> None:
        shown = {record.id for record in self.table.records}
        if shown and self.marks.ids >= shown:
            self.marks.clear()
        else:
            self.marks.mark_ids(shown)
        self.table.show_marks()
        self.marks_changed()

    def marked_count(self) -> int:
        return len(self.marks.ids)

    def marks_changed(self) -> None:
        if self.customer is not None:
            self.show_customer()  # type: ignore[attr-defined]
        self.update_keys()  # type: ignore[attr-defined]

    def bulk_target(self) -> tuple[Selection, str, Choices, str]:
        count = self.marked_count()
        noun = "contact person" if count == 1 else "contact persons"
        name = self.customer.name if self.customer is not None else "this customer"
        marked = [record for record in self.table.records if record.id in self.marks.ids]
        known = len(marked) == count  # some may be out of sight (a filter, deleted ones hidden)
        active = not known or any(record.active for record in marked)
        deleted = not known or any(not record.active for record in marked)
        choices = contact_choices(self.app.directory.catalog, switches=active, delete=active, restore=deleted)
        return Selection.of_contacts(self.marks.ids), f"{count:,} marked {noun} of {name}", choices, ""
