"""Which tagging rule gives a message its category: one pure function.

``RuleSet.tag(headers, sender, recipients)`` is asked by the relay for every
message without a category header, by ``contacts-relay preview`` and
``rules test`` for a file, and by ``rules try`` and the TUI for the mail of
the past: one answer everywhere. No database, no I/O.

The cost does not grow with the number of rules: each condition is asked
once per message for all rules together (one pass of RE2's Set over the
Subject, a dictionary for senders and domains), and the answers are bit
masks over the rules; the first rule whose every condition holds wins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..mail.encoded_words import decode_words
from .patterns import PatternSet
from .rule import TaggingRule


class HeaderSource(Protocol):
    """A message's header fields by name: the relay's parsed header block, or
    the headers the relay log kept of a message."""

    def texts(self, name: str) -> list[str]:
        """The unfolded values of every field called ``name`` (case-insensitive), not yet decoded."""
        ...


@dataclass(frozen=True, slots=True)
class Tag:
    """The category a rule gave a message, and which rule (as it was then) and why."""

    category: str
    rule: TaggingRule

    @property
    def tagged_by(self) -> str:
        """ "rule 3: Subject contains 'Factuur'" (the relay log's column)."""
        return self.rule.label()

    def describe(self) -> str:
        """ "tagged billing by rule 3: Subject contains 'Factuur'"."""
        return f"tagged {self.category} by {self.tagged_by}"


def none_matched(count: int) -> str:
    """What the relay log and preview say of a message without a category header that no rule tagged."""
    return "the one tagging rule did not match" if count == 1 else f"none of the {count} tagging rules matched"


@dataclass(frozen=True, slots=True)
class Tagging:
    """The tagging rules' part of the relay's decision about a message without a
    category header: the rule that tagged it, if any, and how many were asked.

    Everything the relay log, ``preview`` and the metrics say about rules comes from here.
    """

    tag: Tag | None
    rules_tried: int

    @property
    def category(self) -> str | None:
        return self.tag.category if self.tag else None

    @property
    def tagged_by(self) -> str:
        return self.tag.tagged_by if self.tag else ""

    def reasons(self) -> list[str]:
        """What leads the decision's reason: "tagged billing by rule 3: Subject contains 'Factuur'"."""
        return [self.tag.describe()] if self.tag else []

    def untagged(self) -> str:
        """What follows "no notification category header" when no rule matched."""
        if self.tag or not self.rules_tried:
            return ""
        return f", and {none_matched(self.rules_tried)}"


NO_RULES = Tagging(None, 0)


class RuleSet:
    """Rules compiled for matching, in their order (disabled ones are left out)."""

    def __init__(self, rules: Iterable[TaggingRule]) -> None:
        self.rules: tuple[TaggingRule, ...] = tuple(rule for rule in rules if rule.enabled)
        self.all = (1 << len(self.rules)) - 1
        senders: dict[str, int] = {}
        domains: dict[str, int] = {}
        recipient_domains: dict[str, int] = {}
        # Per header name (the Subject is one): the patterns, and the rule bit of each.
        patterns: dict[str, tuple[list[str], list[int]]] = {}
        self.need_sender = self.need_recipient = 0
        for index, rule in enumerate(self.rules):
            bit = 1 << index
            if rule.sender:
                self.need_sender |= bit
                local, _, domain = rule.sender.rpartition("@")
                table, key = (domains, domain) if local == "*" else (senders, rule.sender)
                table[key] = table.get(key, 0) | bit
            if rule.recipient_domain:
                self.need_recipient |= bit
                recipient_domains[rule.recipient_domain] = recipient_domains.get(rule.recipient_domain, 0) | bit
            for name, pattern in (
                ("subject", rule.subject_pattern() if rule.subject else ""),
                (rule.header_name.lower(), rule.header_pattern() if rule.header_name else ""),
            ):
                if pattern:
                    texts, bits = patterns.setdefault(name, ([], []))
                    texts.append(pattern)
                    bits.append(bit)
        self._senders, self._domains, self._recipient_domains = senders, domains, recipient_domains
        self._headers = [(name, PatternSet(texts), tuple(bits), _or(bits)) for name, (texts, bits) in patterns.items()]

    def __bool__(self) -> bool:
        return bool(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def tag(self, headers: HeaderSource, sender: str, recipients: Sequence[str]) -> Tag | None:
        """The first rule whose every condition holds for this message, as a Tag; None if none does.

        ``sender`` is the envelope sender ("" for <>), ``recipients`` the
        envelope recipients. Call it only for a message without a category
        header: a header always wins over every rule.
        """
        first = self.first(headers, sender, recipients)
        if first is None:
            return None
        rule = self.rules[first]
        return Tag(rule.category, rule)

    def tagging(self, headers: HeaderSource, sender: str, recipients: Sequence[str]) -> Tagging:
        """``tag`` with how many rules were asked, for the relay's decision."""
        return Tagging(self.tag(headers, sender, recipients) if self.rules else None, len(self.rules))

    def first(self, headers: HeaderSource, sender: str, recipients: Sequence[str]) -> int | None:
        """The index in ``rules`` of the first rule that matches, or None."""
        candidates = self.all
        # The cheap conditions first; a header is decoded and matched only
        # while a rule that is still a candidate asks about it.
        if candidates & self.need_recipient:
            held = 0
            for recipient in recipients:
                held |= self._recipient_domains.get(_domain(recipient), 0)
            candidates &= ~self.need_recipient | held
        if candidates & self.need_sender:
            held = 0
            for address in _sender_addresses(headers, sender):
                held |= self._senders.get(address, 0) | self._domains.get(_domain(address), 0)
            candidates &= ~self.need_sender | held
        for name, patterns, bits, needed in self._headers:
            if not candidates & needed:
                continue
            held = 0
            for value in headers.texts(name):
                for index in patterns.matching(decode_words(value).strip()):
                    held |= bits[index]
            candidates &= ~needed | held
        if not candidates:
            return None
        return (candidates & -candidates).bit_length() - 1


def _or(bits: Iterable[int]) -> int:
    total = 0
    for bit in bits:
        total |= bit
    return total


def _domain(address: str) -> str:
    return address.rpartition("@")[2].strip().rstrip(">").lower()


# An address in angle brackets, or a bare one: what From fields hold. The email
# package's parser takes 40 µs a field, more than the rest of a rule set's
# answer; a display name that quotes an address only adds that address, which
# whoever wrote the From field could have written as the address anyway.
_BRACKETED = re.compile(r"<([^<>\s]+@[^<>\s]+)>")
_BARE = re.compile(r"[^\s<>,;:\"()]+@[^\s<>,;:\"()]+")


def _sender_addresses(headers: HeaderSource, sender: str) -> list[str]:
    """The envelope sender and the From field's addresses, lowercased."""
    found = [sender.lower()] if sender else []
    for value in headers.texts("from"):
        value = decode_words(value).lower()
        found += _BRACKETED.findall(value) if "<" in value else _BARE.findall(value)
    return found


@dataclass(frozen=True, slots=True)
class KeptHeaders:
    """Header fields by name, (lowercase name, unfolded value) in message order: those the relay log
    kept of a message (tagging/kept.py), or of a captured message."""

    fields: tuple[tuple[str, str], ...]

    def texts(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for field, value in self.fields if field == wanted]
