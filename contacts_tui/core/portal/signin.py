"""Signing in to the customer portal with a one-time code sent by mail.

Only a customer's primary email signs in. Whoever asks for a code gets the
same answer, as fast, whether the address is a customer's or not: the answer
comes once the address is checked for its form, and all the rest (is it a
customer's, storing the code, the mail) is done after it, in the background,
a few seconds later at a moment nobody can foresee.
A code is six digits, lives ten minutes, allows five tries, and an address
gets at most three an hour (directory/lockout.py), which is said to whoever asks, with
when the next may be had: every address is counted alike, so that tells
nobody who is a customer. Only the newest code of an address works.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import heapq
import hmac
import itertools
import logging
import secrets
import smtplib
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

import peewee

from ..db import database_call
from ..directory import lockout
from ..directory.history import PORTAL_CHANNELS
from ..directory.lockout import MAX_REQUESTS, REQUEST_WINDOW
from ..directory.service import Directory
from ..errors import DatabaseUnavailable, TooManyCodes, ValidationError
from ..migrate import write_transaction
from ..models import Customer, SignInCode, utcnow
from ..records import CustomerRecord
from ..validate import clean_email, email_key
from ..wording import Phrase
from .language import DEFAULT_LANGUAGE, LANGUAGES, translation

CODE_DIGITS = 6
CODE_LIFETIME = dt.timedelta(minutes=10)
MAX_TRIES = 5
CATEGORY = "portal-sign-in"
"""The code mail's X-Notification-Category: no catalog has it, so a relay
passes the mail on unchanged (and a capture relay shows it)."""
SMTP_TIMEOUT = 30
WORKERS = 4
"""Code requests worked on at once (each costs a scrypt and maybe a mail)."""
WORK_DELAY = (1.0, 5.0)
"""Seconds after the answer when a code request's work starts, at random between these."""

# Why scrypt with a salt of its own per code: six digits are only a million
# values, so a fast hash (SHA-256) of a code is reversed from a copy of the
# database in well under a second. scrypt at n=2**14 costs about 50 ms and
# 16 MiB per guess: all million guesses take hours of one core, long after
# the code expired. A keyed hash (HMAC) would need a secret outside the
# database that every portal process shares; this needs none.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
_SCHEME = "scrypt"

log = logging.getLogger(__name__)
_uses_database = database_call(lambda self, *args: self.database)


