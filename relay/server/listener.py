"""The listening socket and its sessions: who gets a slot, TLS and AUTH, and a graceful stop.

Connection slots are the relay's to share out, and strangers (clients outside
the allowed networks, who can only relay after AUTH) must not take them from
the senders the relay is for: together they get at most half the slots, each
address at most ``max_client_connections``, and an idle stranger goes after
``STRANGER_IDLE`` seconds. When the slots run low, every idle session goes
after ``STRESSED_IDLE`` seconds (Postfix's stress mode). Password checks run
in a thread, and an address or account that keeps failing is told to wait
(``throttle.py``: counted by every worker together).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from aiosmtpd.smtp import AuthResult, LoginPassword

from ..ops import metrics
from . import replies
from .access import AuthUsers, peer_allowed
from .handler import RelayHandler
from .protocol import Refuse, RelaySMTP
from .redact import keep_client_text_out_of_the_log
from .throttle import AuthThrottle, Refusal

logger = logging.getLogger(__name__)

_AUTH_REFUSED = {
    Refusal.CLIENT: replies.AUTH_CLIENT_THROTTLED,
    Refusal.ACCOUNT: replies.AUTH_ACCOUNT_THROTTLED,
    Refusal.UNAVAILABLE: replies.AUTH_UNAVAILABLE,
}

DEFAULT_CLIENT_CONNECTIONS = 10
STRANGER_IDLE = 30.0
STRESSED_IDLE = 10.0
STRESS_SHARE = 0.8  # of max_connections in use: idle sessions go sooner
AUTH_PENALTY = 1.0  # seconds before answering a wrong password


class Listener:
    """Accepts SMTP connections for ``handler``, at most ``max_connections`` at a time."""

    def __init__(
        self,
        handler: RelayHandler,
        *,
        host: str,
        port: int,
        hostname: str,
        max_connections: int,
        max_size: int,
        max_client_connections: int = DEFAULT_CLIENT_CONNECTIONS,
        tls_cert: Path | None = None,
        tls_key: Path | None = None,
        auth_file: Path | None = None,
        auth_failures: Path | None = None,
    ) -> None:
        self.handler = handler
        self.host, self._port = host, port
        self.hostname = hostname
        self.max_connections = max_connections
        self.max_client_connections = max_client_connections
        self.max_size = max_size
        self.stopping = False
        self._server: asyncio.base_events.Server | None = None
        self._sessions: dict[RelaySMTP, bool] = {}  # each admitted session: whether it is a stranger
        self._watcher: asyncio.Task[None] | None = None
        self._tls = _tls_context(tls_cert, tls_key)
        self._auth = AuthUsers(auth_file) if auth_file else None
        if auth_file and auth_failures is None:
            raise ValueError("AUTH needs a file where every worker counts the failed attempts")
        # Where every worker counts failed AUTH attempts (see throttle.py).
        self._throttle = AuthThrottle(auth_failures) if auth_file and auth_failures else None
        self._auth_threads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="relay-auth")
        keep_client_text_out_of_the_log()

    @property
    def port(self) -> int:
        assert self._server is not None, "the listener is not started"
        return self._server.sockets[0].getsockname()[1]

    async def start(self, sock: socket.socket | None = None) -> None:
        """Listen on the configured address, or accept on ``sock`` (shared with other workers)."""
        loop = asyncio.get_running_loop()
        if sock is not None:
            self._server = await loop.create_server(self._protocol, sock=sock)
        else:
            self._server = await loop.create_server(self._protocol, self.host, self._port)
        self._watcher = loop.create_task(self._watch_idle(), name="relay-idle-sessions")

    def reload(self) -> str:
        """Read the auth file again; returns a sentence for the log."""
        if self._auth is None:
            return "nothing to reload (no --auth-file); the relay keeps running"
        return self._auth.reload()

    # -- sessions ------------------------------------------------------------

    def admit(self, session: RelaySMTP, peer_ip: str | None) -> bytes | None:
        """Take a new connection in, or say with which reply to send it away."""
        stranger = not peer_allowed(peer_ip, self.handler.networks)
        if len(self._sessions) >= self.max_connections:
            logger.warning("refused a connection from %s: %d sessions open already", peer_ip, len(self._sessions))
            return replies.BUSY.line
        if stranger:
            strangers = [s for s, is_stranger in self._sessions.items() if is_stranger]
            if len(strangers) >= max(1, self.max_connections // 2):
                logger.warning(
                    "refused a connection from %s: half the slots are taken by clients outside the allowed networks",
                    peer_ip,
                )
                return replies.BUSY.line
            if sum(1 for s in strangers if s.peer_ip == peer_ip) >= self.max_client_connections:
                logger.warning(
                    "refused a connection from %s: %d open from that address already",
                    peer_ip,
                    self.max_client_connections,
                )
                return replies.CLIENT_BUSY.line
        self._sessions[session] = stranger
        metrics.current.sessions.inc()
        return None

    def forget(self, session: RelaySMTP) -> None:
        if self._sessions.pop(session, None) is not None:
            metrics.current.sessions.dec()

    def stop_accepting(self) -> None:
        """Close the listening socket and send idle sessions away with 421."""
        self.stopping = True
        if self._server is not None:
            self._server.close()
        if self._watcher is not None:
            self._watcher.cancel()
        for session in list(self._sessions):
            if not session.in_transaction:
                session.close_for_shutdown()

    @property
    def busy(self) -> bool:
        """Whether a message is still on its way in: a session in a transaction, or one being committed."""
        return bool(self.handler.in_flight) or any(session.in_transaction for session in self._sessions)

    def close_all(self) -> None:
        for session in list(self._sessions):
            session.close_for_shutdown()
        self._auth_threads.shutdown(wait=False, cancel_futures=True)

    async def _watch_idle(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(1.0)
            now = loop.time()
            stressed = len(self._sessions) >= STRESS_SHARE * self.max_connections
            for session, stranger in list(self._sessions.items()):
                if session.in_transaction:
                    continue
                idle = now - session.last_active
                authenticated = session.session is not None and session.session.authenticated
                if (stranger and not authenticated and idle > STRANGER_IDLE) or (stressed and idle > STRESSED_IDLE):
                    session.close_with(replies.IDLE.line)

    def _protocol(self) -> asyncio.Protocol:
        if self.stopping:
            return Refuse(replies.SHUTTING_DOWN.line)
        return RelaySMTP(
            self,
            self.handler,
            data_size_limit=self.max_size,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=self.hostname,
            ident="Contact Persons relay",
            tls_context=self._tls,
            authenticator=self._no_authenticator if self._auth else None,
            auth_require_tls=True,
            # Without an auth file nobody can log in, so AUTH is not offered.
            auth_exclude_mechanism=None if self._auth else ["LOGIN", "PLAIN"],
            # AUTH guesses end the session; every other command is unlimited
            # because one session may carry thousands of messages (junk
            # commands have a limit of their own: see protocol.py).
            command_call_limit={"AUTH": 3, "*": 2**31},
        )

    # -- AUTH ----------------------------------------------------------------

    @staticmethod
    def _no_authenticator(*_args) -> AuthResult:
        # aiosmtpd wants one to offer AUTH at all; RelaySMTP checks in authenticate().
        return AuthResult(success=False, handled=False)

    async def authenticate(self, session: RelaySMTP, auth_data) -> AuthResult:
        """Check a user's password in a thread; an address or account that keeps failing is refused unchecked."""
        if not isinstance(auth_data, LoginPassword) or self._auth is None:
            return AuthResult(success=False, handled=False)
        peer = session.peer_ip or "unknown"
        user = auth_data.login.decode("utf-8", errors="replace")
        password = auth_data.password.decode("utf-8", errors="replace")
        loop = asyncio.get_running_loop()
        outcome = await loop.run_in_executor(self._auth_threads, self._check, peer, user, password)
        if isinstance(outcome, Refusal):
            logger.warning("refused AUTH for user %r from %s unchecked: %s", user, peer, _REFUSAL_LOG[outcome])
            return AuthResult(success=False, handled=False, message=_AUTH_REFUSED[outcome]().text)
        if outcome:
            return AuthResult(success=True, handled=False, auth_data=auth_data)
        logger.warning("failed AUTH for user %r from %s", user, peer)
        await asyncio.sleep(AUTH_PENALTY)  # only this session waits
        return AuthResult(success=False, handled=False)

    def _check(self, peer: str, user: str, password: str) -> bool | Refusal:
        """In an AUTH thread: admitted by the throttle, the password's check, and its result recorded."""
        assert self._auth is not None and self._throttle is not None
        ticket = self._throttle.admit(peer, user)
        if isinstance(ticket, Refusal):
            return ticket
        ok = self._auth.check(user, password)
        self._throttle.settle(ticket, ok)
        return ok


_REFUSAL_LOG = {
    Refusal.CLIENT: "too many failures from that address",
    Refusal.ACCOUNT: "too many failures for that user from other addresses",
    Refusal.UNAVAILABLE: "the count of failures cannot be read",
}


def _tls_context(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    if not cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    return context
