"""What the command line and the environment ask for, shared by the CLI, the TUI and the relay.

The database comes from here. The catalog and the contact limit are the
database's settings (directory/settings.py); an option or environment variable for
them only fills in a database that holds none yet, and otherwise must agree
with it: ``contacts-tui settings`` is where they change.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .catalog import Catalog, choose_catalog
from .db import open_database
from .directory import settings
from .directory.rules import checked_limit
from .directory.service import Directory
from .errors import DirectoryError
from .tagging import store as tagging_store


@dataclass(frozen=True)
class Options:
    db_url: str | None = None
    catalog_path: str | None = None
    """A shipped catalog's name (payrequest, herotill, perfex) or a TOML file; None: not asked for."""
    max_contacts: int | None = None
    """None: not asked for."""

    @classmethod
    def from_env(
        cls, db_url: str | None = None, catalog_path: str | None = None, max_contacts: int | None = None
    ) -> Options:
        """Options win over CONTACTS_DB, CONTACTS_CATALOG and CONTACTS_MAX_CONTACTS."""
        if max_contacts is None:
            raw = os.environ.get("CONTACTS_MAX_CONTACTS", "").strip()
            try:
                max_contacts = int(raw) if raw else None
            except ValueError:
                raise DirectoryError(f"CONTACTS_MAX_CONTACTS must be a whole number, not {raw!r}") from None
        if max_contacts is not None:
            checked_limit(max_contacts)
        return cls(
            db_url or os.environ.get("CONTACTS_DB") or None,
            catalog_path or os.environ.get("CONTACTS_CATALOG") or None,
            max_contacts,
        )

    def catalog(self) -> tuple[str, Catalog] | None:
        """The catalog asked for, loaded (raises CatalogError), or None."""
        return choose_catalog(self.catalog_path) if self.catalog_path else None


def open_directory(options: Options, *, must_exist: bool = False, check: bool = True) -> Directory:
    """Open (and migrate) the database and build the directory over its stored settings.

    A database without stored settings takes the catalog and limit asked
    for (or the defaults). ``check``: refuse a catalog or limit asked for that
    differs from the stored one (``contacts-tui settings`` passes False: it
    changes them). ``must_exist``: refuse an SQLite file that is not there
    (see open_database)."""
    catalog = options.catalog()  # a bad file is reported before the database is touched
    database = open_database(options.db_url, must_exist=must_exist)
    try:
        first_catalog = settings.adopt(database, catalog, options.max_contacts)
        if first_catalog:
            # A new database: the example tagging rules of its catalog, disabled.
            tagging_store.add_examples(database, first_catalog)
        directory = Directory(database)
        if check:
            settings.check(directory.stored, catalog, options.max_contacts)
    except BaseException:
        database.close()
        raise
    return directory
