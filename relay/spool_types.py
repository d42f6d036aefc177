"""What the spool stores: envelopes in, queued messages with their delivery state out.

These are plain dataclasses with their JSON forms, shared by the spool, the
scheduler and readers in other processes; nothing here touches the disk.
"""

from __future__ import annotations

import random
import time
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .spool_log import Record


def mail_flags(mail_options: Iterable[str]) -> tuple[bool, bool]:
    """``(smtputf8, eightbit)`` from the MAIL FROM parameters a client sent."""
    upper = {option.upper() for option in mail_options}
    return "SMTPUTF8" in upper, "BODY=8BITMIME" in upper


def new_queue_id() -> str:
    """A fresh queue id: 16 upper-case hex digits, sorting by time of creation."""
    # Time first so ids sort by arrival in listings; the random tail keeps two
    # commits in the same microsecond (or two relays' spools merged) apart.
    # It needs no secrecy (commit checks uniqueness), so the module PRNG does:
    # ``secrets`` cost a getrandom() system call per message.
    return f"{time.time_ns() // 1000:013X}{random.getrandbits(12):03X}"


@dataclass(frozen=True, slots=True)
class Envelope:
    """A message as the receiving side hands it to ``Spool.commit``.

    ``sender`` is "" for the null sender ``<>``. ``smtputf8`` and ``eightbit``
    are the client's MAIL FROM parameters (SMTPUTF8, BODY=8BITMIME; see
    ``mail_flags``). ``meta`` is a small JSON-able dict the receiver gets back
    in status callbacks, e.g. its relay-log id and the category.
    """

    sender: str
    recipients: Sequence[str]
    data: bytes
    smtputf8: bool = False
    eightbit: bool = False
    received: float = field(default_factory=time.time)
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a recipient failed for good: the reply to report and its DSN status code."""

    reply: str
    status: str
    expired: bool = False

    def to_json(self) -> list[Any]:
        return [self.reply, self.status, self.expired]

    @classmethod
    def from_json(cls, value: Any) -> Failure:
        reply, status, expired = value
        return cls(str(reply), str(status), bool(expired))


@dataclass(slots=True, eq=False)
class QueuedMessage:
    """A committed message and what has happened to it so far.

    The scheduler changes the state fields and then calls ``Spool.save`` or
    ``Spool.finish``; the bytes are read with ``Spool.read_data``.
    """

    queue_id: str
    sender: str
    recipients: tuple[str, ...]
    smtputf8: bool
    eightbit: bool
    received: float
    meta: dict[str, Any]
    size: int
    body_crc: int
    segment: int = 0
    body_offset: int = 0
    delivered: dict[str, str] = field(default_factory=dict)
    failed: dict[str, Failure] = field(default_factory=dict)
    reported: set[str] = field(default_factory=set)
    attempts: int = 0
    next_attempt: float = 0.0
    last_error: str = ""
    done: bool = False
    deleted: bool = False

    @property
    def pending(self) -> list[str]:
        """Recipients that are neither delivered nor failed for good."""
        return [r for r in self.recipients if r not in self.delivered and r not in self.failed]

    def has_state(self) -> bool:
        return bool(self.attempts or self.done or self.delivered or self.failed or self.reported)

    @classmethod
    def from_envelope(cls, queue_id: str, envelope: Envelope) -> QueuedMessage:
        # The same address twice would be delivered twice; drop exact repeats.
        recipients = tuple(dict.fromkeys(envelope.recipients))
        return cls(
            queue_id=queue_id,
            sender=envelope.sender,
            recipients=recipients,
            smtputf8=envelope.smtputf8,
            eightbit=envelope.eightbit,
            received=envelope.received,
            meta=dict(envelope.meta),
            size=len(envelope.data),
            body_crc=zlib.crc32(envelope.data),
        )

    def envelope_meta(self) -> dict[str, Any]:
        return {
            "id": self.queue_id,
            "from": self.sender,
            "to": list(self.recipients),
            "utf8": self.smtputf8,
            "8bit": self.eightbit,
            "at": self.received,
            "meta": self.meta,
        }


def message_from_meta(meta: Mapping[str, Any], segment: int, record: Record) -> QueuedMessage:
    """The message a segment record describes, with no delivery state yet."""
    return QueuedMessage(
        queue_id=str(meta["id"]),
        sender=str(meta["from"]),
        recipients=tuple(meta["to"]),
        smtputf8=bool(meta.get("utf8")),
        eightbit=bool(meta.get("8bit")),
        received=float(meta["at"]),
        meta=dict(meta.get("meta") or {}),
        size=record.body_len,
        body_crc=record.body_crc,
        segment=segment,
        body_offset=record.body_offset,
    )


def state_meta(message: QueuedMessage) -> dict[str, Any]:
    """A full snapshot of the message's delivery state, as written to ``state.log``."""
    return {
        "id": message.queue_id,
        "a": message.attempts,
        "n": message.next_attempt,
        "e": message.last_error,
        "ok": message.delivered,
        "f": {rcpt: failure.to_json() for rcpt, failure in message.failed.items()},
        "r": sorted(message.reported),
        "x": "deleted" if message.deleted else ("done" if message.done else None),
    }


def apply_state(message: QueuedMessage, meta: Mapping[str, Any]) -> None:
    """Replay one state snapshot onto a message (the last one read wins)."""
    message.attempts = int(meta.get("a", 0))
    message.next_attempt = float(meta.get("n", 0.0))
    message.last_error = str(meta.get("e", ""))
    message.delivered = {str(k): str(v) for k, v in (meta.get("ok") or {}).items()}
    message.failed = {str(k): Failure.from_json(v) for k, v in (meta.get("f") or {}).items()}
    message.reported = set(meta.get("r") or ())
    message.deleted = meta.get("x") == "deleted"
    message.done = meta.get("x") in ("done", "deleted")


@dataclass(frozen=True, slots=True)
class SpoolStats:
    commits: int
    commit_batches: int
    commit_fsyncs: int
    dir_fsyncs: int
    state_fsyncs: int

    @property
    def fsyncs_per_commit(self) -> float:
        return self.commit_fsyncs / self.commits if self.commits else 0.0
