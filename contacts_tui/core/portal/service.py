"""The portal service's answers: one request line in, one answer line out.

This is ``SignIn`` and ``PortalScope`` behind the protocol, and nothing
else: before sign-in a peer can only ask for a code and sign in with it; a
signed-in peer gets its own customer's scope through its token. Every rule,
rate limit and history entry stays where it was (the directory, the
sign-in's code table); the channel recorded is the socket's, which the peer
cannot choose. No request can make ``answer`` raise: what is wrong with it
comes back as an error with a message, and a fault of ours as ``failed``
(the details go to the service's log, not to the peer).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ..errors import DatabaseUnavailable, DirectoryError, PortalClosed
from ..wording import Phrase
from . import protocol as p
from .scope import PortalScope
from .sessions import IDLE_TIMEOUT, SESSION_LIFETIME, Peer, Sessions
from .signin import SignIn

log = logging.getLogger(__name__)

ENDED = Phrase(
    "your session has ended ({idle} minutes without a key, {lifetime} minutes after signing in, or signed out); "
    "you have been signed out",
    idle=IDLE_TIMEOUT // 60,
    lifetime=SESSION_LIFETIME // 60,
)
NO_TOKEN = Phrase("sign in first: this operation needs the token that sign_in returns")
WRONG = Phrase("that code is not right, or no longer valid")
FAULT = Phrase("the portal service could not do this; its log says why")


class PortalService:
    """What a customer may do, for the peers of the service's sockets."""

    def __init__(self, signin: SignIn, sessions: Sessions | None = None) -> None:
        self.signin = signin
        self.directory = signin.directory
        self.sessions = Sessions() if sessions is None else sessions
        self._scoped: dict[str, Callable[[PortalScope, dict[str, Any]], Any]] = {
            "customer": self._customer,
            "contacts": self._contacts,
            "add": self._add,
            "edit": self._edit,
            "delete": self._delete,
            "restore": self._restore,
            "toggle_category": self._toggle_category,
            "set_receive_all": self._set_receive_all,
            "history": self._history,
            "set_language": self._set_language,
        }

    def answer(self, line: bytes, peer: Peer) -> bytes:
        """The answer line (with its newline) to one request line."""
        try:
            request = p.parse_request(line)
        except p.ProtocolError as exc:
            return p.encode(p.answer_error(None, exc.code, exc.message))
        try:
            return p.encode(p.answer_ok(request.id, self._dispatch(request, peer)))
        except p.ProtocolError as exc:
            return p.encode(p.answer_error(request.id, exc.code, exc.message, **exc.detail))
        except DirectoryError as exc:
            if isinstance(exc, DatabaseUnavailable):
                # The portal tells the customer only that the data is out of reach: the why is logged here.
                log.warning("the portal service cannot reach the database for %s: %s", request.op, exc)
            return p.encode(p.error_answer(request.id, exc))
        except Exception:
            log.exception("the portal service failed on %s from %s (pid %s)", request.op, peer.channel, peer.pid)
            return p.encode(p.answer_error(request.id, p.FAILED, FAULT))

    # -- before sign-in ------------------------------------------------------

    def _dispatch(self, request: p.Request, peer: Peer) -> Any:
        args = request.args
        if request.op == "hello":
            p.only(args)
            return {"version": p.VERSION, "channel": peer.channel}
        if request.op == "request_code":
            p.only(args, "email")
            self.signin.request_code(p.text_arg(args, "email"))
            return {}
        if request.op == "sign_in":
            p.only(args, "email", "code")
            return self._sign_in(p.text_arg(args, "email"), p.text_arg(args, "code"), peer)
        return self._signed_in(request, peer)

    def _sign_in(self, email: str, code: str, peer: Peer) -> dict[str, Any]:
        customer = self.signin.verify(email, code, peer.channel)
        if customer is None:
            # Whether a new code can be had now: the same answer for every address.
            later = self.signin.next_code_at(email)
            raise p.ProtocolError(p.WRONG_CODE, WRONG, next_code_at=None if later is None else later.isoformat())
        scope = PortalScope(self.directory, customer.id, peer.channel)
        token = self.sessions.open(scope, peer)
        return {"token": token, "idle_timeout": IDLE_TIMEOUT, "lifetime": SESSION_LIFETIME, **self._customer(scope, {})}

    # -- a signed-in customer ------------------------------------------------

    def _signed_in(self, request: p.Request, peer: Peer) -> Any:
        if request.token is None:
            raise p.ProtocolError(p.NOT_SIGNED_IN, NO_TOKEN)
        session = self.sessions.find(request.token, peer)
        if session is None:
            raise p.ProtocolError(p.NOT_SIGNED_IN, ENDED)
        if request.op == "sign_out":
            p.only(request.args)
            self.sessions.close(request.token, peer)
            return {}
        try:
            return self._scoped[request.op](session.scope, request.args)
        except PortalClosed:
            self.sessions.close(request.token, peer)  # turned off: the token dies with it
            raise

    def _customer(self, scope: PortalScope, args: dict[str, Any]) -> dict[str, Any]:
        p.only(args)
        customer = scope.customer()
        return {
            "customer": p.customer_json(customer),
            "catalog": p.catalog_json(scope.catalog),
            "max_contacts": scope.max_contacts,
        }

    def _contacts(self, scope: PortalScope, args: dict[str, Any]) -> list[dict[str, Any]]:
        p.only(args, "include_deleted")
        include = p.bool_arg(args, "include_deleted", default=True)
        return [p.contact_json(c) for c in scope.contacts(include_deleted=include)]

    def _add(self, scope: PortalScope, args: dict[str, Any]) -> dict[str, Any]:
        p.only(args, "contact")
        return p.contact_json(scope.add(p.contact_arg(args)))

    def _edit(self, scope: PortalScope, args: dict[str, Any]) -> dict[str, Any]:
        p.only(args, "contact_id", "contact")
        return p.contact_json(scope.edit(p.int_arg(args, "contact_id"), p.contact_arg(args)))

    def _delete(self, scope: PortalScope, args: dict[str, Any]) -> dict[str, Any]:
        p.only(args, "contact_id")
        return p.contact_json(scope.delete(p.int_arg(args, "contact_id")))

    def _restore(self, scope: PortalScope, args: dict[str, Any]) -> dict[str, Any]:
        p.only(args, "contact_id")
        return p.contact_json(scope.restore(p.int_arg(args, "contact_id")))

    def _toggle_category(self, scope: PortalScope, args: dict[str, Any]) -> dict[str, Any]:
        p.only(args, "contact_id", "category")
        contact_id, category = p.int_arg(args, "contact_id"), p.text_arg(args, "category")
        if not category.strip() or len(category) > p.KEY_MAX:
            raise p.ProtocolError(p.BAD_REQUEST, f"category must be a category key of at most {p.KEY_MAX} characters")
        return p.contact_json(scope.toggle_category(contact_id, category))

    def _set_receive_all(self, scope: PortalScope, args: dict[str, Any]) -> dict[str, Any]:
        p.only(args, "contact_id", "enabled")
        return p.contact_json(scope.set_receive_all(p.int_arg(args, "contact_id"), p.bool_arg(args, "enabled")))

    def _set_language(self, scope: PortalScope, args: dict[str, Any]) -> dict[str, Any]:
        p.only(args, "language")
        language = p.text_arg(args, "language")
        if len(language) > p.KEY_MAX:
            raise p.ProtocolError(p.BAD_REQUEST, f"language must be a language code of at most {p.KEY_MAX} characters")
        scope.set_language(language)
        return self._customer(scope, {})

    def _history(self, scope: PortalScope, args: dict[str, Any]) -> list[dict[str, Any]]:
        p.only(args, "since", "limit")
        since = p.time_arg(args, "since")
        limit = p.int_arg(args, "limit", high=p.HISTORY_LIMIT, default=p.HISTORY_LIMIT)
        return [p.change_json(c) for c in scope.history(since=since, limit=limit)]
