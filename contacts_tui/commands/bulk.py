"""`contacts-tui bulk`: one change to every contact person (or customer) the
filters keep, as the TUI's x does to the marked: every record checked by the
rules, one history entry per record, undone by ``--undo-last``.

It lists what it would change first; ``--dry-run`` stops there. On a
terminal it asks; a script says ``--yes``. Where a rule refuses records,
nothing changes unless the admin answers yes to the rest (or gives
``--skip-refused``).
"""

from __future__ import annotations

import argparse
import sys

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
    BulkPlan,
    Selection,
)
from contacts_tui.core.directory.history import admin_actor
from contacts_tui.core.directory.service import Directory
from contacts_tui.core.display import visible
from contacts_tui.core.errors import DirectoryError
from contacts_tui.core.process import reader_may_stop

from .listing import add_filter_options, filter_from

SHOWN = 20
"""Records listed before asking on a terminal; --dry-run lists them all."""
UNDO_HINT = "contacts-tui bulk --undo-last undoes it."


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "bulk",
        parents=[common],
        help="change every contact person (or customer) the filters keep at once",
        description="One change to every contact person the filters keep (as `list` shows them), or to every "
        "customer they keep (--deactivate, --activate). Each record is checked by the same rules as a change "
        "in the TUI and recorded in the history on its own. It lists what would change, then asks on a "
        "terminal; --yes for scripts. A record a rule refuses is named, and nothing changes unless you "
        "answer yes to the rest or give --skip-refused.",
        epilog="example: contacts-tui bulk --role bookkeeping --domain acme.example --not-category account "
        "--switch-on account",
    )
    add_filter_options(parser)
    parser.add_argument(
        "--search", metavar="TEXT", default="", help="only customers matching TEXT, as the TUI's search"
    )
    parser.add_argument(
        "--all", action="store_true", help="with no filter and no search: every customer (or contact person)"
    )
    change = parser.add_argument_group("the change (one of)").add_mutually_exclusive_group(required=True)
    change.add_argument("--switch-on", metavar="C", help="opt them in to category C")
    change.add_argument("--switch-off", metavar="C", help="opt them out of category C")
    change.add_argument("--receive-all", choices=("on", "off"), help="switch 'receive all' on or off")
    change.add_argument("--delete", action="store_true", help="delete them (soft: mail to them stops)")
    change.add_argument("--restore", action="store_true", help="restore them (with --status deleted)")
    change.add_argument("--deactivate", action="store_true", help="deactivate the customers the filters keep")
    change.add_argument("--activate", action="store_true", help="activate the customers the filters keep")
    change.add_argument(
        "--undo-last", action="store_true", help="undo your last bulk change from the command line (its records only)"
    )
    parser.add_argument("--dry-run", action="store_true", help="list what would change, change nothing")
    parser.add_argument("--yes", action="store_true", help="do not ask (for scripts)")
    parser.add_argument(
        "--skip-refused", action="store_true", help="where the rules refuse some records, change the others"
    )


def _action(args: argparse.Namespace) -> BulkAction:
    if args.switch_on:
        return BulkAction(SWITCH_ON, args.switch_on.strip().lower())
    if args.switch_off:
        return BulkAction(SWITCH_OFF, args.switch_off.strip().lower())
    if args.receive_all:
        return BulkAction(RECEIVE_ALL_ON if args.receive_all == "on" else RECEIVE_ALL_OFF)
    for verb, given in ((DELETE, args.delete), (RESTORE, args.restore), (DEACTIVATE, args.deactivate)):
        if given:
            return BulkAction(verb)
    return BulkAction(ACTIVATE)


