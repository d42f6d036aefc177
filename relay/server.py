"""The running relay: SMTP listener, spool, scheduler, relay log, wired together.

``Relay`` runs inside an asyncio loop (``contacts-relay serve``);
``RelayThread`` runs one in a thread of its own, for ``contacts-tui demo``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import signal
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword, syntax

from contacts_tui.core.directory import Directory

from .access import AuthUsers, parse_networks
from .backoff import RetryPolicy
from .capture import CaptureStore
from .config import MIB, RelayConfig
from .deliver import UpstreamConfig, UpstreamPool
from .journal import Journal, LogEntry
from .receive import Limits, RelayHandler
from .scheduler import Scheduler, StatusDetail
from .spool import Envelope, Spool

log = logging.getLogger(__name__)

LOG_PRUNE_INTERVAL = 3600.0

_BUSY = b"421 4.7.0 Too many connections; please try again later\r\n"
_SHUTTING_DOWN = b"421 4.3.2 The relay is shutting down; please try again later\r\n"
# aiosmtpd's own replies for a message over the size limit, at DATA and at MAIL ... SIZE=.
_TOO_MUCH_DATA = b"552 Error: Too much mail data"
_SIZE_ANNOUNCED = b"552 Error: message size exceeds fixed maximum message size"
_ANGLE_PATH = re.compile(r"<([^<>]*)>")


# Replies after which the connection closes or turns to TLS: never held back.
_FLUSH_AT_ONCE = (b"220", b"221", b"421")
# The everyday MAIL FROM / RCPT TO argument: <dot-atom@domain> and parameters.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_PATH = re.compile(rf"<({_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>(?:[ \t]+(.*))?", re.S)


class _RelaySMTP(SMTP):
    """aiosmtpd's protocol, counted so the relay can cap and drain connections.

    Replies are coalesced: while more commands of a pipelined group (RFC
    2920) wait in the input buffer, their replies collect and go out in one
    write when the group is done, instead of one send() per reply.
    """

    def __init__(self, relay: "Relay", *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._relay = relay
        self._replies: list[bytes] = []
        self._mail_arg = ""
        self._closed_for_shutdown = False

    @property
    def in_transaction(self) -> bool:
        """After MAIL and until the reply to DATA (or RSET): a message is on its way."""
        envelope = self.envelope
        return envelope is not None and envelope.mail_from is not None

    async def push(self, status: str | bytes) -> None:
        if isinstance(status, str):
            status = status.encode("utf-8" if self.enable_SMTPUTF8 else "ascii")
        if status.startswith(b"552 Error: "):
            status = self._too_big(status)
        self._replies.append(status + b"\r\n")
        if status[3:4] == b"-":
            return  # the rest of a multi-line reply (EHLO) follows at once
        stopping = self._relay.stopping
        # aiosmtpd itself reads the reader's buffer (to clear it after STARTTLS).
        if not self._reader._buffer or status[:3] in _FLUSH_AT_ONCE or stopping:  # type: ignore[attr-defined]
            replies, self._replies = b"".join(self._replies), []
            self._writer.write(replies)
            await self._writer.drain()
        if stopping and not self.in_transaction:
            # Shutting down: the transaction this session was in (if any) is
            # finished, so it is told to go now rather than start another.
            self.close_for_shutdown()

    def close_for_shutdown(self) -> None:
        """Answer 421 (after any replies still held back) and close the connection."""
        transport = self.transport
        if self._closed_for_shutdown or transport is None or transport.is_closing():
            return  # the client is gone already (a TLS transport then cannot even be written to)
        self._closed_for_shutdown = True
        replies, self._replies = b"".join(self._replies), []
        transport.write(replies + _SHUTTING_DOWN)
        transport.close()

    @syntax(SMTP.smtp_MAIL.__smtp_syntax__, SMTP.smtp_MAIL.__smtp_syntax_extended__,  # type: ignore[attr-defined]
            SMTP.smtp_MAIL.__smtp_syntax_when__)  # type: ignore[attr-defined]
    async def smtp_MAIL(self, arg: str) -> None:
        self._mail_arg = arg or ""  # for the log line if SIZE= is over the limit
        await super().smtp_MAIL(arg)

    def _too_big(self, status: bytes) -> bytes:
        # aiosmtpd answers these itself, without an enhanced status code and
        # without asking the handler, so the refusal would go unlogged.
        limit = self.data_size_limit or 0
        reply = f"552 5.3.4 Message too big for this relay (limit {_size_text(limit)})"
        if status.startswith(_TOO_MUCH_DATA):
            envelope = self.envelope
            sender = envelope.mail_from if envelope is not None else None
            recipients = list(envelope.rcpt_tos) if envelope is not None else []
            detail = f"more than {limit} bytes sent"
        elif status.startswith(_SIZE_ANNOUNCED):
            found = _ANGLE_PATH.search(self._mail_arg)
            sender, recipients = (found.group(1) if found else None), []
            announced = re.search(r"\bSIZE=(\d+)", self._mail_arg, re.I)
            detail = f"announced SIZE={announced.group(1)}" if announced else "announced in MAIL FROM"
        else:
            return status
        self._relay.handler.refuse(self.session, sender, recipients, reply, detail)
        return reply.encode("ascii")

    def _getaddr(self, arg: str):
        # aiosmtpd parses every address with the email package's header
        # parser (and defines a class per call): a tenth of the event loop's
        # time under load. Plain addresses take this shortcut, with the same
        # result; anything else (quotes, source routes, literals, UTF-8) the full parser.
        match = _PLAIN_PATH.fullmatch(arg) if arg else None
        if match is None:
            return super()._getaddr(arg)
        address = match.group(1)
        if self.local_part_limit and address.rindex("@") > self.local_part_limit:
            return None, None
        return address, match.group(2) or ""

    def connection_lost(self, exc) -> None:
        self._relay._sessions.discard(self)
        super().connection_lost(exc)


def _size_text(size: int) -> str:
    """25 MiB, 10 KiB, 2.5 MiB: a limit as the operator set it, not 10.2393 KiB."""
    if size >= MIB:
        return f"{size / MIB:.3g} MiB"
    return f"{size / 1024:.3g} KiB" if size >= 1024 else f"{size} bytes"


class _Refuse(asyncio.Protocol):
    """A connection the relay will not serve: one 421 line, then close."""

    def __init__(self, reply: bytes) -> None:
        self._reply = reply

    def connection_made(self, transport) -> None:
        transport.write(self._reply)
        transport.close()


class _NoClientText(logging.Filter):
    """Keeps what clients send out of aiosmtpd's 'mail.log' lines.

    aiosmtpd quotes client input in its log: every command line (at INFO),
    and at WARNING any line it does not recognise, which includes the base64
    password of an AUTH LOGIN refused for want of TLS and the binary bytes
    of a TLS handshake sent to the plain port. Every argument of its log
    calls other than the peer address and numbers is replaced by its length.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_harmless(value) for value in record.args)
        elif record.args:
            record.args = {key: _harmless(value) for key, value in record.args.items()}
        return True


