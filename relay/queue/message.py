"""One record per message: what the receiver commits, the scheduler works on and readers list.

``QueuedMessage`` is made by the receiver, committed by the spool, changed by
the scheduler after each attempt and read back by ``contacts-relay queue``;
nothing here touches the disk. On disk a message is a segment record whose
head holds the envelope, and every change of its delivery state a state
record holding the whole state (the last one wins).
"""

from __future__ import annotations

import random
import time
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .reply import Failure, Reply


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


@dataclass(slots=True, eq=False)
class QueuedMessage:
    """A message in the queue and what has happened to it so far.

    The envelope: ``sender`` ("" for the null sender ``<>``), ``recipients``,
    ``smtputf8`` and ``eightbit`` (the client's MAIL FROM parameters, see
    ``mail_flags``), ``category`` (the catalog key it was tagged with, for
    the record). A DSN the relay wrote names the message it reports on in
    ``dsn_for`` and carries the failures it reports in ``dsn_reports``.

    The spool fills in where the bytes are (``segment``, ``body_offset``,
    ``size``, ``body_crc``). The scheduler changes the delivery state
    (``delivered`` and ``failed`` per recipient, ``attempts``, ...) and then
    calls ``Spool.save`` or ``Spool.finish``.
    """

    queue_id: str
    sender: str
    recipients: tuple[str, ...]
    smtputf8: bool = False
    eightbit: bool = False
    received: float = field(default_factory=time.time)
    category: str = ""
    crlf: bool = False  # every line ends in CRLF already (delivery need not look)
    dsn_for: str = ""
    dsn_reports: dict[str, Failure] = field(default_factory=dict)
    size: int = 0
    body_crc: int = 0
    segment: int = 0
    body_offset: int = 0
    delivered: dict[str, Reply] = field(default_factory=dict)
    failed: dict[str, Failure] = field(default_factory=dict)
    reported: set[str] = field(default_factory=set)
    attempts: int = 0
    next_attempt: float = 0.0
    last_error: str = ""
    done: bool = False
    deleted: bool = False

    def __post_init__(self) -> None:
        # The same address twice would be delivered twice; drop exact repeats.
        self.recipients = tuple(dict.fromkeys(self.recipients))

    @property
    def pending(self) -> list[str]:
        """Recipients that are neither delivered nor failed for good."""
        return [r for r in self.recipients if r not in self.delivered and r not in self.failed]

    def has_state(self) -> bool:
        return bool(self.attempts or self.done or self.delivered or self.failed or self.reported)

    def holds(self, data: bytes) -> None:
        """Note the size and checksum of the bytes being committed for this message."""
        self.size = len(data)
        self.body_crc = zlib.crc32(data)

    # -- the record heads on disk (JSON, as written since the first spool) --

    def envelope_head(self) -> dict[str, Any]:
        """The head of the message's segment record."""
        extra: dict[str, Any] = {}
        if self.category:
            extra["category"] = self.category
        if self.crlf:
            extra["crlf"] = True
        if self.dsn_for:
            extra["dsn_for"] = self.dsn_for
            extra["dsn_reports"] = {rcpt: _failure_json(f) for rcpt, f in self.dsn_reports.items()}
        return {
            "id": self.queue_id,
            "from": self.sender,
            "to": list(self.recipients),
            "utf8": self.smtputf8,
            "8bit": self.eightbit,
            "at": self.received,
            "meta": extra,
        }

    @classmethod
    def from_envelope_head(cls, head: Mapping[str, Any]) -> QueuedMessage:
        """The message a segment record describes, with no delivery state yet."""
        extra = head.get("meta") or {}
        return cls(
            queue_id=str(head["id"]),
            sender=str(head["from"]),
            recipients=tuple(head["to"]),
            smtputf8=bool(head.get("utf8")),
            eightbit=bool(head.get("8bit")),
            received=float(head["at"]),
            category=str(extra.get("category") or ""),
            crlf=bool(extra.get("crlf")),
            dsn_for=str(extra.get("dsn_for") or ""),
            dsn_reports={str(r): _failure(v) for r, v in (extra.get("dsn_reports") or {}).items()},
        )

    def state_head(self) -> dict[str, Any]:
        """A full snapshot of the delivery state, the head of a state record."""
        return {
            "id": self.queue_id,
            "a": self.attempts,
            "n": self.next_attempt,
            "e": self.last_error,
            "ok": {rcpt: str(reply) for rcpt, reply in self.delivered.items()},
            "f": {rcpt: _failure_json(failure) for rcpt, failure in self.failed.items()},
            "r": sorted(self.reported),
            "x": "deleted" if self.deleted else ("done" if self.done else None),
        }

    def apply_state(self, head: Mapping[str, Any]) -> None:
        """Replay one state snapshot onto the message (the last one read wins)."""
        self.attempts = int(head.get("a", 0))
        self.next_attempt = float(head.get("n", 0.0))
        self.last_error = str(head.get("e", ""))
        self.delivered = {str(k): Reply.parse(str(v)) for k, v in (head.get("ok") or {}).items()}
        self.failed = {str(k): _failure(v) for k, v in (head.get("f") or {}).items()}
        self.reported = set(head.get("r") or ())
        self.deleted = head.get("x") == "deleted"
        self.done = head.get("x") in ("done", "deleted")


def _failure_json(failure: Failure) -> list[Any]:
    # The status is written too, as it was before it could be derived.
    return [str(failure.reply), failure.status, failure.expired]


def _failure(value: Any) -> Failure:
    reply, _status, expired = value
    return Failure(Reply.parse(str(reply)), bool(expired))


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
