"""The history of every change, and the customer portal's sign-in.

``change_history`` records each change of the directory (who, when, through
which channel, what before and after). Its customer and contact person are
plain ids with their addresses copied, not foreign keys: deleting never
takes history with it. ``portal_codes`` holds the hashes of the one-time
codes customers sign in with; the customer gets the columns that say whether
an admin disabled its sign-in and when and how it last signed in.

The models here are frozen copies of what version 8 created.
"""

import peewee as pw
from playhouse.migrate import migrate

from contacts_tui.core.models import utcnow


def up(migrator, database):
    class Customer(pw.Model):
        class Meta:
            table_name = "customer"

    class ChangeRecord(pw.Model):
        at = pw.DateTimeField(default=utcnow, index=True)
        customer_id = pw.IntegerField()
        customer_email = pw.CharField(max_length=254, default="")
        contact_id = pw.IntegerField(null=True)
        contact_email = pw.CharField(max_length=254, default="")
        who = pw.CharField(max_length=254)
        channel = pw.CharField(max_length=8)
        action = pw.CharField(max_length=64)
        changes = pw.TextField(default="[]")

        class Meta:
            table_name = "change_history"
            indexes = ((("customer_id", "at"), False),)

    class SignInCode(pw.Model):
        customer = pw.ForeignKeyField(Customer, on_delete="CASCADE")
        code_hash = pw.TextField()
        created_at = pw.DateTimeField(default=utcnow)
        expires_at = pw.DateTimeField()
        tries = pw.IntegerField(default=0)
        used_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "portal_codes"
            indexes = ((("customer", "created_at"), False),)

    models = [Customer, ChangeRecord, SignInCode]
    with database.bind_ctx(models):
        database.create_tables([ChangeRecord, SignInCode])
    # Nullable columns: added in place on both databases, no table copy.
    migrate(
        migrator.add_column("customer", "portal_disabled_at", pw.DateTimeField(null=True)),
        migrator.add_column("customer", "last_sign_in_at", pw.DateTimeField(null=True)),
        migrator.add_column("customer", "last_sign_in_channel", pw.CharField(max_length=8, null=True)),
    )
