"""What one portal session may take of the host, in one place: the terminal
size it draws, its memory, how long it lives, and (in a browser) how many
sessions one client may hold. The SSH portal, the web server and the session
processes it starts all read these.

No Textual here: the web server imports it without loading the app.
"""

from __future__ import annotations

from contacts_tui.core.portal.sessions import IDLE_TIMEOUT, SESSION_LIFETIME, SIGN_IN_TIMEOUT

MAX_COLUMNS = 500
MAX_ROWS = 200
"""The largest terminal a session draws. Textual keeps a cell per column and
row of every layer it composes, so the memory a frame takes grows with the
area a client asks for: 30000x30000 took 4.4 GB before sign-in. 500x200 is
more than any screen shows in a readable font; a larger terminal gets the
portal in its top left corner."""

SESSION_MEMORY_MIB = 150
"""The data a session process may hold (RLIMIT_DATA), by default; one that
reaches it ends with a message. A session holds about 46 MiB at rest (forked
or cold: RLIMIT_DATA counts the pages a forked one shares with its parent
too) and about 49 MiB drawing the largest frame (MAX_COLUMNS x MAX_ROWS), so
three times that leaves room for any use of the portal while --max-sessions
of them at the ceiling take 7.3 GiB, not the 12.5 GiB of the 256 before."""

# How long a session lives is the portal service's rule too (it ends the
# tokens): one place, core/portal/sessions.py.
IDLE_SECONDS = IDLE_TIMEOUT
"""A signed-in session ends after this long without a key."""
SIGN_IN_SECONDS = SIGN_IN_TIMEOUT
"""A session not signed in ends after this long without a key: a stranger
holds no process for long."""
LIFETIME_SECONDS = SESSION_LIFETIME
"""Every session ends this long after it started, keys or not: one sign-in
never holds a process for ever."""

MAX_SESSIONS = 50
"""Browser sessions open at once, by default: each is a process."""
MAX_PER_CLIENT = 3
"""Browser sessions one client address may hold at once, by default."""
INPUT_BYTES_PER_SECOND = 16 * 1024
INPUT_BURST_BYTES = 128 * 1024
"""What a browser may send its session, sustained and at once (keys, pastes,
sizes, every message counted whole). Typing, a mouse and a pasted address
are a few hundred bytes a second; a paste of a whole page is a few KiB.
Past it the session ends: a client that sends megabytes a second keeps its
session's process busy parsing keys and, once the process cannot keep up,
the server holding what it has not yet taken."""
INPUT_BACKLOG_BYTES = 256 * 1024
"""What the server holds for a session's process that it has not yet read;
past it the session ends (its process no longer keeps up with its input)."""

GRACE_SECONDS = 5.0
"""How long a browser session's process has to end once asked (its client
went away, or its lifetime is over) before the server kills it."""


def bounded_size(width: object, height: object) -> tuple[int, int]:
    """A terminal size as a client gave it (any value, from any channel), as
    the portal draws it: whole numbers from 1 to the maximum. Anything that is
    not a number counts as the classic 80x24."""
    return _bounded(width, 80, MAX_COLUMNS), _bounded(height, 24, MAX_ROWS)


def _bounded(value: object, default: int, most: int) -> int:
    if isinstance(value, bool):
        number = default
    elif isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value.strip()) < 10:
        number = int(value)
    else:
        number = default
    return max(1, min(number, most))


class InputBudget:
    """A browser's input allowance (a token bucket): ``INPUT_BURST_BYTES`` at
    once, refilled at ``INPUT_BYTES_PER_SECOND``."""

    def __init__(self, now: float, rate: float = INPUT_BYTES_PER_SECOND, burst: float = INPUT_BURST_BYTES) -> None:
        self.rate = rate
        self.burst = burst
        self.left = burst
        self.when = now

    def take(self, size: int, now: float) -> bool:
        """Spend ``size`` bytes at ``now`` (seconds); False once the client has sent more than it may."""
        self.left = min(self.burst, self.left + (now - self.when) * self.rate)
        self.when = now
        self.left -= size
        return self.left >= 0
