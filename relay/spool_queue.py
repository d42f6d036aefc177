"""Reading a spool's files, and the spool seen from another process: list what
waits, and ask the relay to act.

``contacts-relay queue`` runs apart from the relay, which may or may not be
running. Reading takes no lock: files are only ever appended to or replaced by
rename, so a reader sees a consistent prefix and stops at a record still being
written. Commands go through files in ``control/``: the running scheduler
polls that directory, and a relay that was down applies them when it starts.
The relay reads its spool at start with the same ``read_segments``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .spool_log import KIND_MESSAGE, KIND_STATE, SpoolError, fsync_dir, scan, segment_numbers, segment_path
from .spool_types import QueuedMessage, apply_state, message_from_meta

log = logging.getLogger(__name__)

Action = Literal["retry-now", "delete"]
QUEUE_ID = re.compile(r"^[0-9A-F]{8,32}$")


@dataclass(frozen=True, slots=True)
class Command:
    action: Action
    queue_id: str | None
    name: str


@dataclass(frozen=True, slots=True)
class QueueItem:
    """One waiting message, as ``contacts-relay queue`` shows it."""

    queue_id: str
    sender: str
    recipients: tuple[str, ...]
    pending: tuple[str, ...]
    delivered: dict[str, str]
    failed: dict[str, str]
    size: int
    received: float
    attempts: int
    next_attempt: float
    last_error: str
    meta: dict[str, Any]
    delete_requested: bool


def _control_dir(directory: str | os.PathLike[str]) -> Path:
    return Path(directory) / "control"


def _drop_command(directory: str | os.PathLike[str], payload: dict[str, Any]) -> Path:
    spool = Path(directory)
    if not spool.is_dir():
        raise SpoolError(f"there is no spool at {spool}")
    control = _control_dir(spool)
    control.mkdir(mode=0o700, exist_ok=True)
    name = f"{time.time_ns():020d}-{secrets.token_hex(4)}"
    tmp = control / f".{name}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, json.dumps(payload).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    # Renamed into place complete, so the relay never reads half a command;
    # the directory fsync makes it survive a crash of this machine.
    final = control / f"{name}.cmd"
    os.replace(tmp, final)
    fsync_dir(control)
    return final


def request_retry_now(directory: str | os.PathLike[str]) -> Path:
    """Ask the relay owning ``directory`` to make every deferred message due now."""
    return _drop_command(directory, {"action": "retry-now"})


def request_delete(directory: str | os.PathLike[str], queue_id: str) -> Path:
    """Ask the relay owning ``directory`` to delete a message from its queue.

    The message is recorded as deleted and never delivered afterwards (an
    attempt already talking to the upstream may still complete).
    """
    queue_id = queue_id.strip().upper()
    if not QUEUE_ID.match(queue_id):
        raise ValueError(f"{queue_id!r} is not a queue id")
    return _drop_command(directory, {"action": "delete", "id": queue_id})


def _read_commands(directory: str | os.PathLike[str]) -> tuple[list[Command], list[str]]:
    try:
        names = sorted(n for n in os.listdir(_control_dir(directory)) if n.endswith(".cmd"))
    except FileNotFoundError:
        return [], []
    commands, invalid = [], []
    for name in names:
        try:
            payload = json.loads((_control_dir(directory) / name).read_text())
            action = payload["action"]
            queue_id = payload.get("id")
            if action == "retry-now" or (action == "delete" and isinstance(queue_id, str)):
                commands.append(Command(action, queue_id, name))
                continue
        except FileNotFoundError:
            continue
        except (OSError, ValueError, KeyError, TypeError):
            pass
        invalid.append(name)
    return commands, invalid


def list_commands(directory: str | os.PathLike[str]) -> list[Command]:
    """The commands waiting for the owner of the spool, oldest first; bad files are removed."""
    commands, invalid = _read_commands(directory)
    for name in invalid:
        log.warning("spool control file %s is not a command; removing it", name)
        (_control_dir(directory) / name).unlink(missing_ok=True)
    return commands


def remove_command(directory: str | os.PathLike[str], command: Command) -> None:
    # No fsync: if the removal is lost in a crash, the command runs again, and
    # both commands are harmless the second time.
    (_control_dir(directory) / command.name).unlink(missing_ok=True)


def read_states(path: Path) -> dict[str, dict[str, Any]]:
    """The last state snapshot of each message in a state log (see ``apply_state``); none without the file."""
    states: dict[str, dict[str, Any]] = {}
    try:
        with open(path, "rb") as f:
            for record in scan(f, verify_bodies=False):
                if record.kind == KIND_STATE:
                    meta = json.loads(record.meta)
                    states[meta.get("id")] = meta
    except FileNotFoundError:
        pass
    return states


def read_segments(directory: Path, *, owner: bool) -> dict[int, list[QueuedMessage]]:
    """The messages in each segment, by segment number, each with its last state.

    The owning relay (at start) checks every body against its CRC and is told
    of an incomplete record; another process skips the bodies, and a record
    still being written is simply not there yet.
    """
    # State first, then segments: a message committed in between shows up as
    # new rather than a finished one showing up as still waiting.
    states = read_states(directory / "state.log")
    segments = {}
    for number in segment_numbers(directory):
        path = segment_path(directory, number)
        try:
            f = open(path, "rb")
        except FileNotFoundError:
            continue  # deleted since the listing: all its messages were done
        messages = []
        with f:
            end = 0
            for record in scan(f, verify_bodies=owner):
                end = record.body_offset + record.body_len
                if record.kind != KIND_MESSAGE:
                    continue
                message = message_from_meta(json.loads(record.meta), number, record)
                if message.queue_id in states:
                    # Each snapshot is a message's whole state: the last one is all that counts.
                    apply_state(message, states[message.queue_id])
                messages.append(message)
            if owner and end < os.fstat(f.fileno()).st_size:
                # Only a commit that never got its fsync (so never its 250) ends up here.
                log.warning("spool segment %s: ignoring an incomplete record at offset %d", path, end)
        segments[number] = messages
    return segments


def read_queue(directory: str | os.PathLike[str]) -> list[QueueItem]:
    """Everything waiting in the spool at ``directory``, oldest first, without locking it."""
    spool = Path(directory)
    commands, _ = _read_commands(spool)
    deletes = {c.queue_id for c in commands if c.action == "delete"}
    items = [
        QueueItem(
            queue_id=message.queue_id,
            sender=message.sender,
            recipients=message.recipients,
            pending=tuple(message.pending),
            delivered=dict(message.delivered),
            failed={rcpt: failure.reply for rcpt, failure in message.failed.items()},
            size=message.size,
            received=message.received,
            attempts=message.attempts,
            next_attempt=message.next_attempt,
            last_error=message.last_error,
            meta=message.meta,
            delete_requested=message.queue_id in deletes,
        )
        for messages in read_segments(spool, owner=False).values()
        for message in messages
        if not message.done
    ]
    return sorted(items, key=lambda item: (item.received, item.queue_id))
