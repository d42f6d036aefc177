"""The `contacts-relay` subcommands that look rather than serve:
preview, log, queue, messages and passwd."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from contacts_tui.core.display import json_line, visible, visible_lines
from contacts_tui.core.mail import relay_log
from contacts_tui.core.mail.status import Decision
from contacts_tui.core.options import Options, open_directory
from contacts_tui.core.process import at_least_one, lock_held, reader_may_stop
from contacts_tui.core.times import from_epoch, local_time, local_time_soon

from ..config import ConfigError, default, default_spool_dir
from ..queue import QueuedMessage, SpoolError, deletes_requested, read_queue, request_delete, request_retry_now
from ..queue.layout import all_spools, lock_path
from ..rewrite import header_addresses, read_category, rewrite, split_message
from ..server.access import set_password
from .messages import add_messages_command, run_messages
from .options import env_value


def add_inspect_commands(commands, common: argparse.ArgumentParser) -> None:
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
        "--no-smtputf8",
        dest="smtputf8",
        action="store_false",
        help="as for a sender that does not use SMTPUTF8 (default: one that does)",
    )

    log = commands.add_parser("log", parents=[common], help="what the relay did with recent messages")
    log.add_argument("--limit", metavar="N", type=at_least_one, default=20, help="how many, newest first (default 20)")
    log.add_argument("--search", metavar="TEXT", default="", help="only entries mentioning TEXT")
    log.add_argument("--status", metavar="STATUS", default="", help="only this status (queued, delivered, ...)")
    log.add_argument("--json", action="store_true", help="one JSON object per line")

    queue = commands.add_parser("queue", parents=[common], help="messages waiting in the spool, and why")
    queue.add_argument("--spool", metavar="DIR", default=None, help="spool directory (RELAY_SPOOL; default as serve)")
    action = queue.add_mutually_exclusive_group()
    action.add_argument("--retry-now", action="store_true", help="try every waiting message again now")
    action.add_argument("--delete", metavar="ID", help="give up on one message (no bounce is sent)")
    queue.add_argument("--json", action="store_true", help="one JSON object per line")

    add_messages_command(commands, common, at_least_one)

    passwd = commands.add_parser(
        "passwd", help="add or change a user in an auth file (asks for the password; never on the command line)"
    )
    passwd.add_argument("user")
    passwd.add_argument("--auth-file", metavar="FILE", required=True)


def run_inspect_command(args: argparse.Namespace, options: Options) -> int:
    # `log | head -1` or `messages show 6 | head -3` may stop reading early.
    with reader_may_stop():
        return _run(args, options)
    return 0


def _run(args: argparse.Namespace, options: Options) -> int:
    if args.command == "passwd":
        return _passwd(args)
    if args.command == "queue":
        return _queue(args)
    # These only read: a mistyped --db is an error, not an empty log or inbox.
    directory = open_directory(options, must_exist=True)
    if args.command == "preview":
        return _preview(args, directory)
    if args.command == "log":
        return _log(args)
    return run_messages(args, directory)


def _preview(args, directory) -> int:
    data = sys.stdin.buffer.read() if args.message == "-" else _read(args.message)
    recipients = args.rcpt or header_addresses(data)
    category = read_category(data, args.header, known=directory.catalog.resolve)
    print(f"Envelope recipients: {visible(', '.join(recipients)) or '(none)'}")
    if not category:
        print(f"No {args.header} header: the message would pass unchanged.")
        return 0
    resolution = directory.resolve(recipients, category)
    if resolution.category is None:
        print(f"Category: {visible(category)} (unknown)")
    elif resolution.category == category.strip().lower():
        print(f"Category: {resolution.category}")
    else:
        print(f"Category: {visible(category)} (an email type of {resolution.category})")
    for customer in resolution.customers:
        print(visible(f"Customer: {customer.name} <{customer.email}>") + ("" if customer.active else " (inactive)"))
    utf8 = args.smtputf8
    result = rewrite(data, recipients, resolution.additions, utf8_headers=utf8)
    for copy in result.copies:
        person = copy.person
        print(visible(f"  + {person.name} <{person.email}>: {person.reason}"))
        if copy.address != person.email:
            print(visible(f"    written as {copy.address}: the sender does not use SMTPUTF8"))
        elif not copy.in_header and not (result.cc_locked_by_dkim or result.cc_malformed):
            print("    envelope only: the address needs SMTPUTF8, which the sender does not use")
    for address, why in result.skipped:
        print(visible(f"  - {address}: {why}"))
    for note in resolution.notes:
        print(visible(f"  note: {note}"))
    if not result.envelope_added:
        print(visible(f"Nobody added: {resolution.reason}."))
    elif result.cc_locked_by_dkim:
        print("A DKIM signature covers Cc: they would be added to the envelope only.")
    elif result.cc_malformed:
        print("The Cc field is malformed (something in it is not closed): they would be added to the envelope only.")
    elif utf8 and not all(address.isascii() for address in result.header_added):
        print("Some addresses need SMTPUTF8; a sender that does not use it gets them differently (--no-smtputf8).")
    print("\nHeaders after the rewrite (the relay also puts a Received header on top):\n")
    header, _ = split_message(result.message)
    sys.stdout.write(visible_lines(header.decode("utf-8", errors="replace")))
    return 0


def _log(args) -> int:
    entries = relay_log.recent_log(args.limit, search=args.search, status=args.status)
    if args.json:
        for entry in entries:
            print(json_line(entry.as_json()))
        return 0
    if not entries:
        print("No relay log entries match." if args.search or args.status else "The relay log is empty.")
        return 0
    for entry in entries:
        added = ", ".join(a.get("email", "") for a in entry.added) or "nobody"
        # 16 fits the longest status, "partially failed"; 13 the longest decision.
        print(
            f"{local_time(entry.received_at)}  {entry.queue_id or '-':16}  {entry.status or '-':16}  "
            f"{entry.decision or '-':13}  {visible(entry.category) or '-'}"
        )
        print(visible(f"    from {entry.sender or '<>'} to {', '.join(entry.recipients)}; added: {added}"))
        customers = visible(", ".join(entry.customers))
        delivered = f"; delivered {local_time(entry.delivered_at)}" if entry.delivered_at else ""
        if customers:
            print(f"    customer(s): {customers}{delivered}")
        elif entry.decision == Decision.REFUSED:
            pass  # refused before the directory was asked: the reason below says why
        elif entry.category:
            print(f"    no customer matched{delivered}")
        elif delivered:
            print(f"    {delivered[2:]}")
        attempts = f"; {entry.attempts} delivery attempts" if entry.attempts > 1 else ""
        print(
            visible(f"    {entry.reason}{attempts}" + (f"; last error: {entry.last_error}" if entry.last_error else ""))
        )
    return 0


def _queue(args) -> int:
    root = Path(args.spool or os.environ.get("RELAY_SPOOL") or default_spool_dir())
    if not root.is_dir():
        # A mistyped path is not an empty queue.
        raise ConfigError(f"there is no spool at {root} (give the relay's --spool DIR)")
    # One spool per worker process of the relay (and one an earlier relay may have left).
    spools = all_spools(root)
    running = any(lock_held(lock_path(spool)) for spool in spools)
    try:
        if args.retry_now:
            for spool in spools:
                request_retry_now(spool)
            if running:
                print("Asked the relay to retry every waiting message now.")
            else:
                print(f"No relay is running on {root}; the messages are retried when it starts.")
            return 0
        if args.delete:
            queue_id = args.delete.strip().upper()
            holder = next((spool for spool in spools if queue_id in {m.queue_id for m in read_queue(spool)}), None)
            if holder is None:
                raise ConfigError(f"there is no message {queue_id} in the queue at {root}")
            request_delete(holder, queue_id)
            if running:
                print(f"Asked the relay to delete {queue_id} (no bounce is sent).")
            else:
                print(f"No relay is running on {root}; {queue_id} is deleted when it starts (no bounce is sent).")
            return 0
        messages = sorted((m for spool in spools for m in read_queue(spool)), key=lambda m: (m.received, m.queue_id))
        deleting = set().union(*(deletes_requested(spool) for spool in spools))
    except SpoolError as exc:
        raise ConfigError(str(exc)) from None
    if args.json:
        for message in messages:
            print(json_line(_queue_json(message, message.queue_id in deleting)))
        return 0
    if not messages:
        print(f"The queue at {root} is empty.")
        return 0
    for message in messages:
        received = local_time(from_epoch(message.received))
        due = local_time_soon(from_epoch(message.next_attempt)) if message.next_attempt else "now"
        print(f"{message.queue_id}  {message.size:>9,} bytes  {received}  from {visible(message.sender) or '<>'}")
        print(f"    waiting for {visible(', '.join(message.pending))}; {message.attempts} attempt(s), next at {due}")
        if message.last_error:
            print(f"    last error: {visible(message.last_error)}")
        if message.queue_id in deleting:
            print("    deletion requested")
    return 0


def _queue_json(message: QueuedMessage, delete_requested: bool) -> dict:
    return {
        "queue_id": message.queue_id,
        "sender": message.sender,
        "recipients": list(message.recipients),
        "pending": message.pending,
        "delivered": {rcpt: str(reply) for rcpt, reply in message.delivered.items()},
        "failed": {rcpt: str(failure.reply) for rcpt, failure in message.failed.items()},
        "size": message.size,
        "received": message.received,
        "attempts": message.attempts,
        "next_attempt": message.next_attempt,
        "last_error": message.last_error,
        "category": message.category,
        "delete_requested": delete_requested,
    }


def _passwd(args) -> int:
    if sys.stdin.isatty():
        password = getpass.getpass(f"Password for {args.user}: ")
        if password != getpass.getpass("Again: "):
            raise ConfigError("the passwords differ; nothing was changed")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < 8:
        raise ConfigError("use a password of at least 8 characters")
    set_password(args.auth_file, args.user, password)
    print(f"Saved {args.user} in {args.auth_file} (scrypt hash, mode 0600).")
    return 0


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
