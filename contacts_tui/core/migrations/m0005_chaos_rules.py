"""Chaos rules: failures a capture relay makes on purpose, kept in the database so
that `contacts-relay chaos` changes them while relays run and the TUI shows them."""

import peewee as pw

from ..models import utcnow


def up(migrator, database):
    class ChaosRule(pw.Model):
        id = pw.AutoField()
        stage = pw.CharField(max_length=8)
        reply = pw.CharField(max_length=512)
        sender = pw.CharField(max_length=254, default="")
        recipient = pw.CharField(max_length=254, default="")
        category = pw.CharField(max_length=255, default="")
        probability = pw.FloatField(default=1.0)
        delay = pw.FloatField(default=0.0)
        created_at = pw.DateTimeField(default=utcnow)

        class Meta:
            table_name = "chaos_rule"

    ChaosRule.bind(database)
    ChaosRule.create_table(safe=False)
