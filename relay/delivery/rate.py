"""An outbound rate limit per upstream (``--upstream-rate 14/s``), for providers that throttle.

Amazon SES counts its sending rate in recipients (a message to the customer
and three contact persons counts four), so the limit counts recipients: a
limit in messages would be exceeded by every message the relay copies
someone on. It holds for every window of the period, not on average: a
transaction starts only when the recipients sent in the last period, plus
its own, stay within the limit. Mail that has to wait waits in the spool;
nobody is refused.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from dataclasses import dataclass

UNITS = {"s": 1.0, "min": 60.0, "h": 3600.0}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(s|min|h)\s*$")


@dataclass(frozen=True, slots=True)
class Rate:
    """At most ``count`` recipients in any ``period`` seconds."""

    count: int
    period: float

    @classmethod
    def parse(cls, text: str) -> Rate:
        """``N/s``, ``N/min`` or ``N/h``; ValueError says what is wrong."""
        match = _RATE.match(text)
        if not match or int(match.group(1)) < 1:
            raise ValueError(f"{text!r} is not a rate like 14/s, 600/min or 10000/h (recipients, N at least 1)")
        return cls(int(match.group(1)), UNITS[match.group(2)])

    def __str__(self) -> str:
        unit = next(name for name, seconds in UNITS.items() if seconds == self.period)
        return f"{self.count}/{unit}"


class RateLimiter:
    """Waits until a transaction to ``count`` recipients keeps within the rate; first come, first served."""

    def __init__(self, rate: Rate, clock=time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self._sent: deque[tuple[float, int]] = deque()
        self._in_window = 0
        self._turn = asyncio.Lock()

    async def take(self, count: int) -> float:
        """Wait for the turn of a transaction to ``count`` recipients; returns the seconds waited."""
        async with self._turn:
            started = self._clock()
            while True:
                now = self._clock()
                while self._sent and self._sent[0][0] <= now - self.rate.period:
                    self._in_window -= self._sent.popleft()[1]
                # A message with more recipients than the whole limit goes alone.
                if not self._sent or self._in_window + count <= self.rate.count:
                    self._sent.append((now, count))
                    self._in_window += count
                    return now - started
                await asyncio.sleep(self._sent[0][0] + self.rate.period - now)
