"""Receiving: the aiosmtpd handler that checks, rewrites and commits each message.

The client gets 250 only after the rewritten message is durable (in the spool,
or in the database in capture mode). Anything that stops that answers with a
4xx (try again) or 5xx (do not) code and a sentence saying why.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Awaitable, Callable

from aiosmtpd.smtp import SMTP, Envelope as SmtpEnvelope, Session

from contacts_tui.core.directory import Directory
from contacts_tui.core.errors import DirectoryError
from contacts_tui.core.records import Resolution

from .access import peer_allowed
from .headers import decode_words, field_texts, header_end, parse_fields
from .journal import Journal, LogEntry
from .rewrite import Addition, RewriteResult, category_in_fields, received_header, rewrite, transport_address
from .spool import Envelope, mail_flags, new_queue_id

log = logging.getLogger(__name__)

Sink = Callable[[str, Envelope, LogEntry, bytes], Awaitable[str]]
"""sink(queue_id, envelope, log entry, original bytes) -> the text after "250 2.0.0 Ok: "."""


@dataclass(frozen=True)
class Limits:
    max_received: int = 50
    max_recipients: int = 1000


class RelayHandler:
    """aiosmtpd handler: MAIL/RCPT policy, then rewrite and commit at DATA."""

    def __init__(
        self,
        directory: Directory,
        sink: Sink,
        journal: Journal,
        *,
        networks,
        hostname: str,
        category_header: str,
        limits: Limits = Limits(),
        executor: ThreadPoolExecutor | None = None,
    ) -> None:
        self.directory = directory
        self.sink = sink
        self.journal = journal
        self.networks = networks
        self.hostname = hostname
        self.category_header = category_header
        self.limits = limits
        self.executor = executor or ThreadPoolExecutor(max_workers=8, thread_name_prefix="resolve")
        self.in_flight = 0

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: SmtpEnvelope, hostname: str,
                          responses: list[str]) -> list[str]:
        # aiosmtpd reads commands one after another from its buffer, so a
        # pipelined group is handled in order; the replies are coalesced in server.py.
        session.host_name = hostname
        responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: SmtpEnvelope, address: str, options):
        if not (session.authenticated or peer_allowed(_peer_ip(session), self.networks)):
            log.info("refused MAIL from %s: not an allowed network and not authenticated", _peer_ip(session))
            return "530 5.7.0 Authentication required: this relay accepts mail only from allowed networks or after AUTH over TLS"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 Sender ok"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: SmtpEnvelope, address: str, options):
        if len(envelope.rcpt_tos) >= self.limits.max_recipients:
            reply = f"452 4.5.3 Too many recipients (at most {self.limits.max_recipients} per message)"
            # One log entry per message, not one per recipient over the limit:
            # a client may well send a thousand more.
            if not getattr(envelope, "recipients_refused", False):
                envelope.recipients_refused = True
                self.refuse(session, envelope.mail_from, [address], reply,
                            "this recipient and any after it; the message may go on to the others")
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 Recipient ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: SmtpEnvelope) -> str:
        # Counted so a graceful shutdown can wait for messages being committed.
        self.in_flight += 1
        try:
            return await self._data(session, envelope)
        finally:
            self.in_flight -= 1

    async def _data(self, session: Session, envelope: SmtpEnvelope) -> str:
        data = envelope.original_content or b""
        sender = envelope.mail_from or ""
        sender = "" if sender == "<>" else sender
        recipients = list(envelope.rcpt_tos)
        # Only the header block is parsed; slicing it off avoids copying a large body.
        fields = parse_fields(data[: header_end(data)])
        entry = LogEntry(
            queue_id="",
            sender=sender,
            recipients=recipients,
            message_id=_first(fields, "message-id"),
            subject=decode_words(_first(fields, "subject"))[:1000],
            size=len(data),
        )
        hops = sum(1 for f in fields if f.name == "received")
        if hops > self.limits.max_received:
            return self._refuse(
                entry, f"554 5.4.6 Too many hops ({hops} Received headers): a mail loop?", peer=_peer_ip(session)
            )

        category = category_in_fields(fields, self.category_header)
        entry.category = category or ""
        resolution: Resolution | None = None
        if category:
            try:
                resolution = await asyncio.get_running_loop().run_in_executor(
                    self.executor, self.directory.resolve, recipients, category
                )
            except Exception as exc:
                # Whatever stops the lookup (a dropped connection, a revoked
                # grant, a corrupt file) is temporary to the sender: a 5xx
                # would lose the notification, a send would lose the contacts.
                if not isinstance(exc, DirectoryError):
                    log.exception("directory lookup failed for a %s message", category)
                detail = " ".join(str(exc).split()) or type(exc).__name__
                return self._refuse(
                    entry, "451 4.3.0 The contact directory is unavailable; please try again later", detail,
                    peer=_peer_ip(session),
                )
        queue_id = new_queue_id()
        smtputf8, eightbit = mail_flags(envelope.mail_options)
        trace = received_header(
            helo=session.host_name or "unknown",
            peer_ip=_peer_ip(session) or "unknown",
            by_host=self.hostname,
            queue_id=queue_id,
            recipients=recipients,
            tls=session.ssl is not None,
            authenticated=bool(session.authenticated),
            smtputf8=smtputf8,
        )
        additions = [Addition(a.email, a.name) for a in resolution.additions] if resolution else []
        result = rewrite(data, recipients, additions, trace, utf8_headers=smtputf8)
        _describe(entry, category, resolution, result, smtputf8)
        spooled = Envelope(
            sender=sender,
            recipients=recipients + result.envelope_added,
            data=result.message,
            smtputf8=smtputf8 or result.needs_smtputf8,
            eightbit=eightbit,
            meta={"category": entry.category_key, "sender": sender},
        )
        try:
            where = await self.sink(queue_id, spooled, entry, data)
        except Exception as exc:  # disk full, database gone: nothing was acknowledged
            return self._refuse(
                entry, "451 4.3.0 The message could not be stored; please try again later", str(exc),
                peer=_peer_ip(session), level=logging.ERROR,
            )
        log.info(
            "%s from %s to %s: %s (%s)", where, sender or "<>", ",".join(recipients), entry.decision, entry.reason
        )
        return f"250 2.0.0 Ok: {where}"

    async def handle_exception(self, error: Exception) -> str:
        # aiosmtpd's default answers "500 Error: (Type) text": permanent, so
        # the sender drops the mail, and it shows our internals to clients.
        log.error("unexpected error in an SMTP session", exc_info=error)
        return "451 4.3.0 Local error in processing; please try again later"

    def refuse(self, session: Session, sender: str | None, recipients: list[str], reply: str, detail: str) -> None:
        """Log a refusal decided outside DATA (the size limit, the recipient limit)."""
        sender = "" if sender in (None, "<>") else sender
        entry = LogEntry(queue_id="", sender=sender or "", recipients=list(recipients))
        self._refuse(entry, reply, detail, peer=_peer_ip(session))

    def _refuse(
        self, entry: LogEntry, reply: str, detail: str = "", *, peer: str | None = None, level: int = logging.WARNING
    ) -> str:
        """Every refusal is in the relay log and in the process log, with its reason."""
        entry.decision = "refused"
        entry.status = "refused"
        entry.reason = reply[4:] + (f" ({detail})" if detail else "")
        self.journal.received(entry)
        log.log(
            level, "refused a message from %s to %s (client %s): %s %s",
            entry.sender or "<>", ",".join(entry.recipients) or "nobody yet", peer or "unknown",
            reply[:3], entry.reason,
        )
        return reply


def _describe(
    entry: LogEntry, category: str | None, resolution: Resolution | None, result: RewriteResult, smtputf8: bool
) -> None:
    """Fill the log entry with the decision and its reasons."""
    if resolution is not None:
        entry.category_key = resolution.category or ""
        entry.customers = [c.email for c in resolution.customers]
    added = set(result.envelope_added)
    entry.added = []
    for a in resolution.additions if resolution else ():
        sent = transport_address(a.email, smtputf8)
        if sent in added:
            item = {"email": a.email, "name": a.name, "customer": a.customer_email, "reason": a.reason}
            entry.added.append(item | ({"sent": sent} if sent != a.email else {}))
    notes = list(resolution.notes) if resolution else []
    notes += [
        f"{a['email']} written as {a['sent']}: the sender did not use SMTPUTF8" for a in entry.added if "sent" in a
    ]
    notes += [f"{address} not added: {why}" for address, why in result.skipped]
    if not result.cc_locked_by_dkim:
        notes += [
            f"{address} added to the envelope only: the address needs SMTPUTF8, which the sender did not use"
            for address in result.envelope_added
            if address not in result.header_added
        ]
    if category is None:
        entry.decision, reason = "unchanged", "no notification category header"
    elif not result.envelope_added:
        entry.decision = "unchanged"
        reason = resolution.reason if resolution and not resolution.additions else "everyone opted in is already a recipient"
    elif result.cc_locked_by_dkim:
        entry.decision = "envelope-only"
        reason = f"{resolution.reason}; a DKIM signature covers Cc, so they were added to the envelope only"
    else:
        entry.decision, reason = "rewritten", resolution.reason
    entry.reason = "; ".join([reason, *notes])


def _first(fields, name: str) -> str:
    values = field_texts(fields, name)
    return values[0].strip() if values else ""


def _peer_ip(session: Session) -> str | None:
    peer = session.peer
    if isinstance(peer, (tuple, list)) and peer:
        return str(peer[0])
    return None
