"""A tagging rule: for a message without a category header, the conditions
that give it a category, checked once when the rule is saved.

Conditions, all of which must hold (an empty one is no condition):

- ``sender``: the envelope sender or an address of the From field, exactly
  (``billing@shop.example``) or by domain (``*@shop.example``);
- ``subject``: the Subject contains a text, or matches a pattern;
- ``header_name`` with ``header_value``: another header (``X-Mailer``)
  contains a text, or matches a pattern;
- ``recipient_domain``: an envelope recipient is at this domain.

Subjects and other headers are compared after unfolding and decoding RFC 2047
encoded-words, case-insensitively; patterns are RE2's (see patterns.py).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, fields, replace
from importlib import resources

from ..catalog import PRESETS, Catalog, load_preset
from ..controls import has_control
from ..errors import FieldError, ValidationError
from .patterns import PatternError, compile_pattern, literal

CONTAINS, PATTERN = "contains", "pattern"
MATCH_MODES = (CONTAINS, PATTERN)
"""How a Subject or header condition compares: the text as it is, or an RE2 pattern."""

TEXT_MAX = 1000
ADDRESS_MAX = 254
HEADER_NAME_MAX = 76

CONDITIONS = ("sender", "subject", "header_name", "recipient_domain")
"""The fields that make a condition; a rule needs at least one."""

_SENDER = re.compile(r"^(?:\*|[^\s@*]+)@[^\s@*]+$")
_DOMAIN = re.compile(r"^[^\s@*]+$")
# RFC 5322's field name: printable US-ASCII but the colon.
_HEADER_NAME = re.compile(r"^[!-9;-~]+$")


@dataclass(frozen=True, slots=True)
class RuleInput:
    """What an admin types for a rule (the form's fields, the CLI's options), unchecked."""

    category: str = ""
    sender: str = ""
    subject: str = ""
    subject_match: str = CONTAINS
    header_name: str = ""
    header_value: str = ""
    header_match: str = CONTAINS
    recipient_domain: str = ""
    enabled: bool = False


@dataclass(frozen=True, slots=True)
class TaggingRule:
    """A checked rule; ``number`` is its place in the order (1 is tried first)."""

    category: str
    sender: str = ""
    subject: str = ""
    subject_match: str = CONTAINS
    header_name: str = ""
    header_value: str = ""
    header_match: str = CONTAINS
    recipient_domain: str = ""
    enabled: bool = False
    number: int = 0
    id: int | None = None

    def conditions(self) -> list[str]:
        """Each condition as an admin reads it: "Subject contains 'Factuur'"."""
        found = []
        if self.sender:
            found.append(f"From {self.sender}")
        if self.subject:
            found.append(f"Subject {compared(self.subject_match, self.subject)}")
        if self.header_name:
            found.append(f"{self.header_name} {compared(self.header_match, self.header_value)}")
        if self.recipient_domain:
            found.append(f"recipient at {self.recipient_domain}")
        return found

    def describe(self) -> str:
        """Its conditions on one line: "From *@shop.example and Subject contains 'Factuur'"."""
        return " and ".join(self.conditions())

    def label(self) -> str:
        """ "rule 3: Subject contains 'Factuur'", as the relay log names the rule that tagged a message."""
        return f"rule {self.number}: {self.describe()}"

    def subject_pattern(self) -> str:
        return self.subject if self.subject_match == PATTERN else literal(self.subject)

    def header_pattern(self) -> str:
        return self.header_value if self.header_match == PATTERN else literal(self.header_value)

    def as_input(self) -> RuleInput:
        return RuleInput(**{f.name: getattr(self, f.name) for f in fields(RuleInput)})

    def as_json(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["description"] = self.describe()
        return data


def compared(mode: str, text: str) -> str:
    """ "contains 'Factuur'" or "matches /Factuur \\d+/"."""
    return f"matches /{text}/" if mode == PATTERN else f"contains '{text}'"


def check_rule(draft: RuleInput, catalog: Catalog) -> TaggingRule:
    """The rule ``draft`` describes, checked; ValidationError names each field that cannot be used.

    A pattern that RE2 does not take is refused here, when the rule is saved,
    with what is wrong and where, never when a message arrives.
    """
    errors: list[FieldError] = []

    def text(name: str, label: str, max_length: int) -> str:
        value = " ".join(str(getattr(draft, name) or "").split()) if name != "subject" else _trim(draft.subject)
        if has_control(value):
            errors.append(FieldError(name, f"{label} may not contain control characters"))
        elif len(value) > max_length:
            errors.append(FieldError(name, f"{label} is too long ({len(value):,} characters, at most {max_length:,})"))
        return value

    category = text("category", "The category", 64).lower()
    sender = text("sender", "From", ADDRESS_MAX).lower()
    subject = text("subject", "The Subject text", TEXT_MAX)
    header_name = text("header_name", "The header name", HEADER_NAME_MAX)
    header_value = _trim(draft.header_value)
    recipient_domain = text("recipient_domain", "The recipient domain", 253).lower().removeprefix("@")
    subject_match, header_match = draft.subject_match, draft.header_match

    if not category:
        errors.append(FieldError("category", f"Give the category (or email type) to tag with: {_choices(catalog)}"))
    elif catalog.resolve(category) is None:
        errors.append(FieldError("category", f"{category!r} is not in the catalog: use {_choices(catalog)}"))
    if sender and not _SENDER.match(sender):
        errors.append(FieldError("sender", f"From {sender!r} is not an address or *@domain"))
    if recipient_domain and not _DOMAIN.match(recipient_domain):
        errors.append(FieldError("recipient_domain", f"{recipient_domain!r} is not a domain, like customer.example"))
    for name, mode in (("subject_match", subject_match), ("header_match", header_match)):
        if mode not in MATCH_MODES:
            errors.append(FieldError(name, f"{mode!r} is not a way to compare: use {' or '.join(MATCH_MODES)}"))
    if subject and subject_match == PATTERN:
        _check_pattern(subject, "subject", "The Subject pattern", errors)
    if header_name and not _HEADER_NAME.match(header_name):
        errors.append(FieldError("header_name", f"{header_name!r} is not a header name (letters, digits, '-')"))
    if header_name and not header_value:
        errors.append(FieldError("header_value", f"Give what {header_name} should contain or match"))
    elif header_value and not header_name:
        errors.append(FieldError("header_name", "Give the name of the header to look at, like X-Mailer"))
    elif has_control(header_value):
        errors.append(FieldError("header_value", "The header text may not contain control characters"))
    elif len(header_value) > TEXT_MAX:
        errors.append(FieldError("header_value", f"The header text is too long (at most {TEXT_MAX:,} characters)"))
    elif header_value and header_match == PATTERN:
        _check_pattern(header_value, "header_value", "The header pattern", errors)
    if not (sender or subject or header_name or recipient_domain) and not errors:
        errors.append(FieldError(None, "Give at least one condition (From, Subject, a header or the recipient domain)"))
    if errors:
        raise ValidationError(errors)
    return TaggingRule(
        category,
        sender,
        subject,
        subject_match,
        header_name,
        header_value,
        header_match,
        recipient_domain,
        bool(draft.enabled),
    )


def _trim(value: str) -> str:
    # A pattern's spaces are part of it; only what surrounds it is trimmed.
    return str(value or "").strip()


def _check_pattern(pattern: str, field: str, label: str, errors: list[FieldError]) -> None:
    try:
        compile_pattern(pattern)
    except PatternError as exc:
        errors.append(FieldError(field, f"{label} cannot be used: {exc}"))


def _choices(catalog: Catalog) -> str:
    return ", ".join(catalog.keys) + " or one of their email types"


# -- examples shipped with a catalog preset -------------------------------------------


def examples(preset: str) -> list[TaggingRule]:
    """The example rules a shipped catalog comes with (``catalogs/NAME-rules.toml``), disabled."""
    if preset not in PRESETS:
        return []
    source = resources.files("contacts_tui.core") / "catalogs" / f"{preset}-rules.toml"
    if not source.is_file():
        return []
    catalog = load_preset(preset)
    found = []
    for table in tomllib.loads(source.read_text(encoding="utf-8")).get("rule", []):
        found.append(replace(check_rule(RuleInput(**table), catalog), enabled=False))
    return found
