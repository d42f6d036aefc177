"""The listening socket and its sessions: the connection cap, TLS and AUTH, and a graceful stop."""

from __future__ import annotations

import asyncio
import logging
import ssl
from pathlib import Path

from aiosmtpd.smtp import AuthResult, LoginPassword

from .access import AuthUsers
from .handler import RelayHandler
from .protocol import SHUTTING_DOWN, Refuse, RelaySMTP
from .redact import keep_client_text_out_of_the_log

logger = logging.getLogger(__name__)

_BUSY = b"421 4.7.0 Too many connections; please try again later\r\n"


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
        tls_cert: Path | None = None,
        tls_key: Path | None = None,
        auth_file: Path | None = None,
    ) -> None:
        self.handler = handler
        self.host, self._port = host, port
        self.hostname = hostname
        self.max_connections = max_connections
        self.max_size = max_size
        self.stopping = False
        self._server: asyncio.base_events.Server | None = None
        self._sessions: set[RelaySMTP] = set()
        self._tls = _tls_context(tls_cert, tls_key)
        self._auth = AuthUsers(auth_file) if auth_file else None
        keep_client_text_out_of_the_log()

    @property
    def port(self) -> int:
        assert self._server is not None, "the listener is not started"
        return self._server.sockets[0].getsockname()[1]

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, self.host, self._port)

    def reload(self) -> str:
        """Read the auth file again; returns a sentence for the log."""
        if self._auth is None:
            return "nothing to reload (no --auth-file); the relay keeps running"
        return self._auth.reload()

    def forget(self, session: RelaySMTP) -> None:
        self._sessions.discard(session)

    def stop_accepting(self) -> None:
        """Close the listening socket and send idle sessions away with 421."""
        self.stopping = True
        if self._server is not None:
            self._server.close()
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

    def _protocol(self) -> asyncio.Protocol:
        if self.stopping:
            return Refuse(SHUTTING_DOWN)
        if len(self._sessions) >= self.max_connections:
            logger.warning("refused a connection: %d sessions open already", len(self._sessions))
            return Refuse(_BUSY)
        session = RelaySMTP(
            self,
            self.handler,
            data_size_limit=self.max_size,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=self.hostname,
            ident="Contact Persons relay",
            tls_context=self._tls,
            authenticator=self._authenticate if self._auth else None,
            auth_require_tls=True,
            # Without an auth file nobody can log in, so AUTH is not offered.
            auth_exclude_mechanism=None if self._auth else ["LOGIN", "PLAIN"],
            # AUTH guesses end the session; every other command is unlimited
            # because one session may carry thousands of messages.
            command_call_limit={"AUTH": 3, "*": 2**31},
        )
        self._sessions.add(session)
        return session

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if not isinstance(auth_data, LoginPassword) or self._auth is None:
            return AuthResult(success=False, handled=False)
        user = auth_data.login.decode("utf-8", errors="replace")
        ok = self._auth.check(user, auth_data.password.decode("utf-8", errors="replace"))
        if not ok:
            peer = session.peer[0] if isinstance(session.peer, (tuple, list)) else session.peer
            logger.warning("failed AUTH for user %r from %s", user, peer)
        return AuthResult(success=ok, handled=False)


def _tls_context(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    if not cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    return context
