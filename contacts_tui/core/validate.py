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
from .wording import Phrase

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


# What the messages call each field: phrases, so the portal says them in its language.
NAME_LABEL = Phrase("Name")
EMAIL_LABEL = Phrase("Email")
PHONE_LABEL = Phrase("Phone")
ROLE_LABEL = Phrase("Role")


def clean_text(value: object, field: str, *, label: str, required: bool, max_length: int) -> str:
    """``label`` names the field in the message: a ``Phrase``, so the portal says it in its language."""
    text = "" if value is None else str(value).strip()
    if has_control(text):
        raise ValidationError.single(
            field, Phrase("{label} may not contain line breaks or control characters", label=label)
        )
    if required and not text:
        raise ValidationError.single(field, Phrase("{label} is required", label=label))
    if len(text) > max_length:
        raise ValidationError.single(
            field,
            Phrase(
                "{label} is too long ({length} characters, at most {most})",
                label=label,
                length=len(text),
                most=max_length,
            ),
        )
    return text


def clean_name(value: object, field: str = "name") -> str:
    return clean_text(value, field, label=NAME_LABEL, required=True, max_length=NAME_MAX)


def clean_email(value: object, field: str = "email") -> str:
    """A valid address in normalized form (domain lowercased, IDNA as Unicode); no DNS."""
    text = clean_text(value, field, label=EMAIL_LABEL, required=True, max_length=EMAIL_MAX)
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
        raise ValidationError.single(
            field, Phrase("{text!r} is not a valid email address: {reason}", text=text, reason=email_reason(str(exc)))
        ) from None
    return result.normalized


EMAIL_REASONS = (
    "An email address must have an @-sign.",
    "There must be something before the @-sign.",
    "There must be something after the @-sign.",
    "The part after the @-sign is not valid. It should have a period.",
    "An email address cannot have two periods in a row.",
    "An email address cannot start with a period.",
    "An email address cannot end with a period.",
    "An email address cannot have a period immediately before the @-sign.",
    "An email address cannot have a period immediately after the @-sign.",
    "An email address cannot start with a hyphen.",
    "An email address cannot end with a hyphen.",
    "An email address cannot have a hyphen immediately after the @-sign.",
    "An email address cannot have a period and a hyphen next to each other.",
    "The email address contains an invalid character.",
    "The email address contains invalid characters before the @-sign.",
    "There can't be anything after the email address.",
)
"""The reasons of email-validator's that people typing an address meet most
(a typo), which the portal says in its language; its rarer ones stay in its
English."""
EMAIL_REASON_PREFIXES = (
    "The email address contains invalid characters before the @-sign",
    "The part after the @-sign contains invalid characters",
)
"""Reasons that go on to name the characters ("…: SPACE.")."""


def email_reason(text: str) -> str:
    """email-validator's reason, as a phrase where the portal has its words."""
    if text in EMAIL_REASONS:
        return Phrase(text)
    for prefix in EMAIL_REASON_PREFIXES:
        if text.startswith(prefix + ": "):
            return Phrase(prefix + ": {characters}", characters=text[len(prefix) + 2 :])
    return text


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
    text = clean_text(value, field, label=PHONE_LABEL, required=False, max_length=PHONE_MAX)
    if text and (not _PHONE_CHARS.match(text) or not any(ch.isdigit() for ch in text)):
        raise ValidationError.single(
            field,
            Phrase("{text!r} is not a phone number (digits, spaces, + ( ) - . / and an optional 'ext 12')", text=text),
        )
    return text


def clean_role(value: object, field: str = "role") -> str:
    text = clean_text(value, field, label=ROLE_LABEL, required=False, max_length=40)
    if not text:
        return DEFAULT_ROLE
    for role in ROLES:
        if role.lower() == text.lower():
            return role
    raise ValidationError.single(
        field, Phrase("Unknown role {text!r}; choose one of {roles}", text=text, roles=", ".join(ROLES))
    )


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
    keys = ", ".join(catalog.keys)
    category = catalog.resolve(key)
    if category is not None:
        return Phrase(
            "Unknown category {value!r}; the catalog has {keys}. {value!r} is an email type of {category}: "
            "opt in to {category}",
            value=value,
            keys=keys,
            category=category,
        )
    close = difflib.get_close_matches(key, catalog.keys, n=1, cutoff=0.6)
    if close:
        return Phrase(
            "Unknown category {value!r}; the catalog has {keys}. Did you mean {close!r}?",
            value=value,
            keys=keys,
            close=close[0],
        )
    return Phrase("Unknown category {value!r}; the catalog has {keys}", value=value, keys=keys)


_NO_CATEGORIES: frozenset[str] = frozenset()
# Imports repeat the same few opt-in sets; one object per set keeps them small.
_SHARED_SETS: dict[frozenset[str], frozenset[str]] = {}
