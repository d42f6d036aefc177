"""Portal sessions: how long they live, and the service's tokens for them.

A token is 256 random bits, handed out once at sign-in and kept by the
service only as its SHA-256, so the table of live sessions holds nothing a
reader could use. A token works only from the portal process it was issued
to (the same channel and the same process, by the socket's peer
credentials), ends after ``IDLE_TIMEOUT`` without a request or
``SESSION_LIFETIME`` after sign-in, whichever comes first, and at sign-out.
Tokens live in the service's memory only: a restarted service has signed
everybody out.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .scope import PortalScope

IDLE_TIMEOUT = 15 * 60
"""Seconds without a key (the portal) or a request (the service) before a session ends."""
SESSION_LIFETIME = 60 * 60
"""Seconds after sign-in when a session ends, however busy."""
SIGN_IN_TIMEOUT = 2 * 60
"""Seconds a browser session may sit on the sign-in screen without signing in."""

MAX_SESSIONS = 10_000
"""Live sessions the service keeps at once; the oldest goes first beyond that."""


@dataclass(frozen=True)
class Peer:
    """Who asks: the channel of the socket it came in by (the service's
    knowledge, not the peer's word) and the process, from SO_PEERCRED."""

    channel: str
    pid: int | None = None
    uid: int | None = None


@dataclass
class Session:
    scope: PortalScope
    peer: Peer
    started: float
    last_used: float = field(default=0.0)


class Sessions:
    """The live sessions of one service, by the hash of their token. Thread-safe."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        idle: float = IDLE_TIMEOUT,
        lifetime: float = SESSION_LIFETIME,
        limit: int = MAX_SESSIONS,
    ) -> None:
        self.clock = clock
        self.idle = idle
        self.lifetime = lifetime
        self.limit = limit
        self._live: dict[bytes, Session] = {}
        self._lock = threading.Lock()

    def open(self, scope: PortalScope, peer: Peer) -> str:
        """A new token for ``scope``, usable by ``peer`` only."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        with self._lock:
            self._sweep(now)
            while len(self._live) >= self.limit:
                del self._live[next(iter(self._live))]  # the oldest: dicts keep their order
            self._live[_key(token)] = Session(scope, peer, now, now)
        return token

    def find(self, token: str, peer: Peer) -> Session | None:
        """The live session of ``token`` for this peer (and its idle time starts
        again), or None: unknown, expired, signed out, or another process's."""
        now = self.clock()
        key = _key(token)
        with self._lock:
            session = self._live.get(key)
            if session is None:
                return None
            if self._expired(session, now):
                del self._live[key]
                return None
            if session.peer != peer:
                return None
            session.last_used = now
            return session

    def close(self, token: str, peer: Peer) -> bool:
        """End the session of ``token`` if this peer holds it; whether there was one."""
        key = _key(token)
        with self._lock:
            session = self._live.get(key)
            if session is None or session.peer != peer:
                return False
            del self._live[key]
            return True

    def __len__(self) -> int:
        with self._lock:
            self._sweep(self.clock())
            return len(self._live)

    def _expired(self, session: Session, now: float) -> bool:
        return now - session.last_used >= self.idle or now - session.started >= self.lifetime

    def _sweep(self, now: float) -> None:
        for key in [key for key, session in self._live.items() if self._expired(session, now)]:
            del self._live[key]


def _key(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "replace")).digest()
