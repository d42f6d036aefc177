"""Field cleaning shared by every way in: forms, CSV rows and the relay.

Each function returns the cleaned value or raises ValidationError naming the
field, so callers can collect several errors for one record.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable

from email_validator import EmailNotValidError, validate_email

from .catalog import Catalog
from .controls import has_control
from .errors import ValidationError

ROLES = ("General", "Billing", "Bookkeeping", "Technical", "Management", "Support")
DEFAULT_ROLE = "General"

NAME_MAX = 200
EMAIL_MAX = 254
PHONE_MAX = 40
NOTES_MAX = 500
"""A note is a line or two ("call before 10", "accountant since 2024"), not a file."""

LANGUAGES = {"en": "English", "nl": "Nederlands"}
"""The languages the customer portal and its sign-in mail speak, by code, each named in itself."""
DEFAULT_LANGUAGE = "en"
_PHONE_CHARS = re.compile(r"^[0-9+()./\- ]+(?:\s*(?:x|ext\.?)\s*[0-9]+)?$", re.IGNORECASE)


def local_only_name(host: str) -> bool:
    """Whether a host name is one only this machine knows (``localhost``, a
    name without a dot, ``*.localdomain``): mail servers refuse or junk mail
    that names itself so, in a greeting or in a sender's address."""
    name = host.strip().rstrip(".").lower()
    return "." not in name or name.endswith((".localdomain", ".localhost"))


def clean_text(value: object, field: str, *, label: str, required: bool, max_length: int) -> str:
    text = "" if value is None else str(value).strip()
    if has_control(text):
        raise ValidationError.single(field, f"{label} may not contain line breaks or control characters")
    if required and not text:
        raise ValidationError.single(field, f"{label} is required")
    if len(text) > max_length:
        raise ValidationError.single(field, f"{label} is too long ({len(text)} characters, at most {max_length})")
    return text


def clean_name(value: object, field: str = "name") -> str:
    return clean_text(value, field, label="Name", required=True, max_length=NAME_MAX)


def clean_email(value: object, field: str = "email") -> str:
    """A valid address in normalized form (domain lowercased, IDNA as Unicode); no DNS."""
    text = clean_text(value, field, label="Email", required=True, max_length=EMAIL_MAX)
    local, at, domain = text.rpartition("@")
    # Imports validate hundreds of thousands of addresses: a plain local part
    # needs no full parse, and each domain is checked once, by the same library.
    if at and len(local) <= 64 and _PLAIN_LOCAL.match(local):
        normalized_domain = _normalized_domain(domain)
        if normalized_domain is not None:
            return f"{local}@{normalized_domain}"
    try:
        result = validate_email(text, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        raise ValidationError.single(field, f"{text!r} is not a valid email address: {exc}") from None
    return result.normalized


_PLAIN_LOCAL = re.compile(r"^[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*$")


@functools.lru_cache(maxsize=4096)
def _normalized_domain(domain: str) -> str | None:
    try:
        return validate_email("x@" + domain, check_deliverability=False, allow_smtputf8=True).domain
    except EmailNotValidError:
        return None


def email_key(address: str) -> str:
    """The case-insensitive identity of an address, as stored for uniqueness."""
    key = address.strip().lower()
    # Most addresses are lowercase already; sharing the string halves what a
    # 300k-row import holds in memory.
    return address if key == address else key


def clean_phone(value: object, field: str = "phone") -> str:
    text = clean_text(value, field, label="Phone", required=False, max_length=PHONE_MAX)
    if text and (not _PHONE_CHARS.match(text) or not any(ch.isdigit() for ch in text)):
        raise ValidationError.single(
            field, f"{text!r} is not a phone number (digits, spaces, + ( ) - . / and an optional 'ext 12')"
        )
    return text


def clean_role(value: object, field: str = "role") -> str:
    text = clean_text(value, field, label="Role", required=False, max_length=40)
    if not text:
        return DEFAULT_ROLE
    for role in ROLES:
        if role.lower() == text.lower():
            return role
    raise ValidationError.single(field, f"Unknown role {text!r}; choose one of {', '.join(ROLES)}")


def clean_notes(value: object, field: str = "notes") -> str:
    """A free-text note: the rules of a name (no line breaks or control
    characters), but optional and longer."""
    return clean_text(value, field, label="Note", required=False, max_length=NOTES_MAX)


def clean_language(value: object, field: str = "language") -> str:
    """A language code of ``LANGUAGES`` in any case (``NL``, ``nl-BE`` is
    ``nl``); empty is the default."""
    text = clean_text(value, field, label="Language", required=False, max_length=16)
    code = re.split(r"[-_]", text.lower(), maxsplit=1)[0]
    if not code:
        return DEFAULT_LANGUAGE
    if code in LANGUAGES:
        return code
    choices = " or ".join(f"{key} ({name})" for key, name in LANGUAGES.items())
    raise ValidationError.single(field, f"Unknown language {text!r}; choose {choices}")


def clean_categories(values: Iterable[object] | None, catalog: Catalog, field: str = "categories") -> frozenset[str]:
    if not values:
        return _NO_CATEGORIES
    keys = set()
    for value in values or ():
        key = str(value).strip().lower()
        if not key:
            continue
        if key not in catalog.keys:
            raise ValidationError.single(field, _unknown_category(str(value).strip(), key, catalog))
        keys.add(key)
    found = frozenset(keys)
    return _SHARED_SETS.setdefault(found, found)


def _unknown_category(value: str, key: str, catalog: Catalog) -> str:
    """Why ``value`` is no category, and what was probably meant."""
    message = f"Unknown category {value!r}; the catalog has {', '.join(catalog.keys)}"
    category = catalog.resolve(key)
    if category is not None:
        return f"{message}. {value!r} is an email type of {category}: opt in to {category}"
    close = difflib.get_close_matches(key, catalog.keys, n=1, cutoff=0.6)
    return f"{message}. Did you mean {close[0]!r}?" if close else message


_NO_CATEGORIES: frozenset[str] = frozenset()
# Imports repeat the same few opt-in sets; one object per set keeps them small.
_SHARED_SETS: dict[frozenset[str], frozenset[str]] = {}
