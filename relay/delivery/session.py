"""How the relay opens a session with an upstream: connect, EHLO, STARTTLS, AUTH.

Delivery (``pool.py``) and ``contacts-relay check`` open sessions through
the same ``Opener``, so a check that passes means delivery can start a
session the same way: the same TLS mode, certificate checks and AUTH. A
failure is a ``SessionFailure`` carrying the reply a message would be
deferred with.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
from dataclasses import dataclass, field
from typing import Literal

from ..queue.reply import Reply
from .rate import Rate
from .smtp_client import ProtocolError, ReplyError, SmtpClient

TlsMode = Literal["opportunistic", "starttls", "tls", "none"]
TLS_MODES = ("opportunistic", "starttls", "tls", "none")
DEFAULT_CONNECTIONS = 4


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    """Where and how to deliver.

    ``tls``: "opportunistic" (STARTTLS when the upstream offers it, the
    default), "starttls" (required: defer rather than send in clear), "tls"
    (implicit TLS, e.g. port 465) or "none".

    "starttls" and "tls" verify the certificate against the system store, or
    ``ca_file``, unless ``verify`` is false. "opportunistic" encrypts without
    verifying, like Postfix's "may" level: it guards against eavesdroppers,
    not against an active attacker, who could strip the STARTTLS offer anyway,
    and an unverified TLS session is still better than plain text, which is
    what refusing a self-signed certificate would have meant. With a
    ``username`` it verifies after all (unless ``verify`` is false), because
    the password must only go to the real server.

    A password is only ever sent over TLS, unless ``tls`` is "none" (an
    explicit choice, e.g. for a server on loopback). The caller reads the
    password from a file or the environment; it is never logged or shown in
    ``repr``. ``rate``: at most so many recipients per period (None: no limit).
    """

    host: str
    port: int = 25
    tls: TlsMode = "opportunistic"
    verify: bool = True
    ca_file: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 60.0
    # The wait for the reply to the final "." covers the upload of the whole
    # message too; RFC 5321 4.5.3.2.6 suggests 10 minutes.
    data_timeout: float = 600.0
    helo_name: str | None = None
    connections: int = DEFAULT_CONNECTIONS
    idle_timeout: float = 60.0
    rate: Rate | None = None

    def __post_init__(self) -> None:
        if self.tls not in TLS_MODES:
            raise ValueError(f"tls must be opportunistic, starttls, tls or none, not {self.tls!r}")
        if self.connections < 1:
            raise ValueError("connections must be at least 1")

    @property
    def name(self) -> str:
        """HOST:PORT, as the options take it and the metrics label it."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def verifies(self) -> bool:
        """Whether the upstream's certificate is checked (see the class docstring)."""
        if self.tls == "opportunistic" and self.username is None:
            return False
        return self.verify


class SessionFailure(Exception):
    """No transaction was possible (connect, TLS, greeting, AUTH): the same reply for every recipient."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(str(reply))
        self.reply = reply


def explain(exc: BaseException) -> str:
    """A short reason for a failed connection: "Connection refused" rather than a wrapped error."""
    for candidate in (exc.__cause__, exc):
        if isinstance(candidate, OSError) and not isinstance(candidate, ssl.SSLError) and candidate.errno:
            return os.strerror(candidate.errno)
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__


class Opener:
    """Opens sessions with one upstream, ready for MAIL FROM; keeps its TLS context between them."""

    def __init__(self, config: UpstreamConfig) -> None:
        self.config = config
        self._helo_name = config.helo_name
        self._tls: ssl.SSLContext | None = None

    def _context(self) -> ssl.SSLContext:
        if self._tls is None:
            context = ssl.create_default_context(cafile=self.config.ca_file)
            if not self.config.verifies:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self._tls = context
        return self._tls

    async def open(self) -> SmtpClient:
        """A session after EHLO, STARTTLS and AUTH as configured; ``SessionFailure`` says why not."""
        config = self.config
        where = config.name
        if self._helo_name is None:
            self._helo_name = await asyncio.to_thread(socket.getfqdn)
        client = SmtpClient(config.host, config.port, timeout=config.timeout)
        stage = "connect to"
        try:
            await client.connect(self._context() if config.tls == "tls" else None)
            stage = "greeting from"
            await client.ehlo(self._helo_name)
            if config.tls in ("opportunistic", "starttls"):
                if client.supports("starttls"):
                    stage = "STARTTLS with"
                    await client.starttls(self._context())
                    await client.ehlo(self._helo_name)
                elif config.tls == "starttls":
                    raise SessionFailure(Reply.local(f"4.7.0 {where} does not offer STARTTLS, which is required"))
            if config.username is not None:
                if not client.encrypted and config.tls != "none":
                    raise SessionFailure(
                        Reply.local(f"4.7.0 not sending the password to {where} without TLS (it offers no STARTTLS)")
                    )
                stage = "AUTH with"
                await client.login(config.username, config.password or "")
        except SessionFailure:
            client.close()
            raise
        except ReplyError as exc:
            client.close()
            # Even a 5xx here is about our session (greeting, TLS, credentials),
            # not about the message: defer, so a fixed configuration delivers it.
            raise SessionFailure(Reply.local(f"4.4.0 {stage} {where} failed: {exc}")) from None
        except (ProtocolError, OSError) as exc:  # OSError covers ssl.SSLError and TimeoutError
            client.close()
            status = "4.7.5" if isinstance(exc, ssl.SSLError) else "4.4.1"
            raise SessionFailure(Reply.local(f"{status} {stage} {where} failed: {explain(exc)}")) from None
        return client
