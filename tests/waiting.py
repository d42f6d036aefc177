"""Waiting for something to happen: poll with a deadline, never sleep a fixed time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


async def wait_until(
    condition: Callable[[], Any], timeout: float = 10.0, describe: Callable[[], Any] | None = None
) -> Any:
    """Poll ``condition`` until it returns something true, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := _check(condition, deadline, timeout, describe)):
        await asyncio.sleep(0.01)
    return value


def poll(condition: Callable[[], Any], timeout: float = 10.0, describe: Callable[[], Any] | None = None) -> Any:
    """The synchronous twin of ``wait_until``, for tests without a loop."""
    deadline = time.monotonic() + timeout
    while not (value := _check(condition, deadline, timeout, describe)):
        time.sleep(0.02)
    return value


def _check(condition: Callable[[], Any], deadline: float, timeout: float, describe: Callable[[], Any] | None) -> Any:
    value = condition()
    if not value and time.monotonic() > deadline:
        detail = f": {describe()!r}" if describe else ""
        raise AssertionError(f"condition not met within {timeout} s{detail}")
    return value
