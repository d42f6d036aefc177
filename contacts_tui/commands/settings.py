"""`contacts-tui init` and `contacts-tui settings`: the database, its catalog
and its contact person limit.

Both are stored in the database, so every program of it (the TUI, each
command, every relay) uses the same. These two commands are where
``--catalog`` and ``--max-contacts`` change them: the limit only if no
customer has more contact persons, the catalog saying what becomes of the
opt-ins of categories it lacks (they are kept, never deleted).
"""

from __future__ import annotations

import argparse

from contacts_tui.core.catalog import choose_catalog
from contacts_tui.core.directory import settings
from contacts_tui.core.directory.service import Directory
from contacts_tui.core.errors import DirectoryError
from contacts_tui.core.portal.signin import MailRoute, local_sender
from contacts_tui.core.validate import local_only_name


def run_init(directory: Directory, args: argparse.Namespace) -> int:
    from contacts_tui.core.migrate import schema_version

    for line in _changes(directory, args):
        print(line)
    customers, contacts = directory.counts()
    print(
        f"Database ready (schema version {schema_version(directory.database)}): "
        f"{customers:,} customers, {contacts:,} active contact persons."
    )
    return 0


def run_settings(directory: Directory, args: argparse.Namespace) -> int:
    changes = _changes(directory, args)
    for line in changes:
        print(line)
    if changes:
        return 0
    stored = directory.stored
    most = settings.most_contacts()
    print(f"Catalog: {stored.catalog_name}")
    width = max(len(key) for key in stored.catalog.keys)
    for category in stored.catalog.categories:
        types = ", ".join(t.key for t in category.types) or "(no email types: the key only)"
        print(f"  {category.key:<{width}}  {category.label}: {types}")
    print(f"Contact persons per customer: at most {stored.max_contacts} (the most a customer has now: {most})")
    print(f"Sign-in codes mailed from: {describe_sender(stored.mail_from)}")
    print(
        "Change them with --catalog payrequest|herotill|perfex|FILE, --max-contacts N (--dry-run first) "
        "and --mail-from ADDRESS."
    )
    return 0


def _changes(directory: Directory, args: argparse.Namespace) -> list[str]:
    """Apply the --catalog and --max-contacts given on the command line; what they did, line by line."""
    lines: list[str] = []
    dry_run = getattr(args, "dry_run", False)
    copies = dict(getattr(args, "map", None) or [])
    if copies and not hasattr(args, "catalog"):
        raise DirectoryError("--map goes with --catalog: it says where opt-ins of a category the new catalog lacks go")
    if hasattr(args, "max_contacts"):
        lines += settings.change_limit(directory.database, args.max_contacts, dry_run=dry_run)
    if hasattr(args, "catalog"):
        name, catalog = choose_catalog(args.catalog)
        lines += settings.change_catalog(directory.database, name, catalog, copies=copies, dry_run=dry_run)
    if getattr(args, "mail_from", None) is not None:
        lines += settings.change_mail_from(directory.database, args.mail_from, dry_run=dry_run)
        sender = MailRoute("", 0, args.mail_from.strip()).from_address
        if not dry_run and local_only_name(sender.rpartition("@")[2]):
            lines.append(f"Warning: {local_sender(sender)}")
    if lines and not dry_run:
        directory.refresh_settings()
    if lines and dry_run:
        lines.append("Dry run: nothing was changed.")
    return lines


def describe_sender(stored: str) -> str:
    """The sender of the code mails as stored, or the default and how to set one."""
    if stored:
        return stored
    default = MailRoute("", 0).from_address
    return f"{default} (the default: portal@ this host's name; set one with --mail-from)"


def copy_option(text: str) -> tuple[str, str]:
    """``--map OLD=NEW``."""
    old, equals, new = text.partition("=")
    if not equals or not old.strip() or not new.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not OLD=NEW (e.g. account=general)")
    return old.strip().lower(), new.strip().lower()
