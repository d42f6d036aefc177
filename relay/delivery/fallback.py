"""Ordered upstreams with fallback, as Postfix's relayhost and ``smtp_fallback_relay``.

Every attempt starts at the first upstream. Recipients it defers (a 4xx, a
connection it could not open or lost) go on to the next one in the same
attempt; what an upstream accepted or refused for good (5xx) is settled
there, so a permanent refusal from the first is final and never tried
elsewhere. What every upstream deferred waits in the spool for the next
attempt.

An upstream that cannot even be reached (connect, TLS, greeting, AUTH) is
passed over for ``down_for`` seconds, as Postfix marks a dead host: mail
goes straight to the next one instead of each message waiting for its own
connect timeout first, and when all are down the attempt is deferred at
once. The first attempt after that time tries it again.

Each upstream has its own connection pool and rate limit (``pool.py``).
This is also where the relay learns whether delivery works at all: the
outcome of the last attempts, for ``/healthz``.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Sequence

from ..ops import metrics
from ..ops.metrics import reply_class
from ..queue.reply import Reply
from .outbound import DeliveryResult
from .pool import UpstreamPool

logger = logging.getLogger(__name__)

DOWN_FOR = 60.0  # seconds an unreachable upstream is passed over
RECENT = 100  # attempts remembered for the health check


class Upstreams:
    """Delivers through ``pools`` in order; see the module docstring."""

    def __init__(self, pools: Sequence[UpstreamPool], *, down_for: float = DOWN_FOR, clock=time.monotonic) -> None:
        if not pools:
            raise ValueError("at least one upstream is needed")
        self.pools = list(pools)
        self.down_for = down_for
        self._clock = clock
        self._down_until = [0.0] * len(self.pools)
        self._down_reply: list[Reply | None] = [None] * len(self.pools)
        # True for an attempt that delivered or settled something, False for
        # one that only deferred: "the last N attempts all failed" comes from it.
        self.recent: deque[bool] = deque(maxlen=RECENT)
        self.last_failure = ""
        for pool in self.pools:
            metrics.current.upstream_up.labels(pool.name).set(1)

    @property
    def concurrency(self) -> int:
        return max(pool.concurrency for pool in self.pools)

    @property
    def remote_name(self) -> str | None:
        # A DSN's Remote-MTA names one server; with several, the reply text names it.
        return self.pools[0].remote_name if len(self.pools) == 1 else None

    def failing(self, attempts: int) -> bool:
        """Whether the last ``attempts`` attempts all failed (and there were that many)."""
        if len(self.recent) < attempts:
            return False
        return not any(list(self.recent)[-attempts:])

    async def deliver(
        self,
        message: bytes,
        sender: str,
        recipients: Sequence[str],
        *,
        smtputf8: bool = False,
        eightbit: bool = False,
        crlf: bool = False,
    ) -> DeliveryResult:
        recipients = list(dict.fromkeys(recipients))
        replies: dict[str, Reply] = {}
        data_reply = None
        todo = recipients
        reached = False
        for index, pool in enumerate(self.pools):
            if not todo:
                break
            skipped = self._skipped(index)
            if skipped is not None:
                replies.update({rcpt: skipped for rcpt in todo})
                continue
            result = await pool.deliver(message, sender, todo, smtputf8=smtputf8, eightbit=eightbit, crlf=crlf)
            for reply in result.replies.values():
                metrics.current.replies.labels(reply_class(reply.code), pool.name).inc()
            self._note(index, result)
            reached = reached or not result.unreachable
            replies.update(result.replies)
            data_reply = result.data_reply or data_reply
            todo = [rcpt for rcpt in todo if result.replies[rcpt].outcome == "temporary"]
        final = DeliveryResult({rcpt: replies[rcpt] for rcpt in recipients}, data_reply, unreachable=not reached)
        settled = len(final.temporary) < len(recipients)
        self.recent.append(settled)
        if not settled:
            self.last_failure = str(final.replies[recipients[0]])
        return final

    def forget_down(self) -> None:
        """Try every upstream at the next attempt (``queue --retry-now``)."""
        self._down_until = [0.0] * len(self.pools)

    def _skipped(self, index: int) -> Reply | None:
        """The reply for recipients that pass over upstream ``index`` while it is down, else None."""
        left = self._down_until[index] - self._clock()
        reply = self._down_reply[index]
        if left <= 0 or reply is None:
            return None
        return Reply.local(f"{reply} (not tried again for {left:.0f} s)")

    def _note(self, index: int, result: DeliveryResult) -> None:
        pool = self.pools[index]
        was_down = self._down_reply[index] is not None
        if result.unreachable:
            reply = next(iter(result.replies.values()))
            self._down_until[index] = self._clock() + self.down_for
            self._down_reply[index] = reply
            metrics.current.upstream_up.labels(pool.name).set(0)
            if not was_down:
                rest = self.pools[index + 1 :]
                where = f"mail goes to {rest[0].name}" if rest else "mail waits in the spool"
                logger.warning("upstream %s cannot be reached: %s; %s meanwhile", pool.name, reply, where)
        elif was_down:
            self._down_until[index] = 0.0
            self._down_reply[index] = None
            metrics.current.upstream_up.labels(pool.name).set(1)
            logger.warning("upstream %s takes mail again", pool.name)

    async def close(self) -> None:
        for pool in self.pools:
            await pool.close()
