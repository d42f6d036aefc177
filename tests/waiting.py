"""Waiting for something to happen: poll with a deadline, never sleep a fixed time.

Every test waits through these two: ``wait_until`` in a test with an event
loop (its condition may be a coroutine function), ``poll`` without one.
Each returns the condition's first true value, or fails after ``timeout``
seconds saying what it waited for (``describe``: what to show then), or
with ``fail=False`` returns the last false value, for a wait that counts
what happened in the time it had.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any


async def wait_until(
    condition: Callable[[], Any],
    timeout: float = 10.0,
    describe: Callable[[], Any] | None = None,
    *,
    interval: float = 0.01,
    fail: bool = True,
) -> Any:
    """Poll ``condition`` (a function, or a coroutine function) until it returns something true."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value or _over(deadline, timeout, describe, fail):
            return value
        await asyncio.sleep(interval)


def poll(
    condition: Callable[[], Any],
    timeout: float = 10.0,
    describe: Callable[[], Any] | None = None,
    *,
    interval: float = 0.02,
    fail: bool = True,
) -> Any:
    """The synchronous twin of ``wait_until``, for tests without a loop."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or _over(deadline, timeout, describe, fail):
            return value
        time.sleep(interval)


def _over(deadline: float, timeout: float, describe: Callable[[], Any] | None, fail: bool) -> bool:
    if time.monotonic() <= deadline:
        return False
    if fail:
        detail = f": {describe()}" if describe else ""
        raise AssertionError(f"condition not met within {timeout:g} s{detail}")
    return True
