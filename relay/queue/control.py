"""Reading a spool's files, and the spool seen from another process: list what
waits, and ask the relay to act.

``contacts-relay queue`` runs apart from the relay, which may or may not be
running. Reading takes no lock: files are only ever appended to or replaced by
rename, so a reader sees a consistent prefix and stops at a record still being
written. Commands go through files in ``control/``: the running scheduler
polls that folder, and a relay that was down applies them when it starts.
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

from .appender import fsync_dir
from .layout import control_dir, segment_numbers, segment_path, state_path
from .message import QueuedMessage
from .records import KIND_MESSAGE, KIND_STATE, SpoolError, scan

logger = logging.getLogger(__name__)

Action = Literal["retry-now", "delete"]
QUEUE_ID = re.compile(r"^[0-9A-F]{8,32}$")


@dataclass(frozen=True, slots=True)
class Command:
    action: Action
    queue_id: str | None
    name: str


def _drop_command(folder: str | os.PathLike[str], payload: dict[str, Any]) -> Path:
    spool = Path(folder)
    if not spool.is_dir():
        raise SpoolError(f"there is no spool at {spool}")
    control = control_dir(spool)
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
    # the folder fsync makes it survive a crash of this machine.
    final = control / f"{name}.cmd"
    os.replace(tmp, final)
    fsync_dir(control)
    return final


def request_retry_now(folder: str | os.PathLike[str]) -> Path:
    """Ask the relay owning ``folder`` to make every deferred message due now."""
    return _drop_command(folder, {"action": "retry-now"})


def request_delete(folder: str | os.PathLike[str], queue_id: str) -> Path:
    """Ask the relay owning ``folder`` to delete a message from its queue.

    The message is recorded as deleted and never delivered afterwards (an
    attempt already talking to the upstream may still complete).
    """
    queue_id = queue_id.strip().upper()
    if not QUEUE_ID.match(queue_id):
        raise ValueError(f"{queue_id!r} is not a queue id")
    return _drop_command(folder, {"action": "delete", "id": queue_id})


def _read_commands(folder: str | os.PathLike[str]) -> tuple[list[Command], list[str]]:
    control = control_dir(folder)
    try:
        names = sorted(n for n in os.listdir(control) if n.endswith(".cmd"))
    except FileNotFoundError:
        return [], []
    commands, invalid = [], []
    for name in names:
        try:
            payload = json.loads((control / name).read_text())
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


def list_commands(folder: str | os.PathLike[str]) -> list[Command]:
    """The commands waiting for the owner of the spool, oldest first; bad files are removed."""
    commands, invalid = _read_commands(folder)
    for name in invalid:
        logger.warning("spool control file %s is not a command; removing it", name)
        (control_dir(folder) / name).unlink(missing_ok=True)
    return commands


def remove_command(folder: str | os.PathLike[str], command: Command) -> None:
    # No fsync: if the removal is lost in a crash, the command runs again, and
    # both commands are harmless the second time.
    (control_dir(folder) / command.name).unlink(missing_ok=True)


def deletes_requested(folder: str | os.PathLike[str]) -> set[str]:
    """The queue ids an admin asked to delete that the relay has not dealt with yet."""
    commands, _ = _read_commands(folder)
    return {c.queue_id for c in commands if c.action == "delete" and c.queue_id}


def read_states(path: Path) -> dict[str, dict[str, Any]]:
    """The last state snapshot of each message in a state file (see ``QueuedMessage.apply_state``);
    none without the file."""
    states: dict[str, dict[str, Any]] = {}
    try:
        with open(path, "rb") as f:
            for record in scan(f, verify_bodies=False):
                if record.kind == KIND_STATE:
                    head = json.loads(record.head)
                    states[head.get("id")] = head
    except FileNotFoundError:
        pass
    return states


def read_segments(folder: Path, *, owner: bool) -> dict[int, list[QueuedMessage]]:
    """The messages in each segment, by segment number, each with its last state.

    The owning relay (at start) checks every body against its CRC and is told
    of an incomplete record; another process skips the bodies, and a record
    still being written is simply not there yet.
    """
    # State first, then segments: a message committed in between shows up as
    # new rather than a finished one showing up as still waiting.
    states = read_states(state_path(folder))
    segments = {}
    for number in segment_numbers(folder):
        path = segment_path(folder, number)
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
                message = QueuedMessage.from_envelope_head(json.loads(record.head))
                message.segment, message.body_offset = number, record.body_offset
                message.size, message.body_crc = record.body_len, record.body_crc
                if message.queue_id in states:
                    # Each snapshot is a message's whole state: the last one is all that counts.
                    message.apply_state(states[message.queue_id])
                messages.append(message)
            if owner and end < os.fstat(f.fileno()).st_size:
                # Only a commit that never got its fsync (so never its 250) ends up here.
                logger.warning("spool segment %s: ignoring an incomplete record at offset %d", path, end)
        segments[number] = messages
    return segments


def read_queue(folder: str | os.PathLike[str]) -> list[QueuedMessage]:
    """Everything waiting in the spool at ``folder``, oldest first, without locking it."""
    messages = [
        message
        for messages in read_segments(Path(folder), owner=False).values()
        for message in messages
        if not message.done
    ]
    return sorted(messages, key=lambda m: (m.received, m.queue_id))
