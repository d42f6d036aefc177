"""`contacts-relay rules`: tagging rules for senders that cannot add a category header.

list, add, edit, remove, enable, disable and move change the rules every
relay uses from its next message on; test shows what the relay would do with
a message file, and try what a rule would have done to the mail of the past.
Rules are named by their number in the order (``rules list``).
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from contacts_tui.core.directory.history import admin_actor, parse_since
from contacts_tui.core.directory.service import Directory
from contacts_tui.core.display import json_line, visible
from contacts_tui.core.errors import ValidationError
from contacts_tui.core.models import utcnow
from contacts_tui.core.options import Options, open_directory
from contacts_tui.core.process import at_least_one
from contacts_tui.core.tagging import store
from contacts_tui.core.tagging.engine import RuleSet
from contacts_tui.core.tagging.rule import CONTAINS, PATTERN, RuleInput, TaggingRule, check_rule
from contacts_tui.core.tagging.trial import LAST_WEEK, past_messages, try_rule
from contacts_tui.core.times import local_time

from ..config import ConfigError, default
from ..rewrite import HeaderBlock, header_addresses
from . import preview
from .options import env_value

SHOWN = 20
"""Messages ``rules try`` lists by default; the summary counts them all."""


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    rules = commands.add_parser(
        "rules",
        parents=[common],
        help="tagging rules: a category for mail from senders that cannot add the header",
        description="Tagging rules give a message without a category header a category: the first enabled rule "
        "whose every condition holds wins, and a header always wins over every rule. A change reaches every "
        "relay with its next message. Rules are named by their number in the order (rules list).",
    )
    actions = rules.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", parents=[common], help="the rules in their order")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")

    add = actions.add_parser("add", parents=[common], help="add a rule (disabled unless --enable: try it first)")
    add.add_argument("--category", required=True, help="the category or email type to tag with")
    _conditions(add)
    add.add_argument("--at", metavar="N", type=at_least_one, help="its number in the order (default: last)")
    add.add_argument("--enable", action="store_true", help="enable it at once")

    edit = actions.add_parser("edit", parents=[common], help="change a rule's category or conditions")
    edit.add_argument("rule", metavar="RULE", type=at_least_one, help="the rule's number")
    edit.add_argument("--category", help="the category or email type to tag with")
    _conditions(edit, editing=True)

    for name, text in (("remove", "delete a rule"), ("enable", "turn a rule on"), ("disable", "turn a rule off")):
        one = actions.add_parser(name, parents=[common], help=text)
        one.add_argument("rule", metavar="RULE", type=at_least_one, help="the rule's number")
    move = actions.add_parser("move", parents=[common], help="give a rule another place in the order")
    move.add_argument("rule", metavar="RULE", type=at_least_one, help="the rule's number")
    move.add_argument("to", metavar="N", type=at_least_one, help="its new number (1 is tried first)")

    test = actions.add_parser(
        "test", parents=[common], help="which rule would tag a message file, and whom the relay would copy"
    )
    test.add_argument("message", metavar="FILE.eml", help="the message file (- for standard input)")
    test.add_argument("--rcpt", metavar="ADDR", action="append", default=[], help="envelope recipient; repeatable")
    test.add_argument("--sender", metavar="ADDR", default="", help="envelope sender (the From field counts too)")
    test.add_argument(
        "--category-header",
        metavar="NAME",
        default=env_value("RELAY_HEADER", default("category_header")),
        help="the category header's name (RELAY_HEADER; default %(default)s)",
    )

    trial = actions.add_parser(
        "try", parents=[common], help="what a rule (saved or --new) would have tagged in the mail of the past"
    )
    trial.add_argument("rule", metavar="RULE", type=at_least_one, nargs="?", help="a saved rule's number")
    trial.add_argument("--new", action="store_true", help="a rule not saved yet, from the options below")
    trial.add_argument("--category", help="--new: the category or email type to tag with")
    _conditions(trial)
    trial.add_argument("--at", metavar="N", type=at_least_one, help="--new: its number in the order (default: last)")
    trial.add_argument(
        "--since",
        metavar="DATE",
        help="from then on: YYYY-MM-DD or 'YYYY-MM-DD HH:MM' (local time), or ISO 8601 (default: a week ago)",
    )
    trial.add_argument("--show", metavar="N", type=int, default=SHOWN, help=f"messages listed (default {SHOWN})")


def _conditions(parser: argparse.ArgumentParser, *, editing: bool = False) -> None:
    clear = " ('' removes it)" if editing else ""
    # Not given: None, argparse's default (edit keeps what the rule has).
    parser.add_argument(
        "--from", dest="sender", metavar="ADDR", help=f"envelope sender or From: an address or *@domain{clear}"
    )
    subject = parser.add_mutually_exclusive_group()
    subject.add_argument("--subject", metavar="TEXT", help=f"the Subject contains TEXT{clear}")
    subject.add_argument("--subject-pattern", metavar="RE", help="the Subject matches the RE2 pattern RE")
    header = parser.add_mutually_exclusive_group()
    header.add_argument("--header", metavar="'NAME: TEXT'", help=f"header NAME contains TEXT{clear}")
    header.add_argument("--header-pattern", metavar="'NAME: RE'", help="header NAME matches the RE2 pattern RE")
    parser.add_argument("--recipient-domain", metavar="DOMAIN", help=f"an envelope recipient is at DOMAIN{clear}")


def run(args: argparse.Namespace, options: Options) -> int:
    directory = open_directory(options, must_exist=True)
    action = args.action
    if action == "list":
        return _list(args.json)
    if action == "test":
        return _test(directory, args)
    if action == "try":
        return _try(directory, args)
    actor = admin_actor("cli")
    draft = None
    try:
        if action == "add":
            draft = replace(_draft(args, RuleInput(category=args.category)), enabled=args.enable)
            added = store.add_rule(draft, directory.catalog, actor, number=args.at)
            state = "enabled: relays use it from their next message" if added.enabled else "disabled"
            print(visible(f"Added rule {added.number}: {_line(added)} ({state})."))
            if not added.enabled:
                print(f"Try it on last week's mail: contacts-relay rules try {added.number}")
            return 0
        rule = store.rule_at(args.rule)
        if action == "edit":
            base = rule.as_input() if args.category is None else replace(rule.as_input(), category=args.category)
            draft = _draft(args, base)
            changed = store.edit_rule(rule.id, draft, directory.catalog, actor)
            print(visible(f"Rule {changed.number}: {_line(changed)}."))
        elif action == "remove":
            store.remove_rule(rule.id, actor)
            print(visible(f"Removed rule {rule.number}: {_line(rule)}."))
        elif action in ("enable", "disable"):
            changed = store.set_enabled(rule.id, action == "enable", actor)
            after = "relays use it from their next message" if changed.enabled else "relays no longer use it"
            print(visible(f"Rule {changed.number} {action}d: {_line(changed)}; {after}."))
        elif action == "move":
            moved = store.move_rule(rule.id, args.to, actor)
            print(visible(f"Rule {rule.number} is now rule {moved.number}: {_line(moved)}."))
    except ValidationError as exc:
        raise ConfigError(_errors(exc, draft)) from None
    return 0


def _draft(args: argparse.Namespace, base: RuleInput) -> RuleInput:
    """``base`` with the conditions the options give (in ``edit``, only those given)."""
    changes: dict = {}
    if args.sender is not None:
        changes["sender"] = args.sender
    if args.subject is not None:
        changes |= {"subject": args.subject, "subject_match": CONTAINS}
    if args.subject_pattern is not None:
        changes |= {"subject": args.subject_pattern, "subject_match": PATTERN}
    for option, mode in ((args.header, CONTAINS), (args.header_pattern, PATTERN)):
        if option is None:
            continue
        name, colon, value = option.partition(":")
        if option and not colon:
            raise ConfigError(
                f"--header{'-pattern' if mode == PATTERN else ''} takes 'NAME: TEXT', like 'X-Mailer: PayRequest'"
            )
        changes |= {"header_name": name.strip(), "header_value": value.strip(), "header_match": mode}
    if args.recipient_domain is not None:
        changes["recipient_domain"] = args.recipient_domain
    return replace(base, **changes)


def _errors(exc: ValidationError, draft: RuleInput | None = None) -> str:
    """The errors of a rule, each after the option it is about."""
    pattern = draft is not None and draft.subject_match == PATTERN
    header = "--header-pattern" if draft is not None and draft.header_match == PATTERN else "--header"
    options = {
        "category": "--category",
        "sender": "--from",
        "subject": "--subject-pattern" if pattern else "--subject",
        "header_name": header,
        "header_value": header,
        "recipient_domain": "--recipient-domain",
    }
    return "; ".join(f"{options[e.field]}: {e.message}" if e.field in options else e.message for e in exc.errors)


def _line(rule: TaggingRule) -> str:
    return f"{rule.describe()} -> {rule.category}"


def _list(as_json: bool) -> int:
    rules = store.current_rules()
    if as_json:
        for rule in rules:
            print(json_line(rule.as_json()))
        return 0
    if not rules:
        print("No tagging rules: messages without a category header pass unchanged. Add one with rules add.")
        return 0
    width = max(len(rule.category) for rule in rules)
    print(f"{'#':>3}  {'on':3}  {'category':{width}}  conditions")
    for rule in rules:
        print(
            visible(
                f"{rule.number:>3}  {'on' if rule.enabled else 'off':3}  {rule.category:{width}}  {rule.describe()}"
            )
        )
    return 0


def _test(directory: Directory, args: argparse.Namespace) -> int:
    data = preview.read_message(args.message)
    rules = store.current_rules()
    found = preview.assess(directory, data, args.rcpt, args.category_header, sender=args.sender, rules=RuleSet(rules))
    status = preview.show(found, args.category_header)
    # A rule still off that would take this message: what enabling it would change.
    headers = HeaderBlock.of(data)
    recipients = args.rcpt or header_addresses(data)
    for rule in rules:
        if not rule.enabled and RuleSet([replace(rule, enabled=True)]).tag(headers, args.sender, recipients):
            print()
            print(visible(f"Rule {rule.number} ({_line(rule)}) matches too, but it is disabled."))
    return status


def _try(directory: Directory, args: argparse.Namespace) -> int:
    if args.new == (args.rule is not None):
        raise ConfigError("give a saved rule's number, or --new with the rule's options")
    rules = store.current_rules()
    if args.new:
        draft = _draft(args, RuleInput(category=args.category or ""))
        try:
            candidate = check_rule(draft, directory.catalog)
        except ValidationError as exc:
            raise ConfigError(_errors(exc, draft)) from None
        candidate = replace(candidate, number=args.at or 0)
    else:
        candidate = store.rule_at(args.rule)
    now = utcnow()
    try:
        since = parse_since(args.since) if args.since else now - LAST_WEEK
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    past = past_messages(since)
    trial = try_rule(candidate, rules, past, directory.resolve, since=since)
    assert trial is not None
    state = "" if candidate.id is None else (" (enabled)" if candidate.enabled else " (disabled)")
    print(visible(f"Rule {trial.rule.number}{state}: {_line(trial.rule)}"))
    for hit in trial.hits[: max(0, args.show)]:
        message = hit.message
        print(
            visible(
                f"  {local_time(message.received_at)}  {message.sender or '<>'} -> {', '.join(message.recipients)}"
                f"  +{hit.copies}  {message.subject}"
            )
        )
    more = len(trial.hits) - max(0, args.show)
    if more > 0:
        print(f"  … and {more:,} more")
    summary = trial.summary(now)
    print(summary[0].upper() + summary[1:] + ".")
    return 0
