"""`contacts-relay chaos`: make a capture relay fail on purpose, for testers (set, list, clear)."""

from __future__ import annotations

import argparse

from contacts_tui.core.display import json_line, visible
from contacts_tui.core.errors import ValidationError
from contacts_tui.core.mail import chaos
from contacts_tui.core.options import Options, open_directory

from ..config import ConfigError


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    rules = commands.add_parser("chaos", parents=[common], help="make a capture relay fail on purpose, for testers")
    actions = rules.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("set", parents=[common], help="add a rule: a reply for matching mail at a stage")
    add.add_argument("--stage", choices=chaos.STAGES, default="data", help="when to answer (default data)")
    add.add_argument("--reply", required=True, help="the SMTP reply, e.g. '451 4.3.0 Try again later'")
    add.add_argument("--sender", default="", help="only mail from this address (shell pattern: *@shop.example)")
    add.add_argument("--recipient", default="", help="only mail to this address (pattern)")
    add.add_argument("--category", default="", help="only this category or email type (pattern)")
    add.add_argument("--probability", type=float, default=1.0, help="share of matching mail to fail (default 1)")
    add.add_argument("--delay", type=float, default=0.0, help="seconds to wait before answering")
    listing = actions.add_parser("list", parents=[common], help="the rules in force")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    clear = actions.add_parser("clear", parents=[common], help="remove every rule, or one")
    clear.add_argument("id", type=int, nargs="?", help="the rule to remove (default: all)")


def run(args: argparse.Namespace, options: Options) -> int:
    open_directory(options, must_exist=True)
    if args.action == "set":
        try:
            new = chaos.rule(
                args.stage, args.reply, args.sender, args.recipient, args.category, args.probability, args.delay
            )
        except ValidationError as exc:
            raise ConfigError(str(exc)) from None
        added = chaos.add_rule(new)
        print(f"Chaos rule {added.id}: {visible(added.describe())}. Capture relays apply it within a second.")
        return 0
    if args.action == "clear":
        gone = chaos.clear_rules(args.id)
        if args.id is not None and not gone:
            raise ConfigError(f"there is no chaos rule {args.id}")
        print(f"Removed {gone} chaos rule{'' if gone == 1 else 's'}.")
        return 0
    found = chaos.current_rules()
    if args.json:
        for rule in found:
            print(
                json_line(
                    {
                        "id": rule.id,
                        "stage": rule.stage,
                        "reply": rule.reply,
                        "sender": rule.sender,
                        "recipient": rule.recipient,
                        "category": rule.category,
                        "probability": rule.probability,
                        "delay": rule.delay,
                    }
                )
            )
        return 0
    if not found:
        print("No chaos rules: capture relays take all mail.")
    for rule in found:
        print(f"{rule.id:>4}  {visible(rule.describe())}")
    return 0