def hash_code(code: str) -> str:
    """The stored form of a code: scheme, salt and scrypt hash."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(code.encode("ascii"), salt=salt, **_SCRYPT)
    return f"{_SCHEME}${salt.hex()}${digest.hex()}"


def code_matches(code: str, stored: str) -> bool:
    """Whether ``code`` is the one ``stored`` was made from (constant time)."""
    scheme, _, rest = stored.partition("$")
    salt_hex, _, digest_hex = rest.partition("$")
    try:
        salt, digest = bytes.fromhex(salt_hex), bytes.fromhex(digest_hex)
    except ValueError:
        salt, digest = b"\0" * 16, b""
    candidate = code.encode("ascii", "replace") if code.isascii() else b"?"
    actual = hashlib.scrypt(candidate, salt=salt, **_SCRYPT)
    return scheme == _SCHEME and hmac.compare_digest(actual, digest)


# The same work for an address without a customer, so that it takes as long.
_DUMMY = hash_code("000000")


def normal_code(text: str) -> str:
    """A code as typed ("123 456", "123-456") as its six digits, or "" when it is not one."""
    digits = "".join(ch for ch in text if not ch.isspace() and ch != "-")
    return digits if len(digits) == CODE_DIGITS and digits.isascii() and digits.isdigit() else ""


@dataclass(frozen=True)
class MailRoute:
    """Where code mails go: an SMTP server (the relay, or the real mail server) and the sender."""

    host: str
    port: int
    sender: str = ""
    """The sender given to this program; "" for the one the settings store, or the default."""

    @property
    def from_address(self) -> str:
        return self.sender or f"portal@{socket.getfqdn()}"

    def with_stored(self, stored: str) -> MailRoute:
        """This route, with the stored sender where none was given to this program."""
        return self if self.sender or not stored else replace(self, sender=stored)


def local_sender(address: str) -> str:
    """The warning for a sender whose domain only this machine knows, as the relay gives for its own name."""
    return (
        f"the sign-in codes are mailed from {address}, a name only this machine knows; many mail servers "
        "refuse or junk such mail: set a sender with --mail-from (CONTACTS_MAIL_FROM), or for every "
        "portal service of the database with 'contacts-tui settings --mail-from ADDRESS'"
    )


class SignIn:
    """Codes for the portal: ask for one, check one.

    ``clock`` returns naive UTC (models.utcnow); tests pass one they move.
    """

    def __init__(
        self,
        directory: Directory,
        mail: MailRoute,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        delay: tuple[float, float] = WORK_DELAY,
    ) -> None:
        self.directory = directory
        self.mail = mail
        self.clock = clock
        self.delay = delay
        # The portal service makes every session's codes: a few at a time
        # (each costs a scrypt), and an address's in the order asked (only
        # the newest works, so it must be the last to arrive).
        self._work = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="portal-code")
        self._later = _Later()
        self._lock = threading.Lock()
        self._pending: dict[Future, str] = {}
        self._last_start: dict[str, float] = {}

    @property
    def database(self) -> peewee.Database:
        return self.directory.database

    def request_code(self, email: str) -> None:
        """Mail a new code to ``email`` if it is the primary email of a customer
        who may sign in.

        Says nothing either way, and answers before finding out: what the
        caller learns (and how long it takes) is the same for every address.
        The work happens afterwards, in order; ``wait_sent`` waits for it. An
        address that had three codes this hour gets TooManyCodes at once, with
        when it may ask again: every address is counted alike, so that tells
        nothing about customers either. A malformed address is a
        ValidationError, which tells nothing about customers.
        """
        address = clean_email(email)
        now = self.clock()
        self._refuse_if_limited(address, now)
        done: Future = Future()
        with self._lock:
            moment = time.monotonic()
            self._pending = {f: a for f, a in self._pending.items() if not f.done()}
            self._last_start = {a: t for a, t in self._last_start.items() if t > moment}
            before = [f for f, a in self._pending.items() if a == address]
            self._pending[done] = address
            # Later, at a moment nobody can foresee: the work of a customer's
            # address (storing, mailing) must not slow the answer to what is
            # asked next either. An address's requests keep their order.
            start = max(moment + _random.uniform(*self.delay), self._last_start.get(address, 0.0))
            self._last_start[address] = start
        self._later.at(start, lambda: self._submit(address, now, before, done))

    @_uses_database
    def _refuse_if_limited(self, address: str, now: dt.datetime) -> None:
        """TooManyCodes, with when the next may be asked for, where ``address``
        (a customer's or not) had as many codes as an hour allows: one read,
        the same for every address, that a writer holding the codes does not
        hold up. The request itself is counted with the work (``_store_code``)."""
        later = lockout.next_request_at(address, now)
        if later is not None:
            raise TooManyCodes(too_many(later, now), later)

    def _submit(self, address: str, now: dt.datetime, before: list[Future], done: Future) -> None:
        try:
            self._work.submit(self._issue, address, now, before, done)
        except RuntimeError:  # the program is ending: its workers take no more
            self._issue(address, now, before, done)

    def _issue(self, address: str, now: dt.datetime, before: list[Future], done: Future) -> None:
        wait(before)  # submitted earlier (first in, first out): never a wait for a later one
        # Nobody waits for this answer: what goes wrong goes to the log.
        try:
            sent = self._store_code(address, now)
            if sent is not None:
                route = self.route
                self._send(route, sent[1], code_message(route.from_address, *sent))
        except DatabaseUnavailable as exc:
            log.warning("could not make a portal sign-in code for %s: %s", address, exc)
        except Exception:
            log.exception("could not make a portal sign-in code for %s", address)
        finally:
            done.set_result(None)

    @_uses_database
    def _store_code(self, address: str, now: dt.datetime) -> tuple[str, str, str, str] | None:
        """The name, address, code and language to mail, once stored; None when no code goes out."""
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        stored = hash_code(code)
        self.directory.follow_settings()  # the stored sender, as it is now
        customer = self._customer(address)
        with write_transaction(self.database):
            # Every address is counted, a customer's or not (lockout.py). One
            # that reached the limit since its answer (several asked at once)
            # gets no code: its next request is told when.
            if lockout.take(address, now) is not None or customer is None:
                return None
            SignInCode.insert(
                customer=customer.id, code_hash=stored, created_at=now, expires_at=now + CODE_LIFETIME, tries=0
            ).execute()
        return customer.name, customer.email, code, mail_language(customer)

    @_uses_database
    def verify(self, email: str, code: str, channel: str) -> CustomerRecord | None:
        """The customer whose newest live code this is, now signed in through
        ``channel`` ("ssh" or "web"); None for anything else. Every check of a
        live code counts as one of its five tries, right or wrong."""
        if channel not in PORTAL_CHANNELS:
            raise ValueError(f"channel must be one of {PORTAL_CHANNELS}")
        try:
            address = clean_email(email)
        except ValidationError:
            code_matches("", _DUMMY)
            return None
        typed = normal_code(code)
        now = self.clock()
        customer = self._customer(address)
        row = self._live_code(customer.id, now) if customer is not None else None
        if customer is None or row is None or not typed:
            code_matches(typed, _DUMMY)
            return None
        with write_transaction(self.database):
            # One statement takes the try, so two sessions guessing at once
            # still get five between them.
            taken = (
                SignInCode.update(tries=SignInCode.tries + 1)
                .where((SignInCode.id == row.id) & (SignInCode.tries < MAX_TRIES) & SignInCode.used_at.is_null())
                .execute()
            )
        if not taken:
            code_matches(typed, _DUMMY)
            return None
        if not code_matches(typed, row.code_hash):
            return None
        with write_transaction(self.database):
            used = (
                SignInCode.update(used_at=now).where((SignInCode.id == row.id) & SignInCode.used_at.is_null()).execute()
            )
        if not used:
            return None  # the same code, used by another session a moment ago
        self.directory.record_sign_in(customer.id, channel)
        return self.directory.get_customer(customer.id)

    @_uses_database
    def next_code_at(self, email: str) -> dt.datetime | None:
        """When ``email`` may ask for a code again; ``None``: now (any address alike)."""
        try:
            address = clean_email(email)
        except ValidationError:
            return None
        return lockout.next_request_at(address, self.clock())

    def wait_sent(self, timeout: float = SMTP_TIMEOUT) -> None:
        """Wait until the codes asked for are made and mailed (a program about to end, a test)."""
        with self._lock:
            pending = list(self._pending)
        wait(pending, timeout)

    # -- internals ---------------------------------------------------------

    def _customer(self, address: str) -> Customer | None:
        """The customer who may sign in with this address, or None."""
        row = Customer.get_or_none(Customer.email_key == email_key(address))
        if row is None or not row.active or row.portal_disabled_at is not None:
            return None
        return row

    def _live_code(self, customer_id: int, now: dt.datetime) -> SignInCode | None:
        newest = (
            SignInCode.select()
            .where(SignInCode.customer == customer_id)
            .order_by(SignInCode.created_at.desc(), SignInCode.id.desc())
            .first()
        )
        if newest is None or newest.used_at is not None or newest.expires_at <= now or newest.tries >= MAX_TRIES:
            return None
        return newest

    @property
    def route(self) -> MailRoute:
        """Where and from whom code mails go now: the stored sender is followed as it changes."""
        return self.mail.with_stored(self.directory.stored.mail_from)

    def _send(self, route: MailRoute, address: str, message: bytes) -> None:
        try:
            with smtplib.SMTP(route.host, route.port, timeout=SMTP_TIMEOUT) as smtp:
                smtp.sendmail(route.from_address, [address], message)
        except (OSError, smtplib.SMTPException) as exc:
            # Never the code itself: logs are read by more people than the customer.
            log.warning(
                "could not send a portal sign-in code to %s via %s:%s: %s", address, self.mail.host, self.mail.port, exc
            )


def too_many(later: dt.datetime, now: dt.datetime) -> str:
    """Why no code is sent now, and when one can be (naive UTC times), for any address alike."""
    minutes = max(1, -(-int((later - now).total_seconds()) // 60))
    window = int(REQUEST_WINDOW.total_seconds() // 60)
    if minutes == 1:
        return Phrase(
            "this address has had {most} sign-in codes in the last {window} minutes, the most it may; "
            "a new code can be asked for in 1 minute",
            most=MAX_REQUESTS,
            window=window,
        )
    return Phrase(
        "this address has had {most} sign-in codes in the last {window} minutes, the most it may; "
        "a new code can be asked for in {minutes} minutes",
        most=MAX_REQUESTS,
        window=window,
        minutes=minutes,
    )


def mail_language(customer: Customer) -> str:
    """The language of a customer's code mail: the one stored on the customer.

    Only a customer is ever mailed, so the language tells nobody anything
    the address did not; the screen says the same to every address, in its
    own language."""
    return customer.language if customer.language in LANGUAGES else DEFAULT_LANGUAGE


def code_message(sender: str, name: str, address: str, code: str, language: str = DEFAULT_LANGUAGE) -> bytes:
    """The mail with the code, in the customer's ``language``: an ordinary
    notification of its own category."""
    _ = translation(language).gettext
    message = EmailMessage()
    message["From"] = formataddr((_("Contact Persons portal"), sender))
    message["To"] = formataddr((name, address))
    message["Subject"] = _("Your sign-in code for the contact persons portal")
    message["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message["X-Notification-Category"] = CATEGORY
    minutes = int(CODE_LIFETIME.total_seconds() // 60)
    message.set_content(
        _(
            "Your sign-in code: {code}\n\n"
            "Type it in the portal within {minutes} minutes. Only the newest code works.\n"
            "If you did not ask for it, ignore this mail: nobody can sign in without the code.\n"
        ).format(code=code, minutes=minutes)
    )
    # After the content: set_content drops every Content-* header set before it.
    message["Content-Language"] = language
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))


_random = secrets.SystemRandom()


class _Later:
    """Calls to run at given moments (time.monotonic), in turn, on one thread
    that lives while there are any (not a daemon: a program that ends still
    mails the codes it was asked for)."""

    def __init__(self) -> None:
        self._calls: list[tuple[float, int, Callable[[], object]]] = []
        self._numbers = itertools.count()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def at(self, moment: float, call: Callable[[], object]) -> None:
        with self._changed:
            heapq.heappush(self._calls, (moment, next(self._numbers), call))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="portal-code-later")
                self._thread.start()
            self._changed.notify()

    def _run(self) -> None:
        while True:
            with self._changed:
                if not self._calls:
                    self._thread = None
                    return
                moment, _, call = self._calls[0]
                left = moment - time.monotonic()
                if left > 0:
                    self._changed.wait(left)
                    continue
                heapq.heappop(self._calls)
            call()
