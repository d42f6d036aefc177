"""`contacts-relay preview`: who the relay would add to a message, without sending it."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

from contacts_tui.core.directory.service import Directory
from contacts_tui.core.display import visible, visible_lines
from contacts_tui.core.mail.verdict import Verdict
from contacts_tui.core.options import Options, open_directory
from contacts_tui.core.records import Resolution
from contacts_tui.core.tagging import store as tagging_store
from contacts_tui.core.tagging.engine import NO_RULES, RuleSet, Tagging

from ..config import ConfigError, default
from ..rewrite import CopyPlan, header_addresses, read_category, split_message, write_copy
from ..server import decision
from ..server.decision import DEFAULT_LIMITS, Limits, Reading
from ..server.replies import Answer
from .options import env_value


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    preview = commands.add_parser(
        "preview", parents=[common], help="show who would be added to a message, without sending it"
    )
    preview.add_argument("message", metavar="MESSAGE.eml", help="the message file (- for standard input)")
    preview.add_argument(
        "--rcpt",
        metavar="ADDR",
        action="append",
        default=[],
        help="envelope recipient; repeatable (default: the To and Cc addresses)",
    )
    preview.add_argument(
        "--header",
        metavar="NAME",
        default=env_value("RELAY_HEADER", default("category_header")),
        help="category header name (RELAY_HEADER; default %(default)s)",
    )
    preview.add_argument(
        "--sender",
        metavar="ADDR",
        default="",
        help="envelope sender, as a tagging rule on From sees it (default: none; the From field counts too)",
    )
    preview.add_argument(
        "--no-smtputf8",
        dest="smtputf8",
        action="store_false",
        help="as for a sender that does not use SMTPUTF8 (default: one that does)",
    )


def run(args: argparse.Namespace, options: Options) -> int:
    # It only reads: a mistyped --db is an error, not an empty directory.
    directory = open_directory(options, must_exist=True)
    data = read_message(args.message)
    rules = RuleSet(tagging_store.current_rules())
    found = assess(directory, data, args.rcpt, args.header, sender=args.sender, rules=rules, smtputf8=args.smtputf8)
    show(found, args.header)
    return 0


@dataclass(frozen=True, slots=True)
class Assessment:
    """What ``serve`` would do with a message: its refusal, or its category and each copy with its verdict."""

    recipients: list[str]
    reading: Reading
    refusal: Answer | None = None
    category: str | None = None
    """The category header's value, or the one a tagging rule gave it (None: it has none)."""
    resolution: Resolution | None = None
    copies: list[tuple[CopyPlan, Verdict]] = field(default_factory=list)
    tagging: Tagging = NO_RULES
    """What the tagging rules said of a message without a category header (each verdict says it too)."""


def assess(
    directory: Directory,
    original: bytes,
    rcpt: list[str],
    header: str,
    *,
    sender: str = "",
    rules: RuleSet | None = None,
    smtputf8: bool = True,
    limits: Limits = DEFAULT_LIMITS,
) -> Assessment:
    """The steps ``serve`` takes at the end of DATA (relay/server/decision.py), on a message from a file.

    Without ``rcpt`` the envelope recipients are the To and Cc addresses;
    ``sender`` is the envelope sender a tagging rule on From sees;
    ``rules`` the tagging rules in force (None: none were asked, as a relay without rules).
    """
    reading = decision.read(original, limits)
    recipients = rcpt or header_addresses(reading.data)
    if reading.refusal:
        return Assessment(recipients, reading, refusal=reading.refusal)
    category = read_category(reading.headers, header, known=directory.catalog.resolve)
    tagging = NO_RULES
    if category is None and rules is not None:
        # The relay's own question, with the rules in force: a header always wins over every rule.
        tagging = rules.tagging(reading.headers, sender, recipients)
        category = tagging.category
    resolution = directory.resolve(recipients, category) if category else None
    copies = decision.plan(reading.headers, recipients, category, resolution, smtputf8, tagging)
    return Assessment(recipients, reading, None, category, resolution, copies, tagging)


def show(found: Assessment, header: str) -> int:
    """Print an assessment: the category (from the header, or the tagging rule that gave it one), the
    customers, each copy's people and verdict, the headers after. The exit status: 0."""
    print(f"Envelope recipients: {visible(', '.join(found.recipients)) or '(none)'}")
    if found.refusal:
        print(visible(f"The relay would refuse it: {found.refusal.text}"))
        return 0
    category, resolution, copies = found.category, found.resolution, found.copies
    if not category:
        print(f"No {header} header{found.tagging.untagged()}: the message would pass unchanged.")
    else:
        if found.tagging.tag:
            # The words each copy's verdict starts with (engine.Tag.describe), as the relay log will have them.
            print(visible(f"No {header} header: {'; '.join(found.tagging.reasons())}."))
        if resolution is None or resolution.category is None:
            print(f"Category: {visible(category)} (unknown)")
        elif resolution.category == category.strip().lower():
            print(f"Category: {resolution.category}")
        else:
            print(f"Category: {visible(category)} (an email type of {resolution.category})")
    for customer in resolution.customers if resolution else ():
        print(visible(f"Customer: {customer.name} <{customer.email}>") + ("" if customer.active else " (inactive)"))
    if len(copies) > 1:
        print(
            f"It would go out as {len(copies)} copies, one per customer, "
            "so that no customer sees another's contact persons."
        )
    for number, (plan, verdict) in enumerate(copies, start=1):
        if len(copies) > 1:
            customers = ", ".join(c.name for c in plan.audience.customers if plan.added)
            print(
                "\n"
                + visible(f"Copy {number} of {len(copies)}, to {', '.join(plan.recipients)}")
                + (visible(f" ({customers})") if customers else "")
                + ":"
            )
        for person in verdict.added:
            print(visible(f"  + {person.label}: {person.reason}"))
        for address, why in plan.skipped:
            print(visible(f"  - {address}: {why}"))
        # The verdict as the relay log will have it, word for word.
        print(visible(f"Decision: {verdict.decision}: {verdict.reason}"))
        if verdict.added and any(not address.isascii() for address in plan.header_added):
            print("Some addresses need SMTPUTF8; a sender that does not use it gets them differently (--no-smtputf8).")
    if not category:
        return 0
    for number, (plan, _) in enumerate(copies, start=1):
        which = f"of copy {number} " if len(copies) > 1 else ""
        print(f"\nHeaders {which}after the rewrite (the relay also puts a Received header on top):\n")
        header_block, _ = split_message(write_copy(found.reading.data, found.reading.headers, plan))
        sys.stdout.write(visible_lines(header_block.decode("utf-8", errors="replace")))
    return 0


def read_message(path: str) -> bytes:
    """The message in the file ``path`` (``-``: standard input)."""
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
