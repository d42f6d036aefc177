"""Tagging rules in the database: read, added, edited, removed, switched and
moved, each change in one transaction with its entry in the history, and a
version every change counts up.

A relay holds the enabled rules compiled (``LiveRules``) and, before each
message without a category header, reads the version: one indexed row. When
it changed, the relay reads the rules again, so a change reaches every
worker, on every host of a PostgreSQL database, on the next message.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import replace

import peewee

from ..catalog import Catalog
from ..db import database_call
from ..directory import history
from ..directory.history import Actor, Entry
from ..errors import NotFound
from ..migrate import write_transaction
from ..models import TaggingRuleRow, TaggingState, utcnow
from .engine import RuleSet, Tag
from .rule import RuleInput, TaggingRule, check_rule, compared, examples

_uses_database = database_call(lambda *args: TaggingRuleRow._meta.database)

# What the history calls each change of a rule.
RULE_ADDED = "tagging rule added"
RULE_EDITED = "tagging rule edited"
RULE_REMOVED = "tagging rule removed"
RULE_ENABLED = "tagging rule enabled"
RULE_DISABLED = "tagging rule disabled"
RULE_MOVED = "tagging rule moved"
ACTIONS = (RULE_ADDED, RULE_EDITED, RULE_REMOVED, RULE_ENABLED, RULE_DISABLED, RULE_MOVED)

NOT_A_CUSTOMER = 0
"""The history's customer id of a change that is about no customer (a rule)."""


# -- reading ----------------------------------------------------------------------


@_uses_database
def current_rules() -> list[TaggingRule]:
    """Every rule, enabled or not, in order (``number`` 1 is tried first)."""
    return [_record(row) for row in TaggingRuleRow.select().order_by(TaggingRuleRow.position, TaggingRuleRow.id)]


@_uses_database
def rule_at(number: int) -> TaggingRule:
    """The rule with this number in the order; NotFound names the numbers there are."""
    rules = current_rules()
    if not 1 <= number <= len(rules):
        there = f"rules 1 to {len(rules)}" if len(rules) > 1 else "rule 1" if rules else "no rules"
        raise NotFound(f"there is no tagging rule {number}: there are {there}")
    return rules[number - 1]


@_uses_database
def version() -> int:
    row = TaggingState.get_or_none(TaggingState.id == 1)
    return row.version if row else 0


# -- changing -----------------------------------------------------------------------


@_uses_database
def add_rule(draft: RuleInput, catalog: Catalog, actor: Actor, *, number: int | None = None) -> TaggingRule:
    """Add a rule at ``number`` in the order (default: last); returns it as stored."""
    checked = check_rule(draft, catalog)
    with _changing():
        count = TaggingRuleRow.select().count()
        place = count + 1 if number is None else max(1, min(number, count + 1))
        TaggingRuleRow.update(position=TaggingRuleRow.position + 1).where(TaggingRuleRow.position >= place).execute()
        now = utcnow()
        row = TaggingRuleRow.create(position=place, created_at=now, updated_at=now, **_columns(checked))
        added = _record(row)
        _recorded(actor, RULE_ADDED, None, added)
        return added


@_uses_database
def edit_rule(rule_id: int, draft: RuleInput, catalog: Catalog, actor: Actor) -> TaggingRule:
    """Change a rule's conditions, category or switch; its place stays."""
    checked = check_rule(draft, catalog)
    with _changing():
        before = _record(_row(rule_id))
        TaggingRuleRow.update(updated_at=utcnow(), **_columns(checked)).where(TaggingRuleRow.id == rule_id).execute()
        after = _record(_row(rule_id))
        if after != before:
            _recorded(actor, RULE_EDITED, before, after)
        return after


@_uses_database
def set_enabled(rule_id: int, enabled: bool, actor: Actor) -> TaggingRule:
    with _changing():
        before = _record(_row(rule_id))
        if before.enabled == enabled:
            return before
        TaggingRuleRow.update(enabled=enabled, updated_at=utcnow()).where(TaggingRuleRow.id == rule_id).execute()
        after = replace(before, enabled=enabled)
        _recorded(actor, RULE_ENABLED if enabled else RULE_DISABLED, before, after)
        return after


@_uses_database
def move_rule(rule_id: int, number: int, actor: Actor) -> TaggingRule:
    """Put a rule at ``number`` in the order (the rules between shift by one)."""
    with _changing():
        before = _record(_row(rule_id))
        count = TaggingRuleRow.select().count()
        target = max(1, min(number, count))
        if target == before.number:
            return before
        position = TaggingRuleRow.position
        if target < before.number:
            between = (position >= target) & (position < before.number)
            TaggingRuleRow.update(position=position + 1).where(between).execute()
        else:
            between = (position > before.number) & (position <= target)
            TaggingRuleRow.update(position=position - 1).where(between).execute()
        TaggingRuleRow.update(position=target, updated_at=utcnow()).where(TaggingRuleRow.id == rule_id).execute()
        after = replace(before, number=target)
        _recorded(actor, RULE_MOVED, before, after)
        return after


@_uses_database
def remove_rule(rule_id: int, actor: Actor) -> TaggingRule:
    """Delete a rule for good (disable keeps it); the rules after it move up."""
    with _changing():
        before = _record(_row(rule_id))
        TaggingRuleRow.delete().where(TaggingRuleRow.id == rule_id).execute()
        TaggingRuleRow.update(position=TaggingRuleRow.position - 1).where(
            TaggingRuleRow.position > before.number
        ).execute()
        _recorded(actor, RULE_REMOVED, before, None)
        return before