def _harmless(value):
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, tuple) and all(isinstance(part, (str, int)) for part in value):
        return value  # the peer, ('192.0.2.2', 43654)
    if isinstance(value, (str, bytes, bytearray)):
        return f"[{len(value)} characters from the client, not logged]"
    return f"[{type(value).__name__}, not logged]"


def keep_client_text_out_of_the_log() -> None:
    """Install the 'mail.log' filter once per process (every Relay calls it)."""
    mail_log = logging.getLogger("mail.log")
    if not any(isinstance(existing, _NoClientText) for existing in mail_log.filters):
        mail_log.addFilter(_NoClientText())


class Relay:
    def __init__(self, config: RelayConfig, directory: Directory) -> None:
        self.config = config
        self.directory = directory
        self.journal = Journal(config.hostname)
        self._pruner: asyncio.Task | None = None
        self.spool: Spool | None = None
        self.scheduler: Scheduler | None = None
        self.capture: CaptureStore | None = None
        self._server: asyncio.base_events.Server | None = None
        self._sessions: set[_RelaySMTP] = set()
        self.stopping = False
        self._sighup = False
        self._executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="relay-db")
        self._tls = self._tls_context()
        self._auth = AuthUsers(config.auth_file) if config.auth_file else None
        keep_client_text_out_of_the_log()
        self.handler = RelayHandler(
            directory,
            self._sink,
            self.journal,
            networks=parse_networks(config.allow),
            hostname=config.hostname,
            category_header=config.category_header,
            limits=Limits(config.max_received, config.max_recipients),
            executor=self._executor,
        )

    @property
    def port(self) -> int:
        assert self._server is not None, "the relay is not started"
        return self._server.sockets[0].getsockname()[1]

    async def start(self) -> None:
        self.journal.start()
        if self.config.capture:
            self.capture = CaptureStore(self.journal, self.config.capture_retention)
        else:
            self.spool = Spool(self.config.spool_dir)
            self.spool.open()
            pool = UpstreamPool(
                UpstreamConfig(
                    host=self.config.upstream_host or "",
                    port=self.config.upstream_port,
                    tls=self.config.upstream_tls,  # type: ignore[arg-type]
                    verify=self.config.upstream_verify,
                    ca_file=self.config.upstream_ca_file,
                    username=self.config.upstream_user,
                    password=self.config.upstream_password,
                    helo_name=self.config.hostname,
                    connections=self.config.upstream_connections,
                )
            )
            policy = RetryPolicy(self.config.min_backoff, self.config.max_backoff, self.config.max_lifetime)
            self.scheduler = Scheduler(
                self.spool, pool, policy=policy, on_status=self._on_status, reporting_mta=self.config.hostname
            )
            await self.scheduler.start()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, self.config.listen_host, self.config.listen_port)
        if self.config.log_retention_days > 0:
            self._pruner = loop.create_task(self._prune_log(), name="relay-log-retention")
        # SIGHUP is the usual "reload": without a handler it would kill the
        # relay. Signal handlers exist only in the main thread (not in the demo's).
        if threading.current_thread() is threading.main_thread():
            try:
                loop.add_signal_handler(signal.SIGHUP, self.reload)
                self._sighup = True
            except (NotImplementedError, RuntimeError, ValueError):
                pass

    def reload(self) -> None:
        """SIGHUP: read the auth file again, and say so in the log."""
        if self._auth is None:
            log.warning("SIGHUP: nothing to reload (no --auth-file); the relay keeps running")
            return
        log.warning("SIGHUP: %s", self._auth.reload())

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop accepting, let transactions in flight finish, keep the rest in the spool.

        Sessions between transactions get 421 at once. A session after MAIL
        (sending RCPTs, or its DATA) may finish that transaction within
        ``timeout`` and gets the usual 250 once the message is in the spool;
        then 421. Whatever is still unfinished at the deadline gets 421 too.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self.stopping = True
        if self._server is not None:
            self._server.close()
        if self._pruner is not None:
            self._pruner.cancel()
        if self._sighup:
            loop.remove_signal_handler(signal.SIGHUP)
            self._sighup = False
        for session in list(self._sessions):
            if not session.in_transaction:
                session.close_for_shutdown()
        while loop.time() < deadline and (
            self.handler.in_flight or any(session.in_transaction for session in self._sessions)
        ):
            await asyncio.sleep(0.05)
        for session in list(self._sessions):
            session.close_for_shutdown()
        if self.scheduler is not None:
            await self.scheduler.stop(max(1.0, deadline - loop.time()))
        await self.journal.stop()
        if self.spool is not None:
            await self.spool.close()
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _prune_log(self) -> None:
        # The log would otherwise grow by a row per message for ever. Several
        # relays on one database may all prune: the deletes are idempotent.
        keep = dt.timedelta(days=self.config.log_retention_days)
        while True:
            self.journal.prune(keep)
            await asyncio.sleep(LOG_PRUNE_INTERVAL)

    def _protocol(self) -> asyncio.Protocol:
        if self.stopping:
            return _Refuse(_SHUTTING_DOWN)
        if len(self._sessions) >= self.config.max_connections:
            log.warning("refused a connection: %d sessions open already", len(self._sessions))
            return _Refuse(_BUSY)
        session = _RelaySMTP(
            self,
            self.handler,
            data_size_limit=self.config.max_size,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=self.config.hostname,
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
            log.warning("failed AUTH for user %r from %s", user, peer)
        return AuthResult(success=ok, handled=False)

    def _tls_context(self) -> ssl.SSLContext | None:
        if not self.config.tls_cert:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(self.config.tls_cert), str(self.config.tls_key))
        return context

    async def _sink(self, queue_id: str, envelope: Envelope, entry: LogEntry, original: bytes) -> str:
        entry.queue_id = queue_id
        if self.capture is not None:
            entry.status = "captured"
            captured = await self.capture.store(entry, original, envelope.data)
            return f"captured as {captured} (queue id {queue_id})"
        assert self.spool is not None
        await self.spool.commit(envelope, queue_id=queue_id)
        entry.status = "queued"
        self.journal.received(entry)
        return f"queued as {queue_id}"

    def _on_status(self, queue_id: str, meta: dict, status: str, detail: StatusDetail) -> None:
        error = "" if status == "delivered" else detail.reply
        self.journal.status(queue_id, status, attempts=detail.attempts, last_error=error)
        _log_status(queue_id, status, detail)
        if detail.dsn_id:
            failed = ", ".join(detail.failed) or "recipients"
            self.journal.received(
                LogEntry(
                    queue_id=detail.dsn_id,
                    sender="",
                    recipients=[str(meta.get("sender", ""))] if meta.get("sender") else [],
                    subject=f"Delivery status notification for {queue_id}",
                    decision="bounce",
                    reason=f"delivery to {failed} failed: {detail.reply}",
                )
            )


