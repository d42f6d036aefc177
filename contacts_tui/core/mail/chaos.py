"""Chaos rules for testers (Mailpit's "chaos"): a capture relay answers a chosen
SMTP error for matching mail, so a billing application's retries and error
reports can be tested against it.

A rule names the stage (MAIL, RCPT or DATA), the reply, and which mail it
takes: a sender, a recipient and a category, each a shell-style pattern
("*@shop.example"; empty matches all), always or with a probability, after
an optional delay. Rules live in the database: ``contacts-relay chaos``
changes them while relays run, and the TUI shows them.
"""

from __future__ import annotations

import fnmatch
import random
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..db import database_call
from ..errors import FieldError, ValidationError
from ..migrate import write_transaction
from ..models import ChaosRule

STAGES = ("mail", "rcpt", "data")
_REPLY = re.compile(r"^[45]\d\d(?: [245]\.\d{1,3}\.\d{1,3})? \S.*$")
_uses_database = database_call(lambda *args: ChaosRule._meta.database)


@dataclass(frozen=True, slots=True)
class Rule:
    stage: str
    reply: str
    sender: str = ""
    recipient: str = ""
    category: str = ""
    probability: float = 1.0
    delay: float = 0.0
    id: int | None = None

    def matches(self, stage: str, sender: str, recipient: str | None, category: str | None) -> bool:
        """Whether this rule takes mail at ``stage`` (recipient and category are known at RCPT and DATA)."""
        if stage != self.stage:
            return False
        if self.sender and not fnmatch.fnmatch(sender.lower(), self.sender.lower()):
            return False
        if self.recipient and not (recipient and fnmatch.fnmatch(recipient.lower(), self.recipient.lower())):
            return False
        if self.category and not (category and fnmatch.fnmatch(category.lower(), self.category.lower())):
            return False
        return True

    def fires(self, rng: random.Random | None = None) -> bool:
        """Whether this one matching message fails; ``rng``: a seeded generator (tests), else the random module's."""
        if self.probability >= 1.0:
            return True
        return (rng.random() if rng is not None else random.random()) < self.probability

    def describe(self) -> str:
        what = [f"at {self.stage.upper()}"]
        for label, pattern in (("from", self.sender), ("to", self.recipient), ("category", self.category)):
            if pattern:
                what.append(f"{label} {pattern}")
        if self.probability < 1.0:
            what.append(f"{self.probability:.0%} of the time")
        if self.delay:
            what.append(f"after {self.delay:g} s")
        return f"{self.reply} ({', '.join(what)})"


def rule(
    stage: str,
    reply: str,
    sender: str = "",
    recipient: str = "",
    category: str = "",
    probability: float = 1.0,
    delay: float = 0.0,
) -> Rule:
    """A checked rule; ValidationError names the field that cannot be used."""
    errors = []
    stage = stage.strip().lower()
    reply = " ".join(reply.split())
    if stage not in STAGES:
        errors.append(("stage", f"{stage!r} is not a stage: use mail, rcpt or data"))
    if not _REPLY.match(reply):
        errors.append(
            (
                "reply",
                f"{reply!r} is not an SMTP error reply like '451 4.3.0 Try again later' (a 4xx or 5xx code, then text)",
            )
        )
    if stage == "mail" and (recipient or category):
        errors.append(("stage", "at MAIL the recipients and the category are not known yet: use rcpt or data"))
    if stage == "rcpt" and category:
        errors.append(("stage", "at RCPT the category is not known yet: use data"))
    if not 0.0 < probability <= 1.0:
        errors.append(("probability", "give a probability above 0 and at most 1"))
    if not 0.0 <= delay <= 300.0:
        errors.append(("delay", "give a delay from 0 to 300 seconds"))
    if errors:
        raise ValidationError([FieldError(field, message) for field, message in errors])
    return Rule(stage, reply, sender.strip(), recipient.strip(), category.strip(), probability, delay)


def rules_from_file(path: str | Path) -> list[Rule]:
    """Rules from a TOML file: one ``[[rule]]`` table per rule, with the fields of ``rule``."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValidationError.single(None, f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError.single(None, f"{path} is not TOML: {exc}") from None
    found = []
    for number, table in enumerate(data.get("rule", []), start=1):
        try:
            found.append(rule(**{key: table[key] for key in table}))
        except TypeError as exc:
            raise ValidationError.single(None, f"{path}, rule {number}: {exc}") from None
        except ValidationError as exc:
            raise ValidationError.single(None, f"{path}, rule {number}: {exc}") from None
    return found


@_uses_database
def current_rules() -> list[Rule]:
    return [_record(row) for row in ChaosRule.select().order_by(ChaosRule.id)]


@_uses_database
def add_rule(new: Rule) -> Rule:
    row = ChaosRule.create(
        stage=new.stage,
        reply=new.reply,
        sender=new.sender,
        recipient=new.recipient,
        category=new.category,
        probability=new.probability,
        delay=new.delay,
    )
    return _record(row)


@_uses_database
def replace_rules(rules: list[Rule]) -> list[Rule]:
    """Make ``rules`` the only ones (``serve --chaos FILE``)."""
    with write_transaction(ChaosRule._meta.database):
        ChaosRule.delete().execute()
        return [add_rule(new) for new in rules]


@_uses_database
def clear_rules(rule_id: int | None = None) -> int:
    """Remove one rule, or every one; how many went."""
    query = ChaosRule.delete()
    if rule_id is not None:
        query = query.where(ChaosRule.id == rule_id)
    return query.execute()


def _record(row: ChaosRule) -> Rule:
    return Rule(row.stage, row.reply, row.sender, row.recipient, row.category, row.probability, row.delay, row.id)
