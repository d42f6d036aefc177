"""Tagging rules: conditions that give a message without a category header its
category, ordered, in the database so every relay worker, every host and the
TUI see the same ones; a version every change counts up, which a relay
compares before each such message.

The relay log keeps which rule tagged a message and, for a message without a
category header, the headers a rule can match (``rules try``); a captured
message keeps which rule tagged it. A database whose catalog is a shipped one
gets the catalog's example rules, disabled.
"""

import json

import peewee as pw

from ..models import utcnow

# NOT NULL with the default in the schema: one ALTER on both databases, and
# rows written by code that does not name these columns still insert.
TEXT = "TEXT NOT NULL DEFAULT ''"


def up(migrator, database):
    class TaggingRuleRow(pw.Model):
        id = pw.AutoField()
        position = pw.IntegerField(index=True)
        enabled = pw.BooleanField(default=False)
        category = pw.CharField(max_length=64)
        sender = pw.CharField(max_length=254, default="")
        subject = pw.TextField(default="")
        subject_match = pw.CharField(max_length=8, default="contains")
        header_name = pw.CharField(max_length=76, default="")
        header_value = pw.TextField(default="")
        header_match = pw.CharField(max_length=8, default="contains")
        recipient_domain = pw.CharField(max_length=253, default="")
        created_at = pw.DateTimeField(default=utcnow)
        updated_at = pw.DateTimeField(default=utcnow)

        class Meta:
            table_name = "tagging_rule"

    class TaggingState(pw.Model):
        id = pw.IntegerField(primary_key=True)
        version = pw.IntegerField(default=0)

        class Meta:
            table_name = "tagging_state"

    TaggingRuleRow.bind(database)
    TaggingState.bind(database)
    TaggingRuleRow.create_table(safe=False)
    TaggingState.create_table(safe=False)
    TaggingState.insert(id=1, version=0).execute()

    database.execute_sql(f'ALTER TABLE relay_log ADD COLUMN "tagged_by" {TEXT}')
    database.execute_sql(f'ALTER TABLE relay_log ADD COLUMN "kept_headers" {TEXT}')
    database.execute_sql(f'ALTER TABLE captured_message ADD COLUMN "tagged_by" {TEXT}')
    if isinstance(database, pw.SqliteDatabase):
        # Keep the messages the last columns of their rows, as m0013 made
        # them: a column after them is read only through every byte of them.
        from .m0013_inbox_columns import _messages_last

        _messages_last(database)

    _examples(database, TaggingRuleRow)


def _examples(database, TaggingRuleRow):
    """The example rules of the database's catalog, when it is a shipped one (a new
    database gets those of the catalog it starts with: options.open_directory)."""
    from contacts_tui.core.tagging.rule import examples

    row = database.execute_sql(f"SELECT value FROM setting WHERE name = {database.param}", ("catalog",)).fetchone()
    if row is None:
        return
    try:
        name = json.loads(row[0])["name"]
    except (ValueError, KeyError, TypeError):
        return
    now = utcnow()
    for position, rule in enumerate(examples(str(name)), start=1):
        TaggingRuleRow.insert(
            position=position,
            enabled=False,
            category=rule.category,
            sender=rule.sender,
            subject=rule.subject,
            subject_match=rule.subject_match,
            header_name=rule.header_name,
            header_value=rule.header_value,
            header_match=rule.header_match,
            recipient_domain=rule.recipient_domain,
            created_at=now,
            updated_at=now,
        ).execute()