def add_examples(database: peewee.Database, preset: str) -> int:
    """The example rules of a shipped catalog, disabled, where no rule was ever written.

    A new database gets them with its first catalog (options.open_directory); none is recorded in
    the history, which starts with their first change by an admin. Two programs opening a new
    database at once add them once: the second finds the version counted up.
    """
    found = examples(preset)
    if not found:
        return 0
    with write_transaction(database):
        return _add_examples(found)


def _add_examples(found: list[TaggingRule]) -> int:
    state = TaggingState.select().where(TaggingState.id == 1)
    if isinstance(TaggingState._meta.database, peewee.PostgresqlDatabase):
        state = state.for_update()  # two programs opening a new database at once add them once
    row = state.first()
    if row is None or row.version:
        return 0
    count = TaggingRuleRow.select().count()
    now = utcnow()
    for offset, rule in enumerate(found, start=1):
        TaggingRuleRow.create(position=count + offset, created_at=now, updated_at=now, **_columns(rule))
    _bump()
    return len(found)


@contextmanager
def _changing():
    """A write transaction that has the rules to itself and counts their version up."""
    database = TaggingRuleRow._meta.database
    with write_transaction(database):
        # PostgreSQL: two admins moving rules at once take turns here (SQLite's IMMEDIATE does it).
        if isinstance(database, peewee.PostgresqlDatabase):
            TaggingState.select().where(TaggingState.id == 1).for_update().execute()
        _bump()
        yield


def _bump() -> None:
    TaggingState.update(version=TaggingState.version + 1).where(TaggingState.id == 1).execute()


def _row(rule_id: int) -> TaggingRuleRow:
    row = TaggingRuleRow.get_or_none(TaggingRuleRow.id == rule_id)
    if row is None:
        raise NotFound(f"tagging rule {rule_id} does not exist (any more): someone may have removed it")
    return row


def _columns(rule: TaggingRule) -> dict:
    return {
        "enabled": rule.enabled,
        "category": rule.category,
        "sender": rule.sender,
        "subject": rule.subject,
        "subject_match": rule.subject_match,
        "header_name": rule.header_name,
        "header_value": rule.header_value,
        "header_match": rule.header_match,
        "recipient_domain": rule.recipient_domain,
    }


def _record(row: TaggingRuleRow) -> TaggingRule:
    return TaggingRule(
        row.category,
        row.sender,
        row.subject,
        row.subject_match,
        row.header_name,
        row.header_value,
        row.header_match,
        row.recipient_domain,
        bool(row.enabled),
        row.position,
        row.id,
    )


# -- the history --------------------------------------------------------------------


def rule_fields(rule: TaggingRule) -> history.Fields:
    """A rule field by field, as the history shows what changed."""
    return {
        "category": rule.category,
        "From": rule.sender,
        "Subject": compared(rule.subject_match, rule.subject) if rule.subject else "",
        "header": f"{rule.header_name} {compared(rule.header_match, rule.header_value)}" if rule.header_name else "",
        "recipient domain": rule.recipient_domain,
        "enabled": rule.enabled,
    }


def _recorded(actor: Actor, action: str, before: TaggingRule | None, after: TaggingRule | None) -> None:
    # The rule's number first, before and after: it names the rule (and a move).
    numbers: list[list] = [["rule", before.number if before else None, after.number if after else None]]
    if after is None:  # removed: what it was
        assert before is not None
        fields = [[name, value, None] for name, value in rule_fields(before).items() if value not in ("", False)]
    else:
        fields = history.differences(rule_fields(before) if before else None, rule_fields(after))
    history.record(actor, [Entry(NOT_A_CUSTOMER, "", action, numbers + fields)])


# -- the relay's copy -------------------------------------------------------------------


_VERSION = "SELECT version FROM tagging_state WHERE id = 1"


class LiveRules:
    """The enabled rules as a relay matches them: compiled once, read again when their version changed.

    ``tag`` reads the version (one row) before it matches, so the message
    after a change is matched by the new rules, in every worker.
    """

    def __init__(self, database: peewee.Database) -> None:
        self.database = database
        self._version: int | None = None
        self._rules = RuleSet(())
        self._read = database_call(lambda *args: database)(self._read_now)

    def current(self) -> RuleSet:
        """The rules in force now."""
        return self._read()

    @property
    def may_tag(self) -> bool:
        """Whether a rule may tag a message: yes until the rules were read once, else whether any was on.

        While the database does not answer, a message without a header waits (451) only if a rule
        may tag it; with none on, it goes on as such mail did before there were rules.
        """
        return self._version is None or bool(self._rules)

    @property
    def last(self) -> RuleSet:
        """The rules as last read (none before the first read)."""
        return self._rules

    def tag(self, headers, sender: str, recipients: Sequence[str]) -> Tag | None:
        """``RuleSet.tag`` with the rules in force now (see engine.py)."""
        return self._read().tag(headers, sender, recipients)

    def _read_now(self) -> RuleSet:
        database = self.database
        if isinstance(database, peewee.SqliteDatabase):
            # Straight to the driver: peewee's cursor and logging cost as much as SQLite's own read.
            row = database.connection().execute(_VERSION).fetchone()
        else:
            row = database.execute_sql(_VERSION).fetchone()
        found = row[0] if row else 0
        if found != self._version:
            rules = RuleSet(current_rules())
            self._rules, self._version = rules, found
        return self._rules