def run_bulk(directory: Directory, args: argparse.Namespace) -> int:
    directory = directory.as_actor(admin_actor("cli"))
    labels = {category.key: category.label for category in directory.catalog.categories}
    if args.undo_last:
        last = directory.last_bulk_change()
        if last is None:
            raise DirectoryError(f"{directory.actor.who} made no bulk change from the command line to undo")
        done, selection = last
        action = done.inverse()
        print(f"Undoing the last bulk change ({done.describe(labels)}).", file=sys.stderr)
    else:
        chosen = filter_from(directory, args)
        if not chosen and not args.search.strip() and not args.all:
            raise DirectoryError("say which: give a filter (--role, --domain, …), --search TEXT, or --all")
        action, selection = _action(args), Selection.shown_by(args.search, chosen)
    terminal = sys.stdin.isatty() and sys.stderr.isatty()
    plan = directory.plan_bulk(selection, action, progress=_progress("checked") if terminal else None)
    _clear_progress(terminal)
    with reader_may_stop():  # `bulk --dry-run | head`
        _list(directory, plan, everything=args.dry_run or not terminal)
    _say_plan(plan, labels)
    if not plan.count:
        return 1 if plan.refused_count else 0
    if args.dry_run:
        print("Nothing changed (--dry-run).", file=sys.stderr)
        return 0
    if not args.yes:
        if not terminal:
            raise DirectoryError("not on a terminal to ask: give --yes to apply, or --dry-run to look first")
        rest = f" to the other {plan.count:,}" if plan.refused_count else ""
        if not _ask(f"Apply{rest}? [y/N] "):
            print("Nothing changed.", file=sys.stderr)
            return 1
    elif plan.refused_count and not args.skip_refused:
        print("Nothing changed: --skip-refused changes the others.", file=sys.stderr)
        return 1
    result = directory.apply_bulk(plan, progress=_progress("changed") if terminal else None)
    _clear_progress(terminal)
    print(f"{result.summary(labels)} {UNDO_HINT if result.count else ''}".rstrip(), file=sys.stderr)
    return 1 if result.error else 0


def _list(directory: Directory, plan: BulkPlan, *, everything: bool) -> None:
    """One line per record to change, as `list` writes them; on a terminal before asking, the first few."""
    wanted = plan.count if everything else min(plan.count, SHOWN)
    for start in range(0, wanted, 500):
        for record in directory.bulk_records(plan, start, min(500, wanted - start)):
            line = f"{record.customer_email}  {record.customer_name}"
            if record.email:
                line += f"  |  {record.name} <{record.email}>"
            print(visible(line))
    sys.stdout.flush()
    if wanted < plan.count:
        print(f"… and {plan.count - wanted:,} more (--dry-run lists them all)", file=sys.stderr)


def _say_plan(plan: BulkPlan, labels: dict[str, str]) -> None:
    action = plan.action
    if plan.count:
        print(action.question(plan.count, plan.customers, labels).rstrip("?") + ".", file=sys.stderr)
    else:
        print(f"Nothing to {action.describe(labels)}: no record the filters keep would change.", file=sys.stderr)
    if plan.unchanged:
        print(f"{plan.unchanged:,} left as they are: {action.unchanged(labels)}.", file=sys.stderr)
    if plan.refused_count:
        print(f"{plan.refused_count:,} refused by the rules:", file=sys.stderr)
        for refusal in plan.refused:
            print(visible(f"  {refusal.describe()}"), file=sys.stderr)
        if plan.refused_count > len(plan.refused):
            print(f"  … and {plan.refused_count - len(plan.refused):,} more", file=sys.stderr)


def _ask(question: str) -> bool:
    print(question, end="", file=sys.stderr, flush=True)
    try:
        answer = sys.stdin.readline()
    except KeyboardInterrupt:
        return False
    return answer.strip().lower() in ("y", "yes")


def _progress(word: str):
    def show(done: int, total: int | None) -> None:
        of = f" of {total:,}" if total else ""
        print(f"\r{done:,}{of} {word}…", end="", file=sys.stderr, flush=True)

    return show


def _clear_progress(terminal: bool) -> None:
    if terminal:
        print("\r\033[K", end="", file=sys.stderr, flush=True)
