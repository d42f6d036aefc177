"""What a portal process holds instead of a database: the door to the portal service.

``PortalClient`` can ask for a code and sign in; ``sign_in`` gives a
``PortalSession``, which has the methods of ``PortalScope`` (so the portal's
screens do not know the difference) and answers each through the service,
scoped by the session's token. Nothing here opens a database or keeps a
customer's data: every answer is fetched when a screen asks for it.

Each call is a connection of its own: a Unix socket connects in tens of
microseconds, calls from several threads need no lock, and a service that
restarted is simply there again at the next call.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import itertools
import json
import socket
import sys
from dataclasses import dataclass
from typing import Any

from ..catalog import Catalog
from ..directory.history import Change
from ..records import ContactInput, ContactRecord, CustomerRecord
from ..wording import Phrase
from . import protocol as p
from .protocol import ServiceUnavailable, SessionEnded

__all__ = ["PortalClient", "PortalSession", "ServiceUnavailable", "SessionEnded", "WrongCode", "guard_process"]

TIMEOUT = 30.0
"""Seconds a call waits for its answer (a sign-in hashes on purpose slowly; a database may be busy)."""
DOWN = Phrase("the portal is not available right now: its service does not answer")


class PortalClient:
    """The portal service at ``path``, for a customer who has not signed in yet."""

    def __init__(self, path: str, *, timeout: float = TIMEOUT) -> None:
        self.path = str(path)
        self.timeout = timeout
        self._ids = itertools.count(1)

    def hello(self) -> dict[str, Any]:
        """The protocol version and channel the service gives this socket;
        raises ServiceUnavailable (with the socket and the reason) when it does not answer."""
        try:
            return self.call("hello")
        except ServiceUnavailable as exc:
            raise ServiceUnavailable(f"no portal service answers at {self.path}: {exc.__cause__ or exc}") from None

    def request_code(self, email: str) -> None:
        """Have a code mailed to ``email`` if it may sign in (the answer is the same
        either way); TooManyCodes says when an address past the limit may ask again."""
        self.call("request_code", email=email)

    def sign_in(self, email: str, code: str) -> PortalSession | None:
        """The customer's session, or None when the code is not (or no longer) right."""
        answer = self.try_code(email, code)
        return answer if isinstance(answer, PortalSession) else None

    def try_code(self, email: str, code: str) -> PortalSession | WrongCode:
        """The customer's session, or why not: the code is not (or no longer)
        right, and when a new one can be asked for."""
        try:
            answer = self.call("sign_in", email=email, code=code)
        except _WrongCode as wrong:
            return WrongCode(wrong.next_code_at)
        return PortalSession(self, answer["token"], answer)

    def call(self, op: str, token: str | None = None, **args: Any) -> Any:
        """One request and its answer: the result, or the core's error for the error answer."""
        request: dict[str, Any] = {"v": p.VERSION, "id": next(self._ids), "op": op, "args": args}
        if token is not None:
            request["token"] = token
        line = self._exchange(p.encode(request))
        try:
            answer = json.loads(line)
        except ValueError:
            raise ServiceUnavailable(DOWN) from None
        if answer.get("ok"):
            return answer.get("result")
        error = answer.get("error") or {}
        if error.get("code") == p.WRONG_CODE:
            later = error.get("next_code_at")
            raise _WrongCode(dt.datetime.fromisoformat(later) if isinstance(later, str) else None)
        raise p.error_from(error)

    def _exchange(self, request: bytes) -> bytes:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(self.timeout)
                sock.connect(self.path)
                try:
                    sock.sendall(request)
                except (BrokenPipeError, ConnectionResetError):
                    # A service that is busy answers at once and closes: its
                    # answer may be waiting to be read though our request was not.
                    pass
                answer = bytearray()
                while not answer.endswith(b"\n"):
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise ConnectionResetError("the service closed the connection without an answer")
                    answer += chunk
                    if len(answer) > p.MAX_ANSWER_BYTES:
                        raise ConnectionResetError("the service's answer is too long")
                return bytes(answer)
        except OSError as exc:  # not there, refused, no permission, timed out, reset
            raise ServiceUnavailable(DOWN) from exc


