"""The portal service's protocol, version 1: JSON lines over a Unix socket.

A request is one line, one JSON object of at most ``MAX_REQUEST_BYTES``::

    {"v": 1, "id": 7, "op": "contacts", "token": "…", "args": {"include_deleted": true}}

and its answer one line, with the request's ``id``::

    {"v": 1, "id": 7, "ok": true, "result": [...]}
    {"v": 1, "id": 7, "ok": false, "error": {"code": "not_found", "message": "…"}}

``hello``, ``request_code`` and ``sign_in`` need no token; every other
operation needs the token ``sign_in`` returned. The README lists the
operations, their arguments and the error codes. Both sides use this module:
the service to read requests strictly (anything unexpected is a
``bad_request`` naming what), the client to read answers back into the
core's records and errors.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from ..catalog import Catalog, Category, EmailType
from ..directory.history import Change
from ..errors import (
    DatabaseUnavailable,
    DirectoryError,
    FieldError,
    LimitReached,
    NotFound,
    PortalClosed,
    TooManyCodes,
    ValidationError,
)
from ..records import ContactInput, ContactRecord, CustomerRecord
from ..wording import Phrase, phrase_from

VERSION = 1
MAX_REQUEST_BYTES = 64 * 1024
"""A request is a few hundred bytes; a line longer than this is refused and the connection closed."""
MAX_ANSWER_BYTES = 16 * 1024 * 1024
"""What a client reads at most for one answer (a long history)."""
HISTORY_LIMIT = 500
"""Changes one ``history`` request returns at most (the portal's history screen shows as many)."""

WITHOUT_TOKEN = ("hello", "request_code", "sign_in")
"""Operations anybody who reaches the socket may call."""
WITH_TOKEN = (
    "customer",
    "contacts",
    "add",
    "edit",
    "delete",
    "restore",
    "toggle_category",
    "set_receive_all",
    "history",
    "set_language",
    "sign_out",
)
"""Operations of a signed-in customer, on its own contact persons only."""
OPERATIONS = WITHOUT_TOKEN + WITH_TOKEN

# Error codes, each with what it means for whoever wrote the request.
BAD_REQUEST = "bad_request"  # not JSON, a missing or wrong field: the message names it
TOO_LARGE = "too_large"  # a line over MAX_REQUEST_BYTES; the connection is closed
UNSUPPORTED_VERSION = "unsupported_version"
UNKNOWN_OPERATION = "unknown_operation"
NOT_SIGNED_IN = "not_signed_in"  # no token, or one that expired, was signed out or is another process's
WRONG_CODE = "wrong_code"  # sign_in with a code that is not (or no longer) right; "next_code_at" too
TOO_MANY_CODES = "too_many_codes"  # request_code past the limit: "next_code_at" says when a code can be had
INVALID = "invalid"  # a directory rule said no: "fields" lists each field and why
LIMIT_REACHED = "limit_reached"  # the customer has the most contact persons allowed ("fields" too)
NOT_FOUND = "not_found"  # no such contact person of this customer
PORTAL_CLOSED = "portal_closed"  # the customer's sign-in was turned off: the session has ended
UNAVAILABLE = "unavailable"  # the database does not answer; try again later
BUSY = "busy"  # too many connections at once; try again in a moment
REFUSED = "refused"  # another reason the directory gave, in words
FAILED = "failed"  # a fault of the service itself; its log says more

ERROR_CODES = (
    BAD_REQUEST,
    TOO_LARGE,
    UNSUPPORTED_VERSION,
    UNKNOWN_OPERATION,
    NOT_SIGNED_IN,
    WRONG_CODE,
    TOO_MANY_CODES,
    INVALID,
    LIMIT_REACHED,
    NOT_FOUND,
    PORTAL_CLOSED,
    UNAVAILABLE,
    BUSY,
    REFUSED,
    FAILED,
)

BUSY_NOW = Phrase("the portal is busy; try again in a moment")
NO_DATA = Phrase("the portal cannot reach its data right now; try again in a few minutes")

_ID_MAX = 64
_TOKEN_MAX = 128
_LIST_MAX = 64
KEY_MAX = 64  # a category key (catalog.KEY_PATTERN)
_INT_MAX = 2**63 - 1  # what SQLite and PostgreSQL keep in an integer column


class ProtocolError(Exception):
    """A request the service answers with an error of ``code``, this message
    and ``detail`` (more fields of the error object)."""

    def __init__(self, code: str, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail


# -- lines ---------------------------------------------------------------------


def encode(message: dict[str, Any]) -> bytes:
    """One line of the protocol (ASCII: every other character escaped)."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=True).encode("ascii") + b"\n"


def answer_ok(request_id: Any, result: Any) -> dict[str, Any]:
    return {"v": VERSION, "id": request_id, "ok": True, "result": result}


def answer_error(request_id: Any, code: str, message: str, **detail: Any) -> dict[str, Any]:
    """An error answer; a message that is a ``Phrase`` carries its template and
    arguments too (``phrase``), so the portal can say it in its language."""
    error = {"code": code, "message": message, **_phrase(message), **detail}
    return {"v": VERSION, "id": request_id, "ok": False, "error": error}


def _phrase(message: str) -> dict[str, Any]:
    return {"phrase": message.as_json()} if isinstance(message, Phrase) else {}


def error_answer(request_id: Any, error: DirectoryError) -> dict[str, Any]:
    """The answer for an error the directory raised on purpose."""
    if isinstance(error, ValidationError):
        fields = [{"field": e.field, "message": e.message, **_phrase(e.message)} for e in error.errors]
        code = LIMIT_REACHED if isinstance(error, LimitReached) else INVALID
        return answer_error(request_id, code, str(error), fields=fields, subject=error.subject)
    if isinstance(error, TooManyCodes):
        return answer_error(request_id, TOO_MANY_CODES, said_by(error), next_code_at=_time(error.next_code_at))
    if isinstance(error, PortalClosed):
        return answer_error(request_id, PORTAL_CLOSED, said_by(error))
    if isinstance(error, NotFound):
        return answer_error(request_id, NOT_FOUND, said_by(error))
    if isinstance(error, DatabaseUnavailable):
        return answer_error(request_id, UNAVAILABLE, said_by(error))
    return answer_error(request_id, REFUSED, said_by(error))


def said_by(error: DirectoryError) -> str:
    """An error's message, the ``Phrase`` it was raised with where it was."""
    first = error.args[0] if len(error.args) == 1 else None
    return first if isinstance(first, Phrase) else str(error)


@dataclass(frozen=True)
class Request:
    op: str
    id: Any = None
    token: str | None = None
    args: dict[str, Any] = field(default_factory=dict)


def parse_request(line: bytes) -> Request:
    """A request line, read strictly; ProtocolError says what is wrong with it."""
    if len(line) > MAX_REQUEST_BYTES:
        raise ProtocolError(TOO_LARGE, f"a request may be at most {MAX_REQUEST_BYTES} bytes")
    try:
        text = line.decode("utf-8")
        message = json.loads(text, parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise ProtocolError(BAD_REQUEST, "a request must be UTF-8 text") from None
    except RecursionError:
        raise ProtocolError(BAD_REQUEST, "a request may not nest that deep") from None
    except ValueError as exc:  # JSONDecodeError, and numbers too long to read
        raise ProtocolError(BAD_REQUEST, f"a request must be one JSON object per line: {exc}") from None
    if not isinstance(message, dict):
        raise ProtocolError(BAD_REQUEST, "a request must be a JSON object")
    request_id = message.get("id")
    if request_id is not None and not _is_id(request_id):
        raise ProtocolError(BAD_REQUEST, f"id must be a number or a text of at most {_ID_MAX} characters")
    _check_text(message)
    unknown = sorted(set(message) - {"v", "id", "op", "token", "args"})
    if unknown:
        raise ProtocolError(BAD_REQUEST, f"unknown field {unknown[0]!r} (fields: v, id, op, token, args)")
    version = message.get("v")
    if version != VERSION or isinstance(version, bool):
        raise ProtocolError(
            UNSUPPORTED_VERSION, f"this service speaks version {VERSION} of the protocol, not {version!r}"
        )
    op = message.get("op")
    if not isinstance(op, str) or op not in OPERATIONS:
        shown = op if isinstance(op, str) and len(op) <= 40 else type(op).__name__
        raise ProtocolError(UNKNOWN_OPERATION, f"no operation {shown!r}; there are: {', '.join(OPERATIONS)}")
    token = message.get("token")
    if token is not None and (not isinstance(token, str) or not 0 < len(token) <= _TOKEN_MAX):
        raise ProtocolError(BAD_REQUEST, "token must be the text sign_in returned")
    args = message.get("args", {})
    if not isinstance(args, dict):
        raise ProtocolError(BAD_REQUEST, "args must be a JSON object")
    return Request(op, request_id, token, args)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


def _is_id(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) <= _INT_MAX
    return isinstance(value, str) and len(value) <= _ID_MAX


def _check_text(value: Any) -> None:
    """Every text in a request must be encodable: JSON's escapes can spell
    half a surrogate pair, which no database takes."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise ProtocolError(BAD_REQUEST, "text in a request must be valid Unicode") from None
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


# -- arguments, as the service reads them ----------------------------------------


def only(args: dict[str, Any], *names: str) -> None:
    """Refuse an argument the operation does not take."""
    unknown = sorted(set(args) - set(names))
    if unknown:
        takes = ", ".join(names) if names else "none"
        raise ProtocolError(BAD_REQUEST, f"unknown argument {unknown[0]!r} (this operation takes: {takes})")


def text_arg(args: dict[str, Any], name: str, *, default: str | None = None) -> str:
    value = args.get(name, default)
    if not isinstance(value, str):
        raise ProtocolError(BAD_REQUEST, f"{name} must be a text")
    return value


def bool_arg(args: dict[str, Any], name: str, *, default: bool | None = None) -> bool:
    value = args.get(name, default)
    if not isinstance(value, bool):
        raise ProtocolError(BAD_REQUEST, f"{name} must be true or false")
    return value


def int_arg(args: dict[str, Any], name: str, *, low: int = 1, high: int = _INT_MAX, default: int | None = None) -> int:
    value = args.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ProtocolError(BAD_REQUEST, f"{name} must be a whole number from {low} to {high}")
    return value


def time_arg(args: dict[str, Any], name: str) -> dt.datetime | None:
    value = args.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise ProtocolError(BAD_REQUEST, f"{name} must be an ISO 8601 time in UTC, or null")
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ProtocolError(BAD_REQUEST, f"{name} must be an ISO 8601 time in UTC, or null") from None
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment


def contact_arg(args: dict[str, Any], name: str = "contact") -> ContactInput:
    """A contact person as typed: its shape is checked here, its content by the directory's rules."""
    value = args.get(name)
    if not isinstance(value, dict):
        raise ProtocolError(BAD_REQUEST, f"{name} must be an object with name, email, phone, role, categories")
    only(value, "name", "email", "phone", "role", "receive_all", "categories", "notes")
    categories = value.get("categories", [])
    if (
        not isinstance(categories, list)
        or len(categories) > _LIST_MAX
        or not all(isinstance(key, str) and len(key) <= KEY_MAX for key in categories)
    ):
        raise ProtocolError(BAD_REQUEST, f"categories must be a list of at most {_LIST_MAX} category keys")
    defaults = ContactInput("", "")
    return ContactInput(
        text_arg(value, "name"),
        text_arg(value, "email"),
        text_arg(value, "phone", default=defaults.phone),
        text_arg(value, "role", default=defaults.role),
        bool_arg(value, "receive_all", default=defaults.receive_all),
        frozenset(categories),
        # Left out (a portal from before notes): the stored note stays.
        text_arg(value, "notes") if "notes" in value else None,
    )


# -- records both ways ---------------------------------------------------------


def _time(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _from_time(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value)


def customer_json(record: CustomerRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "email": record.email,
        "phone": record.phone,
        "active": record.active,
        "contact_count": record.contact_count,
        "created_at": _time(record.created_at),
        "updated_at": _time(record.updated_at),
        "portal_disabled_at": _time(record.portal_disabled_at),
        "last_sign_in_at": _time(record.last_sign_in_at),
        "last_sign_in_channel": record.last_sign_in_channel,
        "language": record.language,
        # Never the admin's note about the customer: it is not the customer's to read.
    }


def customer_from(data: dict[str, Any]) -> CustomerRecord:
    times = ("created_at", "updated_at", "portal_disabled_at", "last_sign_in_at")
    fields: dict[str, Any] = {key: _from_time(value) if key in times else value for key, value in data.items()}
    return CustomerRecord(**fields)


def contact_json(record: ContactRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "customer_id": record.customer_id,
        "name": record.name,
        "email": record.email,
        "phone": record.phone,
        "role": record.role,
        "receive_all": record.receive_all,
        "categories": list(record.categories),
        "deleted_at": _time(record.deleted_at),
        "created_at": _time(record.created_at),
        "updated_at": _time(record.updated_at),
        "kept": list(record.kept),
        "notes": record.notes,
    }


def contact_from(data: dict[str, Any]) -> ContactRecord:
    values = dict(data)
    for key in ("deleted_at", "created_at", "updated_at"):
        values[key] = _from_time(values[key])
    values["categories"] = tuple(values["categories"])
    values["kept"] = tuple(values["kept"])
    return ContactRecord(**values)


def contact_input_json(data: ContactInput) -> dict[str, Any]:
    return {
        "name": data.name,
        "email": data.email,
        "phone": data.phone,
        "role": data.role,
        "receive_all": data.receive_all,
        "categories": sorted(data.categories),
        **({"notes": data.notes} if data.notes is not None else {}),
    }


def change_json(change: Change) -> dict[str, Any]:
    return {
        "id": change.id,
        "at": _time(change.at),
        "customer_id": change.customer_id,
        "customer_email": change.customer_email,
        "contact_id": change.contact_id,
        "contact_email": change.contact_email,
        "who": change.who,
        "channel": change.channel,
        "action": change.action,
        "changes": [list(item) for item in change.changes],
    }


def change_from(data: dict[str, Any]) -> Change:
    values = dict(data)
    values["at"] = _from_time(values["at"])
    values["changes"] = tuple((name, before, after) for name, before, after in values["changes"])
    return Change(**values)


def catalog_json(catalog: Catalog) -> list[dict[str, Any]]:
    return [
        {
            "key": category.key,
            "label": category.label,
            "description": category.description,
            "types": [{"key": t.key, "label": t.label} for t in category.types],
        }
        for category in catalog.categories
    ]


def catalog_from(data: list[dict[str, Any]]) -> Catalog:
    return Catalog(
        tuple(
            Category(c["key"], c["label"], c["description"], tuple(EmailType(t["key"], t["label"]) for t in c["types"]))
            for c in data
        )
    )


def error_from(error: dict[str, Any]) -> DirectoryError:
    """The core's error for an error answer, so the portal shows it as it shows a directory's."""
    code = error.get("code")
    message = phrase_from(error.get("phrase"), str(error.get("message", "")))
    if code in (INVALID, LIMIT_REACHED):
        fields = [
            FieldError(e.get("field"), phrase_from(e.get("phrase"), str(e.get("message", ""))))
            for e in error.get("fields", [])
        ]
        kind = LimitReached if code == LIMIT_REACHED else ValidationError
        return kind(fields or [FieldError(None, message)], error.get("subject"))
    next_code_at = _from_time(error.get("next_code_at"))
    if code == TOO_MANY_CODES and next_code_at is not None:
        return TooManyCodes(message, next_code_at)
    if code == NOT_SIGNED_IN:
        return SessionEnded(message)
    if code == PORTAL_CLOSED:
        return PortalClosed(message)
    if code == NOT_FOUND:
        return NotFound(message)
    if code in (UNAVAILABLE, BUSY):
        # The database's own words (its host, its error) are for the service's log, not for customers.
        return ServiceUnavailable(message if isinstance(message, Phrase) else NO_DATA)
    return DirectoryError(message or f"the portal service answered {code!r}")


class SessionEnded(PortalClosed):
    """The service no longer knows the session: it timed out, was signed out, or the service restarted."""


class ServiceUnavailable(DatabaseUnavailable):
    """The portal service does not answer, is busy, or cannot reach the database."""
