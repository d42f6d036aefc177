"""Whether delivery works: the queue's age and the last attempts, for /healthz and ``check``.

A relay that takes mail but cannot pass it on is "degraded", not down: it
keeps every message safe in its spool, which is what a sender's retries
would do no better. Each relay process keeps a ``QueueState`` up to date
(every ``INTERVAL`` seconds, from its event loop); with several workers
each writes its state to a file the supervisor reads, since the supervisor
serves /healthz but delivers nothing itself.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

INTERVAL = 2.0  # seconds between updates of a relay's queue state


@dataclass(frozen=True, slots=True)
class QueueState:
    """One relay process's view of its delivery, at ``time``."""

    worker: int
    queued: int = 0
    deferred: int = 0
    oldest_received: float | None = None  # when the oldest waiting message came in
    oldest_id: str = ""
    oldest_error: str = ""
    failing: bool = False  # the last --failure-alert attempts all failed
    last_failure: str = ""
    time: float = 0.0

    def save(self, path: Path) -> None:
        """Write atomically: the reader never sees half a state."""
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(asdict(self)), encoding="utf-8")
        os.replace(partial, path)

    @classmethod
    def load(cls, path: Path) -> QueueState | None:
        try:
            return cls(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None


def state_file(directory: str | os.PathLike[str], worker: int) -> Path:
    return Path(directory) / f"queue-state-{worker}.json"


def states_in(directory: str | os.PathLike[str]) -> list[QueueState]:
    return [s for path in sorted(Path(directory).glob("queue-state-*.json")) if (s := QueueState.load(path))]


def degraded(
    states: Iterable[QueueState], queue_age_alert: float, failure_alert: int, now: float | None = None
) -> list[str]:
    """Why delivery is not keeping up, one line each (empty: it is)."""
    now = time.time() if now is None else now
    states = list(states)
    reasons = []
    waiting = [s for s in states if s.oldest_received is not None]
    if waiting:
        oldest = min(waiting, key=lambda s: s.oldest_received or 0.0)
        age = now - (oldest.oldest_received or now)
        if age > queue_age_alert:
            error = f"; its last error: {oldest.oldest_error}" if oldest.oldest_error else ""
            reasons.append(
                f"degraded: message {oldest.oldest_id} has waited in the queue for {duration(age)}, longer than "
                f"--queue-age-alert {duration(queue_age_alert)}{error}"
            )
    # Nothing waiting: whatever failed last, nobody's mail is stuck.
    failing = [s for s in states if s.failing and s.queued]
    if failing:
        reasons.append(
            f"degraded: the last {failure_alert} delivery attempts all failed"
            + (f" (worker {', '.join(str(s.worker) for s in failing)})" if len(states) > 1 else "")
            + f"; the last: {failing[0].last_failure}"
        )
    return reasons


def duration(seconds: float) -> str:
    """45 s, 17 min, 3 h 5 min, 2 d 4 h: as an operator reads an age."""
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h {minutes % 60} min" if minutes % 60 else f"{hours} h"
    return f"{hours // 24} d {hours % 24} h" if hours % 24 else f"{hours // 24} d"
