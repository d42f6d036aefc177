"""`contacts-relay messages`: the captured messages of --capture, for testers.

List, show (who was added and why, headers before/after), raw, clear, and
release to a real server (with the relay's own SMTP client).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from contacts_tui.core.display import json_line, visible, visible_lines
from contacts_tui.core.mail import relay_log
from contacts_tui.core.mail.view import view_message
from contacts_tui.core.options import Options, open_directory
from contacts_tui.core.process import at_least_one
from contacts_tui.core.times import local_time, short_time, zone_name

from ..config import ConfigError, host_port
from ..delivery.pool import UpstreamConfig, UpstreamPool
from ..rewrite import split_message


def add_parser(commands, common) -> None:
    messages = commands.add_parser("messages", parents=[common], help="messages captured by --capture")
    sub = messages.add_subparsers(dest="action", metavar="ACTION")
    listing = sub.add_parser("list", parents=[common], help="captured messages, newest first")
    listing.add_argument("--search", metavar="TEXT", default="", help="only messages mentioning TEXT")
    listing.add_argument(
        "--limit", metavar="N", type=at_least_one, default=50, help="how many, newest first (default 50)"
    )
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    show = sub.add_parser("show", parents=[common], help="summary: who was added and why, headers before/after")
    show.add_argument("id", type=int)
    raw = sub.add_parser("raw", parents=[common], help="the message exactly as the relay would have sent it")
    raw.add_argument("id", type=int)
    raw.add_argument("--original", action="store_true", help="the message as it was received instead")
    clear = sub.add_parser(
        "clear", parents=[common], help="delete every captured message (on a terminal it asks first)"
    )
    clear.add_argument("--yes", action="store_true", help="delete without asking: for scripts, which have no terminal")
    delete = sub.add_parser("delete", parents=[common], help="delete one captured message")
    delete.add_argument("id", type=int)
    wait = sub.add_parser("wait", parents=[common], help="wait for a message to be captured (for scripts and CI)")
    wait.add_argument("--search", metavar="TEXT", default="", help="only a message mentioning TEXT (as list does)")
    wait.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=float,
        default=30.0,
        help="give up after this long, with exit code 1 (default 30)",
    )
    wait.add_argument(
        "--new",
        action="store_true",
        help="only a message captured after the command starts (default: one already there counts)",
    )
    wait.add_argument("--json", action="store_true", help="print the message as list --json does")
    release = sub.add_parser("release", parents=[common], help="send a captured message on to a real server")
    release.add_argument("id", type=int)
    release.add_argument("--to", metavar="HOST:PORT", required=True, help="the server to send it to")


def run(args, options: Options) -> int:
    """`contacts-relay messages ACTION`: list, show, raw, clear or release."""
    # It only reads (clear and delete aside): a mistyped --db is an error, not an empty inbox.
    directory = open_directory(options, must_exist=True)
    action = args.action or "list"
    if action == "list":
        found = relay_log.captured_messages(getattr(args, "limit", 50), search=getattr(args, "search", ""))
        if getattr(args, "json", False):
            for record in found:
                print(json_line(record.as_json()))
            return 0
        if not found:
            print("No captured messages" + (" match." if getattr(args, "search", "") else "."))
            return 0
        _message_table(found, directory.catalog)
        return 0
    if action == "clear":
        return _clear(args.yes)
    if action == "wait":
        return _wait(args, directory)
    if action == "delete":
        if not relay_log.delete_captured(args.id):
            raise ConfigError(f"there is no captured message {args.id} ({_why_missing(args.id)})")
        print(f"Deleted captured message {args.id}.")
        return 0
    found = relay_log.captured_message(args.id)
    if found is None:
        raise ConfigError(f"there is no captured message {args.id} ({_why_missing(args.id)})")
    record, original, rewritten = found
    if action == "raw":
        data = original if args.original else rewritten
        if sys.stdout.isatty():
            # On a terminal, shown; into a file or a pipe, the bytes as they are.
            sys.stdout.write(visible_lines(data.decode("utf-8", "replace")))
        else:
            sys.stdout.buffer.write(data)
        return 0
    if action == "release":
        return _release(record, rewritten, args.to)
    view = view_message(original, rewritten)
    entry = relay_log.log_entry(record.log_id) if record.log_id else None
    print(f"Message {record.id}, received {local_time(record.received_at)}, {len(rewritten):,} bytes")
    print(
        f"From:     {visible(view.sender) or '-'}\nTo:       {visible(view.to) or '-'}\n"
        f"Cc:       {visible(view.cc) or '(none)'}"
    )
    print(f"Subject:  {visible(view.subject) or '(no subject)'}")
    print(f"Category: {visible(_category_line(record, directory.catalog))}")
    if record.tagged_by:
        print(f"Tagged by: {visible(record.tagged_by)}")
    print(f"Envelope: from {visible(record.sender) or '<>'} to {visible(', '.join(record.envelope)) or '-'}")
    if record.copy_label:
        print(f"Copy:     {record.copy_number} of {record.copy_count}, {relay_log.COPIES_WHY}")
        for other in relay_log.captured_copies(record):
            if other.id != record.id:
                added = f"+{len(other.added)} cc" if other.added else "nobody added"
                print(visible(f"  {other.copy_number}: message {other.id}, to {', '.join(other.recipients)}, {added}"))
    if record.added:
        print("Added:")
        for added in record.added:
            print(visible(f"  + {added.name} <{added.email}>: {added.reason}"))
    else:
        why = entry.reason if entry is not None and entry.reason else "its relay log entry is gone"
        print(f"Added:    nobody ({visible(why)})")
    if entry is not None:
        print(f"Decision: {entry.decision}: {visible(entry.reason)}")
    print("\nHeaders (+ added, - removed by the relay):")
    for mark, line in view.header_diff:
        print(f"{mark} {visible(line)}")
    return 0


def _wait(args, directory) -> int:
    """Wait for a captured message that matches ``--search`` (with ``--new``, one captured since
    the start); print it."""
    since = (relay_log.newest_captured_id() or 0) if args.new else 0
    deadline = time.monotonic() + max(0.0, args.timeout)
    pause = 0.05
    while True:
        found = [r for r in relay_log.captured_messages(50, search=args.search) if r.id > since]
        if found:
            record = min(found, key=lambda r: r.id) if args.new else found[0]  # the first new one, or the newest
            if args.json:
                print(json_line(record.as_json()))
            else:
                _message_table([record], directory.catalog)
            return 0
        if time.monotonic() >= deadline:
            what = f" mentioning {args.search!r}" if args.search else ""
            print(f"No message{what} was captured within {args.timeout:g} s.", file=sys.stderr)
            return 1
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, 0.25)


def _clear(yes: bool) -> int:
    """Delete every captured message, once the user said yes (on a terminal) or --yes did."""
    stored = relay_log.count_captured()
    if not stored:
        print("There are no captured messages.")
        return 0
    if not yes:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            raise ConfigError(
                f"messages clear would delete all {stored:,} captured messages, and there is no terminal to ask "
                "on: give --yes to delete them without asking"
            )
        try:
            answer = input(f"Delete all {stored:,} captured messages? They cannot be brought back. [y/N] ")
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing was deleted.")
            return 1
    print(f"Deleted {relay_log.clear_captured():,} captured messages.")
    return 0


def _why_missing(message_id: int) -> str:
    # Ids only grow and are never reused: an id above the newest was never
    # given out, one below it was, and has gone since.
    newest = relay_log.newest_captured_id()
    if newest is None:
        return "no messages are stored now"
    if 0 < message_id < newest:
        return "it may have been cleared or dropped by retention"
    return f"the newest is {newest}"


def _category_line(record, catalog) -> str:
    """'invoice.overdue (category billing)', as the TUI shows it."""
    if not record.category:
        return "(no category header)"
    key = record.category_key or catalog.resolve(record.category)
    if key and key != record.category.strip().lower():
        return f"{record.category} (category {key})"
    return record.category


def _message_table(records, catalog) -> None:
    """One aligned line per message in about 100 columns; the subject, last, may run on."""
    now = dt.datetime.now().astimezone()
    rows: list[tuple[str, ...]] = []
    # A message that went out as one copy per customer: which copy each row is.
    split = any(record.copy_count > 1 for record in records)
    for record in records:
        # The category as the TUI shows it: billing, not invoice.created.
        category = record.category_key or catalog.resolve(record.category) or record.category or "-"
        copy = (f"{record.copy_number}/{record.copy_count}" if record.copy_count > 1 else "-",) if split else ()
        rows.append(
            (
                str(record.id),
                short_time(record.received_at, now),
                record.sender or "<>",
                ", ".join(record.recipients) or "-",
                category,
                f"+{len(record.added)} cc" if record.added else "-",
                *copy,
                record.subject or "(no subject)",
            )
        )
    rows = [tuple(visible(cell) for cell in row) for row in rows]
    heading = ("ID", f"Time ({zone_name(now)})", "From", "To", "Category", "Added", *(("Copy",) if split else ()))
    heading += ("Subject",)
    # Each column as wide as its widest cell, up to a cap: From, To and the
    # category are cut with an ellipsis beyond it.
    caps = (10, 12, 24, 28, 12, 7, *((7,) if split else ()))
    widths = [min(cap, max(len(heading[n]), *(len(row[n]) for row in rows))) for n, cap in enumerate(caps)]
    for row in (heading, *rows):
        cells = [_fit(text, width) for text, width in zip(row, widths, strict=False)]
        cells = [cells[0].rjust(widths[0]), *(c.ljust(w) for c, w in zip(cells[1:], widths[1:], strict=True))]
        print("  ".join([*cells, row[-1]]))


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _release(record, rewritten: bytes, target: str) -> int:
    """Send a captured message on with the relay's own client, under the relay's rules
    (SMTPUTF8 when its addresses or headers need it, 8-bit content as it is)."""
    host, port = host_port(target, "--to", 25)
    recipients = record.envelope
    header, _ = split_message(rewritten)
    utf8 = not header.isascii() or not record.sender.isascii() or not all(r.isascii() for r in recipients)
    where = f"{host}:{port}"
    relay_name = socket.getfqdn()

    async def deliver():
        pool = UpstreamPool(UpstreamConfig(host, port, helo_name=relay_name, connections=1))
        try:
            return await pool.deliver(
                rewritten, record.sender, recipients, smtputf8=utf8, eightbit=not rewritten.isascii()
            )
        finally:
            await pool.close()

    # A loop of its own in a thread of its own: whoever calls this command
    # may have an event loop running already (the tests do).
    with ThreadPoolExecutor(1) as thread:
        result = thread.submit(asyncio.run, deliver()).result()
    refused = {rcpt: str(reply) for rcpt, reply in result.replies.items() if reply.outcome != "accepted"}
    if len(refused) == len(recipients):
        why = "; ".join(dict.fromkeys(refused.values()))
        relay_log.log_release(record, where, recipients, size=len(rewritten), relay=relay_name, error=why)
        raise ConfigError(f"{where} did not take message {record.id}: {why}")
    relay_log.log_release(record, where, recipients, size=len(rewritten), relay=relay_name, refused=refused)
    for address, reply in refused.items():
        print(f"  refused {address}: {reply}", file=sys.stderr)
    print(f"Released message {record.id} to {where} for {len(recipients) - len(refused)} recipient(s).")
    return 0
