"""Settings shared by the CLI, the TUI and the relay, from options or environment."""

from __future__ import annotations

import os
from dataclasses import dataclass

from .catalog import load_catalog
from .db import open_database
from .directory import Directory
from .errors import DirectoryError
from .rules import DEFAULT_MAX_CONTACTS


@dataclass(frozen=True)
class Settings:
    db_url: str | None = None
    catalog_path: str | None = None
    max_contacts: int = DEFAULT_MAX_CONTACTS

    @classmethod
    def from_env(
        cls, db_url: str | None = None, catalog_path: str | None = None, max_contacts: int | None = None
    ) -> "Settings":
        """Options win over CONTACTS_DB, CONTACTS_CATALOG and CONTACTS_MAX_CONTACTS."""
        if max_contacts is None:
            raw = os.environ.get("CONTACTS_MAX_CONTACTS", "").strip()
            try:
                max_contacts = int(raw) if raw else DEFAULT_MAX_CONTACTS
            except ValueError:
                raise DirectoryError(f"CONTACTS_MAX_CONTACTS must be a whole number, not {raw!r}") from None
        if max_contacts < 1:
            raise DirectoryError("the contact person limit must be at least 1")
        return cls(
            db_url or os.environ.get("CONTACTS_DB") or None,
            catalog_path or os.environ.get("CONTACTS_CATALOG") or None,
            max_contacts,
        )


def open_directory(settings: Settings, *, must_exist: bool = False) -> Directory:
    """Load the catalog, open (and migrate) the database, build the directory.

    ``must_exist``: refuse an SQLite file that is not there (see open_database)."""
    catalog = load_catalog(settings.catalog_path)
    database = open_database(settings.db_url, must_exist=must_exist)
    return Directory(database, catalog, settings.max_contacts)
