"""`contacts-relay preview`: who the relay would add to a message, without sending it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from contacts_tui.core.directory.service import Directory
from contacts_tui.core.display import visible, visible_lines
from contacts_tui.core.options import Options, open_directory
from contacts_tui.core.tagging import store as tagging_store
from contacts_tui.core.tagging.engine import RuleSet

from ..config import ConfigError, default
from ..rewrite import CopyPlan, HeaderBlock, header_addresses, plan_copies, read_category, split_message, write_copy
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
    return show(directory, data, args.rcpt, args.sender, args.header, rules, utf8=args.smtputf8)


def show(
    directory: Directory,
    data: bytes,
    rcpt: list[str],
    sender: str,
    header: str,
    rules: RuleSet,
    *,
    utf8: bool,
) -> int:
    """Print what the relay would do with ``data``: its category (from the header, or the tagging
    rule that gives it one), the customers, whom it adds and why, and the headers after the rewrite."""
    recipients = rcpt or header_addresses(data)
    category = read_category(data, header, known=directory.catalog.resolve)
    print(f"Envelope recipients: {visible(', '.join(recipients)) or '(none)'}")
    if not category:
        # The relay's own question, with the rules in force (engine.RuleSet.tag).
        tagging = rules.tagging(HeaderBlock.of(data), sender, recipients)
        if tagging.category is None:
            print(f"No {header} header{tagging.untagged()}: the message would pass unchanged.")
            return 0
        print(visible(f"No {header} header: {'; '.join(tagging.reasons())}."))
        category = tagging.category
    resolution = directory.resolve(recipients, category)
    if resolution.category is None:
        print(f"Category: {visible(category)} (unknown)")
    elif resolution.category == category.strip().lower():
        print(f"Category: {resolution.category}")
    else:
        print(f"Category: {visible(category)} (an email type of {resolution.category})")
    for customer in resolution.customers:
        print(visible(f"Customer: {customer.name} <{customer.email}>") + ("" if customer.active else " (inactive)"))
    headers = HeaderBlock.of(data)
    plans = plan_copies(headers, recipients, resolution.audiences, utf8)
    if len(plans) > 1:
        print(
            f"It would go out as {len(plans)} copies, one per customer, "
            "so that no customer sees another's contact persons."
        )
    for number, plan in enumerate(plans, start=1):
        if len(plans) > 1:
            customers = ", ".join(c.name for c in plan.audience.customers if plan.added)
            print(
                "\n"
                + visible(f"Copy {number} of {len(plans)}, to {', '.join(plan.recipients)}")
                + (visible(f" ({customers})") if customers else "")
                + ":"
            )
        _preview_copy(plan, utf8, resolution.reason)
    for number, plan in enumerate(plans, start=1):
        which = f"of copy {number} " if len(plans) > 1 else ""
        print(f"\nHeaders {which}after the rewrite (the relay also puts a Received header on top):\n")
        block, _ = split_message(write_copy(data, headers, plan))
        sys.stdout.write(visible_lines(block.decode("utf-8", errors="replace")))
    return 0


def _preview_copy(plan: CopyPlan, utf8: bool, reason: str) -> None:
    """Who one copy adds and why, who it leaves out, and where they go."""
    for one in plan.added:
        person = one.person
        print(visible(f"  + {person.name} <{person.email}>: {person.reason}"))
        if one.address != person.email:
            print(visible(f"    written as {one.address}: the sender does not use SMTPUTF8"))
        elif not one.in_header and not (plan.cc_locked_by_dkim or plan.cc_malformed):
            print("    envelope only: the address needs SMTPUTF8, which the sender does not use")
    for address, why in plan.skipped:
        print(visible(f"  - {address}: {why}"))
    for note in plan.audience.notes:
        print(visible(f"  note: {note}"))
    if not plan.added:
        print(visible(f"Nobody added: {plan.audience.reason or reason or 'everyone opted in is already a recipient'}."))
    elif plan.cc_locked_by_dkim:
        print("A DKIM signature covers Cc: they would be added to the envelope only.")
    elif plan.cc_malformed:
        print("The Cc field is malformed (something in it is not closed): they would be added to the envelope only.")
    elif utf8 and not all(address.isascii() for address in plan.header_added):
        print("Some addresses need SMTPUTF8; a sender that does not use it gets them differently (--no-smtputf8).")


def read_message(path: str) -> bytes:
    """The message in the file ``path`` (``-``: standard input)."""
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