def _log_status(queue_id: str, status: str, detail: StatusDetail) -> None:
    """One line per delivery attempt, as an operator tailing the log expects (Postfix's status=)."""
    if status == "delivered":
        log.info("%s delivered to %s: %s", queue_id, ", ".join(detail.delivered), detail.reply)
    elif status == "deferred":
        when = time.strftime("%H:%M:%S", time.localtime(detail.next_attempt)) if detail.next_attempt else "soon"
        log.warning(
            "%s deferred after attempt %d, next at %s: %s (waiting for %s)",
            queue_id, detail.attempts, when, detail.reply, ", ".join(detail.pending),
        )
    elif status == "deleted":
        log.info("%s deleted from the queue: %s", queue_id, detail.reply)
    else:
        failed = "; ".join(f"{rcpt}: {reply}" for rcpt, reply in detail.failed.items())
        bounce = f"; bounce {detail.dsn_id} to the sender" if detail.dsn_id else ""
        log.warning("%s %s: %s%s", queue_id, status, failed or detail.reply, bounce)


class RelayThread:
    """A relay with its own event loop in a background thread (the demo's relay)."""

    def __init__(self, config: RelayConfig, directory: Directory) -> None:
        self.relay = Relay(config, directory)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="relay", daemon=True)

    @property
    def port(self) -> int:
        return self.relay.port

    def start(self, timeout: float = 10.0) -> "RelayThread":
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the relay did not start in time")
        if self._error is not None:
            raise self._error
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if not self._thread.is_alive():
            return
        future = asyncio.run_coroutine_threadsafe(self.relay.stop(timeout), self._loop)
        try:
            future.result(timeout + 5)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.relay.start())
        except BaseException as exc:  # reported to start()'s caller
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()
