"""Receiving: the aiosmtpd handler that checks, rewrites and commits each message.

The client gets 250 only after the rewritten message is durable (in the spool,
or in the database in capture mode). Anything that stops that answers with a
4xx (try again) or 5xx (do not) code and a sentence saying why.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import peewee
from aiosmtpd.smtp import SMTP, Session
from aiosmtpd.smtp import Envelope as SmtpEnvelope

from contacts_tui.core.controls import has_control
from contacts_tui.core.db import is_pooled
from contacts_tui.core.directory.service import Directory
from contacts_tui.core.errors import DirectoryError
from contacts_tui.core.mail.relay_log import LogEntry
from contacts_tui.core.mail.status import Status
from contacts_tui.core.mail.verdict import Verdict
from contacts_tui.core.models import utcnow
from contacts_tui.core.records import Resolution
from contacts_tui.core.tagging.engine import NO_RULES, RuleSet, Tagging
from contacts_tui.core.tagging.kept import keep
from contacts_tui.core.tagging.store import LiveRules

from ..ops import metrics
from ..queue import QueuedMessage, mail_flags, new_queue_id
from ..rewrite import CopyPlan, HeaderBlock, read_category, received_header, write_copy
from ..rewrite.headers import header_end
from ..store.writer import LogWriter
from . import decision, replies
from .access import peer_allowed, peer_ip
from .decision import DEFAULT_LIMITS, Limits
from .replies import Answer

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Seconds a directory lookup may take before the sender gets 451.
LOOKUP_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One copy of an accepted message, ready to commit: what was decided for it (for
    whom, who was added and why), its queue record, its bytes, and its log entry."""

    plan: CopyPlan
    message: QueuedMessage
    data: bytes
    entry: LogEntry


Sink = Callable[[Sequence[Outgoing], bytes], Awaitable[str]]
"""sink(every copy of a message, the original bytes) -> the text after "250 2.0.0 Ok: ".

All the copies are durable together before it returns, or none is acknowledged."""


def address_problem(address: str) -> str | None:
    """Why an address from MAIL FROM or RCPT TO cannot be carried on, or None.

    aiosmtpd keeps bytes that are not UTF-8 as surrogates: such an address
    could be neither written to the upstream nor put in a bounce.
    """
    try:
        address.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid UTF-8"
    if has_control(address):
        return "contains a control character"
    return None


