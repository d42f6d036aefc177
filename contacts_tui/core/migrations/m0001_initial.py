"""Customers, contact persons, category opt-ins, relay log, captured messages.

The models here are frozen copies of what version 1 created; later changes go
in later migrations, never here.
"""

import peewee as pw

from contacts_tui.core.models import utcnow


def up(migrator, database):
    class Base(pw.Model):
        class Meta:
            database = None
            legacy_table_names = False

    class Customer(Base):
        name = pw.CharField(max_length=200)
        name_key = pw.CharField(max_length=200)
        email = pw.CharField(max_length=254)
        email_key = pw.CharField(max_length=254, unique=True)
        phone = pw.CharField(max_length=40, default="")
        active = pw.BooleanField(default=True)
        contact_count = pw.IntegerField(default=0)
        search_text = pw.TextField(default="")
        created_at = pw.DateTimeField(default=utcnow)
        updated_at = pw.DateTimeField(default=utcnow)

        class Meta:
            indexes = (
                (("name_key", "id"), False),
                (("contact_count", "name_key"), False),
                (("active", "name_key"), False),
            )

    class ContactPerson(Base):
        customer = pw.ForeignKeyField(Customer, on_delete="CASCADE")
        name = pw.CharField(max_length=200)
        email = pw.CharField(max_length=254)
        email_key = pw.CharField(max_length=254, index=True)
        phone = pw.CharField(max_length=40, default="")
        role = pw.CharField(max_length=40, default="General")
        receive_all = pw.BooleanField(default=False)
        deleted_at = pw.DateTimeField(null=True)
        created_at = pw.DateTimeField(default=utcnow)
        updated_at = pw.DateTimeField(default=utcnow)

    class ContactCategory(Base):
        contact = pw.ForeignKeyField(ContactPerson, on_delete="CASCADE")
        category = pw.CharField(max_length=64)

        class Meta:
            primary_key = pw.CompositeKey("contact", "category")

    class RelayLog(Base):
        received_at = pw.DateTimeField(default=utcnow, index=True)
        updated_at = pw.DateTimeField(default=utcnow)
        relay = pw.CharField(max_length=255, default="")
        queue_id = pw.CharField(max_length=64, default="", index=True)
        message_id = pw.CharField(max_length=998, default="")
        sender = pw.CharField(max_length=254, default="")
        recipients = pw.TextField(default="[]")
        subject = pw.TextField(default="")
        category = pw.CharField(max_length=255, default="")
        category_key = pw.CharField(max_length=64, default="")
        customers = pw.TextField(default="[]")
        added = pw.TextField(default="[]")
        decision = pw.CharField(max_length=32, default="")
        reason = pw.TextField(default="")
        status = pw.CharField(max_length=32, default="", index=True)
        attempts = pw.IntegerField(default=0)
        last_error = pw.TextField(default="")
        size = pw.IntegerField(default=0)
        delivered_at = pw.DateTimeField(null=True)

    class CapturedMessage(Base):
        log = pw.ForeignKeyField(RelayLog, null=True, on_delete="SET NULL")
        received_at = pw.DateTimeField(default=utcnow, index=True)
        sender = pw.CharField(max_length=254, default="")
        recipients = pw.TextField(default="[]")
        subject = pw.TextField(default="")
        message_id = pw.CharField(max_length=998, default="")
        category = pw.CharField(max_length=255, default="")
        added = pw.TextField(default="[]")
        search_text = pw.TextField(default="")
        original = pw.BlobField()
        message = pw.BlobField()
        size = pw.IntegerField(default=0)

    models = [Customer, ContactPerson, ContactCategory, RelayLog, CapturedMessage]
    with database.bind_ctx(models):
        database.create_tables(models)
        # At most one active record per address and customer; soft-deleted
        # records may repeat, so the index is partial.
        database.execute(
            ContactPerson.index(
                ContactPerson.customer, ContactPerson.email_key, unique=True, name="contact_person_active_email"
            ).where(ContactPerson.deleted_at.is_null())
        )
    if isinstance(database, pw.SqliteDatabase):
        _sqlite_search(database)
    elif isinstance(database, pw.PostgresqlDatabase):
        _postgres_search(database)


def _sqlite_search(database):
    # Trigram full-text index: substring search over 100k customers in a
    # millisecond, where LIKE '%x%' scans every row. Triggers keep it in step
    # with any writer.
    try:
        database.execute_sql(
            "CREATE VIRTUAL TABLE customer_search USING fts5("
            "search_text, content='customer', content_rowid='id', tokenize='trigram')"
        )
    except pw.OperationalError:
        return  # SQLite older than 3.34: search falls back to LIKE.
    database.execute_sql(
        "CREATE TRIGGER customer_search_ai AFTER INSERT ON customer BEGIN "
        "INSERT INTO customer_search(rowid, search_text) VALUES (new.id, new.search_text); END"
    )
    database.execute_sql(
        "CREATE TRIGGER customer_search_ad AFTER DELETE ON customer BEGIN "
        "INSERT INTO customer_search(customer_search, rowid, search_text) VALUES ('delete', old.id, old.search_text); END"
    )
    database.execute_sql(
        "CREATE TRIGGER customer_search_au AFTER UPDATE OF search_text ON customer BEGIN "
        "INSERT INTO customer_search(customer_search, rowid, search_text) VALUES ('delete', old.id, old.search_text); "
        "INSERT INTO customer_search(rowid, search_text) VALUES (new.id, new.search_text); END"
    )


def _postgres_search(database):
    # pg_trgm makes LIKE '%x%' use an index. Creating the extension needs a
    # privilege some hosted servers withhold; search still works without it.
    try:
        with database.atomic():
            database.execute_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            database.execute_sql("CREATE INDEX customer_search_trgm ON customer USING gin (search_text gin_trgm_ops)")
    except pw.DatabaseError:
        pass
