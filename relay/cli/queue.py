"""`contacts-relay queue`: messages waiting in the spool and why; retry them now or give one up."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from contacts_tui.core.display import json_line, visible
from contacts_tui.core.options import Options
from contacts_tui.core.process import lock_held
from contacts_tui.core.times import from_epoch, local_time, local_time_soon

from ..config import ConfigError, default_spool_dir
from ..queue import QueuedMessage, SpoolError, deletes_requested, read_queue, request_delete, request_retry_now
from ..queue.layout import all_spools, lock_path


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    queue = commands.add_parser("queue", parents=[common], help="messages waiting in the spool, and why")
    queue.add_argument("--spool", metavar="DIR", default=None, help="spool directory (RELAY_SPOOL; default as serve)")
    action = queue.add_mutually_exclusive_group()
    action.add_argument("--retry-now", action="store_true", help="try every waiting message again now")
    action.add_argument("--delete", metavar="ID", help="give up on one message (no bounce is sent)")
    queue.add_argument("--json", action="store_true", help="one JSON object per line")


def run(args: argparse.Namespace, options: Options) -> int:
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