class RelayHandler:
    """aiosmtpd handler: MAIL/RCPT policy, then rewrite and commit at DATA."""

    def __init__(
        self,
        directory: Directory,
        sink: Sink,
        log_writer: LogWriter,
        *,
        networks,
        hostname: str,
        category_header: str,
        limits: Limits = DEFAULT_LIMITS,
        executor: ThreadPoolExecutor | None = None,
        lookup_timeout: float = LOOKUP_TIMEOUT,
        tagging: LiveRules | None = None,
    ) -> None:
        self.directory = directory
        self.sink = sink
        self.log_writer = log_writer
        self.networks = networks
        self.hostname = hostname
        self.category_header = category_header
        self.limits = limits
        self.executor = executor or ThreadPoolExecutor(max_workers=8, thread_name_prefix="resolve")
        self.lookup_timeout = lookup_timeout
        # The tagging rules, for messages without a category header (None: no rules, as in tests).
        self.tagging = tagging
        self.chaos: list = []  # chaos rules (contacts_tui.core.mail.chaos), kept current by the capture relay
        # An SQLite lookup reads a local file in a fraction of a millisecond, and
        # in WAL mode no writer blocks it: it runs right here. Handing it to a
        # thread and back cost more than the query (a sixth of the relay's
        # time). A server's database may stall (a stopped PostgreSQL, a
        # network): its lookups go to threads, with a timeout.
        self.inline_lookups = isinstance(directory.database, peewee.SqliteDatabase)
        self.in_flight = 0

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: SmtpEnvelope, hostname: str, responses: list[str]
    ) -> list[str]:
        # aiosmtpd reads commands one after another from its buffer, so a
        # pipelined group is handled in order; the replies are coalesced in protocol.py.
        session.host_name = hostname
        responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: SmtpEnvelope, address: str, options):
        if not (session.authenticated or peer_allowed(peer_ip(session.peer), self.networks)):
            logger.info("refused MAIL from %s: not an allowed network and not authenticated", peer_ip(session.peer))
            return _counted(replies.AUTH_REQUIRED())
        problem = address_problem(address)
        if problem:
            return _counted(replies.BAD_SENDER(problem=problem))
        chaos = await self._chaos("mail", session, address, [], None)
        if chaos:
            return chaos
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return replies.SENDER_OK().text

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: SmtpEnvelope, address: str, options):
        if not address or address == "<>":
            # Accepted, it could only ever bounce: backscatter to whoever sent it.
            return _counted(replies.NULL_RECIPIENT())
        problem = address_problem(address)
        if problem:
            return _counted(replies.BAD_RECIPIENT(problem=problem))
        if len(envelope.rcpt_tos) >= self.limits.max_recipients:
            reply = replies.TOO_MANY_RECIPIENTS(limit=self.limits.max_recipients)
            # One log entry per message, not one per recipient over the limit:
            # a client may well send a thousand more.
            if not getattr(envelope, "recipients_refused", False):
                # A field of our own on aiosmtpd's envelope: this message's refusal is logged.
                envelope.recipients_refused = True  # type: ignore[attr-defined]
                self.refuse(
                    session,
                    envelope.mail_from,
                    [address],
                    reply,
                    "this recipient and any after it; the message may go on to the others",
                )
            return reply.text
        chaos = await self._chaos("rcpt", session, envelope.mail_from or "", [address], None)
        if chaos:
            return chaos
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return replies.RECIPIENT_OK().text

    async def handle_DATA(self, server: SMTP, session: Session, envelope: SmtpEnvelope) -> str:
        # Counted so a graceful shutdown can wait for messages being committed.
        self.in_flight += 1
        started = time.perf_counter()
        metrics.current.received.inc()
        try:
            return await self._data(session, envelope)
        finally:
            self.in_flight -= 1
            metrics.current.accept.observe(time.perf_counter() - started)

    async def _data(self, session: Session, envelope: SmtpEnvelope) -> str:
        original = envelope.original_content or b""
        sender = envelope.mail_from or ""
        sender = "" if sender == "<>" else sender
        recipients = list(envelope.rcpt_tos)
        # Big header blocks are read in a thread, so that the replies to other
        # sessions do not wait for them.
        offload = header_end(original) > self.limits.inline_header_bytes
        # The DATA reader knows already whether there is a bare CR or LF to turn into CRLF.
        read = functools.partial(
            decision.read, original, self.limits, bare_line_ends=getattr(envelope, "bare_line_ends", True)
        )
        reading = await asyncio.to_thread(read) if offload else read()
        data, headers = reading.data, reading.headers
        entry = LogEntry(
            sender=sender,
            recipients=tuple(recipients),
            message_id=headers.first("message-id")[:998],
            subject=headers.decoded("subject")[:1000],
            size=len(original),
        )
        if reading.refusal:
            return self._refuse(entry, reading.refusal, peer=peer_ip(session.peer))

        category = read_category(headers, self.category_header, known=self.directory.catalog.resolve)
        tagging = NO_RULES
        if category is None and self.tagging is not None:
            # No header: the tagging rules may give it a category (a header always wins over every rule).
            try:
                rules = await self._ask(self.tagging.current)
            except Exception as exc:
                if self.tagging.may_tag:
                    return self._unavailable(entry, exc, session, "the tagging rules")
                rules = self.tagging.last  # none on: nobody to add, so it goes on (LiveRules.may_tag)
            untagged = lambda: _untagged(rules, headers, sender, recipients)  # noqa: E731
            tagging, entry.kept_headers = await asyncio.to_thread(untagged) if offload else untagged()
            category = tagging.category
        entry.category = category or ""
        chaos = await self._chaos("data", session, sender, recipients, category)
        if chaos:
            return chaos
        resolution: Resolution | None = None
        if category:
            try:
                resolution = await self._resolve(recipients, category)
            except Exception as exc:
                return self._unavailable(entry, exc, session, f"a {category} message", tagging)
        smtputf8, eightbit = mail_flags(envelope.mail_options)
        copying = functools.partial(
            self._copies, data, headers, session, recipients, category, resolution, smtputf8, tagging
        )
        copies = await asyncio.to_thread(copying) if offload else copying()
        metrics.count_message([verdict for _, verdict, _, _ in copies])
        outgoing = []
        if len(copies) > 1:
            entry.received_at = utcnow()  # every copy's: the copies were received together
        entry.category_key = resolution.category or "" if resolution else ""
        for number, (plan, verdict, queue_id, message_data) in enumerate(copies, start=1):
            if len(copies) == 1:
                copy_entry = entry
                copy_entry.queue_id = queue_id
            else:
                copy_entry = dataclasses.replace(entry, queue_id=queue_id, recipients=plan.recipients)
                copy_entry.copy_of, copy_entry.copy_number, copy_entry.copy_count = copies[0][2], number, len(copies)
            copy_entry.customers = tuple(customer.email for customer in plan.audience.customers)
            copy_entry.verdict = verdict
            message = QueuedMessage(
                queue_id=queue_id,
                sender=sender,
                recipients=plan.envelope,
                smtputf8=smtputf8 or plan.needs_smtputf8,
                eightbit=eightbit,
                category=copy_entry.category_key,
                crlf=True,
            )
            outgoing.append(Outgoing(plan, message, message_data, copy_entry))
        try:
            where = await self.sink(outgoing, original)
        except Exception as exc:  # disk full, database gone: nothing was acknowledged
            return self._refuse(
                entry,
                replies.NOT_STORED(),
                str(exc),
                peer=peer_ip(session.peer),
                level=logging.ERROR,
            )
        for copy in outgoing if logger.isEnabledFor(logging.INFO) else ():
            copy_entry = copy.entry
            logger.info(
                "%s from %s to %s: %s (%s)",
                f"{copy_entry.copy_label} ({copy_entry.queue_id})" if copy_entry.copy_label else where,
                sender or "<>",
                ",".join(copy.message.recipients),
                copy_entry.verdict.decision,
                copy_entry.verdict.reason,
                extra={"mail": _fields(copy_entry)},
            )
        return replies.ACCEPTED(where=where).text

    def _copies(
        self,
        data: bytes,
        headers: HeaderBlock,
        session: Session,
        recipients: list[str],
        category: str | None,
        resolution: Resolution | None,
        smtputf8: bool,
        tagging: Tagging,
    ) -> list[tuple[CopyPlan, Verdict, str, bytes]]:
        """Each copy of the message: its plan, its verdict, its queue id, and its bytes with its own Received field."""
        copies = []
        taken: set[str] = set()
        for plan, verdict in decision.plan(headers, recipients, category, resolution, smtputf8, tagging):
            queue_id = new_queue_id()
            while queue_id in taken:  # copies made within one microsecond
                queue_id = new_queue_id()
            taken.add(queue_id)
            trace = received_header(
                helo=session.host_name or "unknown",
                peer_ip=peer_ip(session.peer) or "unknown",
                by_host=self.hostname,
                queue_id=queue_id,
                recipients=plan.recipients,
                tls=session.ssl is not None,
                authenticated=bool(session.authenticated),
                smtputf8=smtputf8,
            )
            copies.append((plan, verdict, queue_id, write_copy(data, headers, plan, trace)))
        return copies

    async def read_rules(self) -> None:
        """Read the tagging rules once, as the relay starts: until then, a message without a header
        waits (451) while the database does not answer, since a rule might have tagged it."""
        if self.tagging is None:
            return
        try:
            await self._ask(self.tagging.current)
        except Exception as exc:
            logger.warning("tagging rules not read at start (%s); they are read again with the next message", exc)

    async def _resolve(self, recipients: list[str], category: str) -> Resolution:
        # The lookup histogram times whom to copy; reading the tagging rules is not a lookup.
        started = time.perf_counter()
        try:
            return await self._ask(self.directory.resolve, recipients, category)
        finally:
            metrics.current.lookup.observe(time.perf_counter() - started)

    async def _ask(self, call: Callable[..., T], *args) -> T:
        """The directory's answer to ``call(*args)``, or TimeoutError after ``lookup_timeout`` seconds.

        A database that takes the query and never answers (a stopped server,
        a stalled network) must not hold the sender's DATA: it gets a 451
        and tries again later. The thread stays with the query until the
        database answers or the connection breaks.
        """
        if self.inline_lookups:
            return call(*args)
        loop = asyncio.get_running_loop()
        lookup = loop.run_in_executor(self.executor, self._in_thread, call, *args)
        try:
            return await asyncio.wait_for(asyncio.shield(lookup), self.lookup_timeout)
        except TimeoutError:
            raise TimeoutError(f"the directory did not answer within {self.lookup_timeout:g} s") from None

    def _in_thread(self, call: Callable[..., T], *args) -> T:
        # Each lookup thread keeps a connection of the pool for itself: giving
        # it back and taking it again per message cost more than the query.
        database = self.directory.database
        if is_pooled(database):
            database.connect(reuse_if_open=True)
        return call(*args)

    def _unavailable(
        self, entry: LogEntry, exc: Exception, session: Session, what: str, tagging: Tagging = NO_RULES
    ) -> str:
        """451 for a message the directory could not answer about, logged with why (and the rule that
        tagged it, if one did before the lookup)."""
        # Whatever stops the lookup (a dropped connection, a revoked
        # grant, a corrupt file, a server that does not answer) is
        # temporary to the sender: a 5xx would lose the notification,
        # a send would lose the contacts.
        if not isinstance(exc, (DirectoryError, TimeoutError)):
            logger.exception("directory lookup failed for %s", what)
        detail = " ".join(str(exc).split()) or type(exc).__name__
        # An error, not a warning: mail is held back until someone
        # brings the directory back.
        return self._refuse(
            entry,
            replies.DIRECTORY_UNAVAILABLE(),
            detail,
            peer=peer_ip(session.peer),
            level=logging.ERROR,
            tagging=tagging,
        )

    async def handle_exception(self, error: Exception) -> str:
        # aiosmtpd's default answers "500 Error: (Type) text": permanent, so
        # the sender drops the mail, and it shows our internals to clients.
        logger.error("unexpected error in an SMTP session", exc_info=error)
        return replies.LOCAL_ERROR().text

    async def _chaos(
        self, stage: str, session: Session, sender: str, recipients: list[str], category: str | None
    ) -> str | None:
        """The reply of the first chaos rule that takes this mail at ``stage`` (capture mode), or None."""
        if not self.chaos:
            return None
        keys: list[str | None] = [category, self.directory.catalog.resolve(category)] if category else [None]
        rcpts: list[str | None] = [*recipients] or [None]
        for rule in self.chaos:
            if any(rule.matches(stage, sender or "", rcpt, key) for rcpt in rcpts for key in keys) and rule.fires():
                if rule.delay:
                    await asyncio.sleep(rule.delay)
                self.refuse(
                    session, sender, recipients, replies.chaos(rule.reply), f"chaos rule {rule.id}: {rule.describe()}"
                )
                return rule.reply
        return None

    def refuse(
        self,
        session: Session,
        sender: str | None,
        recipients: list[str],
        reply: Answer,
        detail: str,
    ) -> None:
        """Log a refusal decided outside DATA (the size limit, the recipient limit, chaos)."""
        sender = "" if sender in (None, "<>") else sender
        entry = LogEntry(sender=sender or "", recipients=tuple(recipients))
        self._refuse(entry, reply, detail, peer=peer_ip(session.peer))

    def _refuse(
        self,
        entry: LogEntry,
        reply: Answer,
        detail: str = "",
        *,
        peer: str | None = None,
        level: int = logging.WARNING,
        tagging: Tagging = NO_RULES,
    ) -> str:
        """Every refusal is in the relay log and in the process log, with its reason."""
        entry.verdict = decision.refused(reply, detail, tagging)
        entry.status = Status.REFUSED
        self.log_writer.received(entry)
        metrics.count_refusal(reply.label)
        logger.log(
            level,
            "refused a message from %s to %s (client %s): %s %s",
            entry.sender or "<>",
            ",".join(entry.recipients) or "nobody yet",
            peer or "unknown",
            reply.code,
            entry.verdict.reason,
            extra={"mail": _fields(entry, reply.text)},
        )
        return reply.text


def _untagged(rules: RuleSet, headers: HeaderBlock, sender: str, recipients: list[str]) -> tuple[Tagging, str]:
    """What the tagging rules make of a message without a category header, and the headers the
    relay log keeps of it, so a rule written later can be tried on it (``contacts-relay rules try``)."""
    return rules.tagging(headers, sender, recipients), keep((field.name, field.raw) for field in headers.fields)


def _counted(reply: Answer) -> str:
    """A refusal at MAIL or RCPT, counted: the relay log has no message to show for it yet."""
    metrics.count_refusal(reply.label)
    return reply.text


def _fields(entry: LogEntry, reply: str = "") -> dict:
    """What a log shipper gets of a message (--log-format json)."""
    return {
        "queue_id": entry.queue_id,
        "sender": entry.sender,
        "recipients": list(entry.recipients),
        "category": entry.category,
        "tagged_by": entry.verdict.tagged_by,
        "added": [person.sent for person in entry.verdict.added],
        "status": str(entry.status),
        "decision": str(entry.verdict.decision),
        "copy_of": entry.copy_of,
        "copy_number": entry.copy_number,
        "copy_count": entry.copy_count,
        "reply": reply or "250",
    }