class _WrongCode(Exception):
    def __init__(self, next_code_at: dt.datetime | None) -> None:
        super().__init__("wrong code")
        self.next_code_at = next_code_at


@dataclass(frozen=True)
class WrongCode:
    """A sign-in code that is not (or no longer) right."""

    next_code_at: dt.datetime | None
    """When the address may ask for a new code (naive UTC); ``None``: now."""


class PortalSession:
    """One signed-in customer's contact persons, through the service: the
    methods of ``PortalScope``, plus ``sign_out``.

    ``catalog`` and ``max_contacts`` are read on the UI thread, so they are
    the service's answer at sign-in, renewed with every ``customer()``.
    """

    def __init__(self, client: PortalClient, token: str, about: dict[str, Any]) -> None:
        self._client = client
        self._token = token
        self.idle_timeout = about.get("idle_timeout")
        self.lifetime = about.get("lifetime")
        self._learn(about)

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    @property
    def max_contacts(self) -> int:
        return self._max_contacts

    @property
    def language(self) -> str:
        """The customer's language, as stored when last heard (validate.LANGUAGES)."""
        return self._language

    def customer(self) -> CustomerRecord:
        """The signed-in customer, while it may still use the portal."""
        return self._learn(self._call("customer"))

    def contacts(self, *, include_deleted: bool = True) -> list[ContactRecord]:
        return [p.contact_from(c) for c in self._call("contacts", include_deleted=include_deleted)]

    def add(self, data: ContactInput) -> ContactRecord:
        return p.contact_from(self._call("add", contact=p.contact_input_json(data)))

    def edit(self, contact_id: int, data: ContactInput) -> ContactRecord:
        return p.contact_from(self._call("edit", contact_id=contact_id, contact=p.contact_input_json(data)))

    def delete(self, contact_id: int) -> ContactRecord:
        return p.contact_from(self._call("delete", contact_id=contact_id))

    def restore(self, contact_id: int) -> ContactRecord:
        return p.contact_from(self._call("restore", contact_id=contact_id))

    def toggle_category(self, contact_id: int, category: str) -> ContactRecord:
        return p.contact_from(self._call("toggle_category", contact_id=contact_id, category=category))

    def set_receive_all(self, contact_id: int, enabled: bool) -> ContactRecord:
        return p.contact_from(self._call("set_receive_all", contact_id=contact_id, enabled=enabled))

    def set_language(self, language: str) -> CustomerRecord:
        """The language the portal and its sign-in mail speak to this customer."""
        return self._learn(self._call("set_language", language=language))

    def history(self, *, since: dt.datetime | None = None, limit: int = p.HISTORY_LIMIT) -> list[Change]:
        moment = since.isoformat() if since is not None else None
        return [p.change_from(c) for c in self._call("history", since=moment, limit=limit)]

    def sign_out(self) -> bool:
        """End the session at the service; whether it said so (a service that
        is down has no session to end once it is back)."""
        try:
            self._call("sign_out")
        except (ServiceUnavailable, SessionEnded):
            return False
        return True

    def _call(self, op: str, **args: Any) -> Any:
        return self._client.call(op, self._token, **args)

    def _learn(self, about: dict[str, Any]) -> CustomerRecord:
        self._catalog = p.catalog_from(about["catalog"])
        self._max_contacts = int(about["max_contacts"])
        customer = p.customer_from(about["customer"])
        self._language = customer.language
        return customer


def guard_process() -> None:
    """Keep other processes of this account out of this one (Linux): no
    ptrace, no /proc/PID/mem, no core dump. Every SSH and browser session
    runs as the same account; without this, a session a customer took over
    could read another session's token from its memory."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    except (OSError, AttributeError):
        pass  # no prctl: the token is still bound to this process at the service
