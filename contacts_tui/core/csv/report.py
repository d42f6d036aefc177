"""What an import did, or would do, and why it stopped."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import DirectoryError
from .dialect import CsvFormat
from .read import RowError

CHANGES_KEPT = 1_000


@dataclass
class ImportReport:
    rows: int = 0
    customers_created: int = 0
    customers_updated: int = 0
    contacts_added: int = 0
    contacts_updated: int = 0
    contacts_restored: int = 0
    contacts_removed: int = 0
    rows_skipped: int = 0
    sync_held: int = 0  # customers --sync left alone because a row of theirs was skipped
    errors: list[RowError] = field(default_factory=list)
    written: bool = False
    # What changes, one line each, for --dry-run to show; the first
    # CHANGES_KEPT only, so a dry run of 300k rows keeps its memory.
    changes: list[str] = field(default_factory=list)
    changes_left_out: int = 0
    csv_format: CsvFormat = field(default_factory=CsvFormat)
    """The separator and encoding the file was read with."""

    def change(self, text: str) -> None:
        if len(self.changes) < CHANGES_KEPT:
            self.changes.append(text)
        else:
            self.changes_left_out += 1

    def summary(self) -> str:
        verb = "" if self.written else "would be "
        parts = [
            f"{self.rows:,} rows read",
            f"customers: {self.customers_created:,} {verb}created, {self.customers_updated:,} {verb}updated",
            f"contact persons: {self.contacts_added:,} {verb}added, {self.contacts_updated:,} {verb}updated, "
            f"{self.contacts_restored:,} {verb}restored, {self.contacts_removed:,} {verb}removed",
        ]
        if self.rows_skipped:
            parts.append(f"{self.rows_skipped:,} invalid rows skipped")
        if self.sync_held:
            parts.append(
                f"--sync removed nothing at {self.sync_held:,} customer(s) with a skipped row"
                if self.sync_held > 0
                else "--sync removed nothing: a skipped row names no customer"
            )
        return "; ".join(parts)


class ImportFailed(DirectoryError):
    """The file has errors and nothing was written."""

    def __init__(self, report: ImportReport):
        self.report = report
        super().__init__(f"{len(report.errors)} problem(s) in the file; nothing was imported")
