"""When to try a deferred message again, and when to give up on it.

The shape is Postfix's: the first retry comes ``min_backoff`` after the first
failure, each further wait doubles up to ``max_backoff``, and a recipient that
is still failing temporarily once ``max_lifetime`` has passed since reception
expires. Times are seconds as floats so tests can run the whole ladder in
fractions of a second.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MIN_BACKOFF = 300.0
DEFAULT_MAX_BACKOFF = 4000.0
DEFAULT_MAX_LIFETIME = 5 * 24 * 3600.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    min_backoff: float = DEFAULT_MIN_BACKOFF
    max_backoff: float = DEFAULT_MAX_BACKOFF
    max_lifetime: float = DEFAULT_MAX_LIFETIME

    def __post_init__(self) -> None:
        if self.min_backoff <= 0:
            raise ValueError("min_backoff must be more than 0 seconds")
        if self.max_backoff < self.min_backoff:
            raise ValueError("max_backoff must not be less than min_backoff")
        if self.max_lifetime < 0:
            raise ValueError("max_lifetime must not be negative")

    def delay(self, attempts: int) -> float:
        """The wait after the ``attempts``-th failed attempt (1 for the first)."""
        if attempts < 1:
            return 0.0
        # Cap the exponent: 2**attempts overflows a float long before anyone
        # could wait that long, and the cap is reached after a dozen doublings.
        doublings = min(attempts - 1, 64)
        return min(self.max_backoff, self.min_backoff * 2.0**doublings)

    def expires_at(self, received: float) -> float:
        return received + self.max_lifetime

    def expired(self, received: float, now: float) -> bool:
        """True once a message received at ``received`` has been queued too long."""
        return now >= self.expires_at(received)

    def next_attempt(self, received: float, attempts: int, now: float) -> float:
        """The time of the next attempt after ``attempts`` failed ones.

        Never later than the expiry time, so that a message is given up on when
        its lifetime ends rather than up to ``max_backoff`` after it.
        """
        return min(now + self.delay(attempts), max(now, self.expires_at(received)))
