"""Field cleaning shared by every way in: forms, CSV rows and the relay.

Each function returns the cleaned value or raises ValidationError naming the
field, so callers can collect several errors for one record.
"""

from __future__ import annotations

import re
import unicodedata

from email_validator import EmailNotValidError, validate_email

from .catalog import Catalog
from .errors import ValidationError

ROLES = ("General", "Billing", "Bookkeeping", "Technical", "Management", "Support")
DEFAULT_ROLE = "General"

NAME_MAX = 200
EMAIL_MAX = 254
PHONE_MAX = 40
_PHONE_CHARS = re.compile(r"^[0-9+()./\- ]+(?:\s*(?:x|ext\.?)\s*[0-9]+)?$", re.IGNORECASE)


def has_control_chars(value: str) -> bool:
    # Cc covers CR, LF, TAB, NUL and DEL; the line and paragraph separators
    # end lines in some readers too, and would smuggle a header line.
    return any(unicodedata.category(ch) == "Cc" or ch in "\u2028\u2029\u0085" for ch in value)


def clean_text(value: object, field: str, *, label: str, required: bool, max_length: int) -> str:
    text = "" if value is None else str(value).strip()
    if has_control_chars(text):
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
    try:
        result = validate_email(text, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        raise ValidationError.single(field, f"{text!r} is not a valid email address: {exc}") from None
    return result.normalized


def email_key(address: str) -> str:
    """The case-insensitive identity of an address, as stored for uniqueness."""
    return address.strip().lower()


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


def clean_categories(values: object, catalog: Catalog, field: str = "categories") -> frozenset[str]:
    keys = set()
    for value in values or ():
        key = str(value).strip().lower()
        if not key:
            continue
        if key not in catalog.keys:
            known = ", ".join(catalog.keys)
            raise ValidationError.single(field, f"Unknown category {value!r}; the catalog has {known}")
        keys.add(key)
    return frozenset(keys)
