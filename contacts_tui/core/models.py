"""Peewee models of the one database the TUI and the relays share.

The models are bound to a database by ``db.open_database``; the schema itself
is created and changed only by the migrations in ``migrations/``.
Widgets never see these rows: ``records.py`` converts the directory's and
``mail/relay_log.py`` the relay log's and captured messages' into dataclasses. The
relay asks the directory through ``Directory`` and writes its log and
captures itself (``relay/store``), with these models.
"""

from __future__ import annotations

import datetime as dt

from peewee import (
    AutoField,
    BlobField,
    BooleanField,
    CharField,
    CompositeKey,
    DateTimeField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)


def utcnow() -> dt.datetime:
    """Naive UTC, the one time format every table stores."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


class BaseModel(Model):
    class Meta:
        legacy_table_names = False


class Customer(BaseModel):
    id = AutoField()
    name = CharField(max_length=200)
    # Case-folded copies: sorting, paging and uniqueness must ignore case and
    # stay index-only on both SQLite and PostgreSQL. The name's sorts numbers
    # by value (rules.name_sort_key).
    name_key = CharField(max_length=200)
    email = CharField(max_length=254)
    email_key = CharField(max_length=254, unique=True)
    phone = CharField(max_length=40, default="")
    active = BooleanField(default=True)
    # Kept by the directory so the list shows "N of 10" without counting rows.
    contact_count = IntegerField(default=0)
    # Name, email, contact names and emails, case-folded: what search matches
    # (rules.search_text makes it).
    search_text = TextField(default="")
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
    # The customer portal (m0008): set while an admin keeps the customer from
    # signing in; the last sign-in and whether it came over ssh or the web.
    portal_disabled_at = DateTimeField(null=True)
    last_sign_in_at = DateTimeField(null=True)
    last_sign_in_channel = CharField(max_length=8, null=True)
    # m0016: the admin's note (never sent in mail, never shown in the portal)
    # and the portal's language for the customer (validate.LANGUAGES).
    notes = TextField(default="")
    language = CharField(max_length=8, default="en")


class ContactPerson(BaseModel):
    id = AutoField()
    customer = ForeignKeyField(Customer, backref="contacts", on_delete="CASCADE")
    customer_id: int  # the column behind ``customer``, which peewee's types do not name
    name = CharField(max_length=200)
    email = CharField(max_length=254)
    email_key = CharField(max_length=254, index=True)
    phone = CharField(max_length=40, default="")
    role = CharField(max_length=40, default="General")
    receive_all = BooleanField(default=False)
    deleted_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
    # m0016: kept by the admin and the customer; never sent in mail.
    notes = TextField(default="")


class ContactCategory(BaseModel):
    contact = ForeignKeyField(ContactPerson, backref="category_rows", on_delete="CASCADE")
    contact_id: int  # the column behind ``contact``
    category = CharField(max_length=64)

    class Meta:
        primary_key = CompositeKey("contact", "category")


class RelayLog(BaseModel):
    """One row per message the relay received, updated as delivery goes on."""

    id = AutoField()
    received_at = DateTimeField(default=utcnow, index=True)
    updated_at = DateTimeField(default=utcnow)
    relay = CharField(max_length=255, default="")
    queue_id = CharField(max_length=64, default="", index=True)
    message_id = CharField(max_length=998, default="")
    sender = CharField(max_length=254, default="")
    recipients = TextField(default="[]")
    subject = TextField(default="")
    category = CharField(max_length=255, default="")
    category_key = CharField(max_length=64, default="")
    customers = TextField(default="[]")
    added = TextField(default="[]")
    decision = CharField(max_length=32, default="")
    reason = TextField(default="")
    status = CharField(max_length=32, default="", index=True)
    attempts = IntegerField(default=0)
    last_error = TextField(default="")
    size = IntegerField(default=0)
    delivered_at = DateTimeField(null=True)
    # Which copy of the message this is (one per customer; see records.Audience),
    # and the queue id of its first copy, shared by all ("" for a message of one copy).
    copy_of = CharField(max_length=64, default="")
    copy_number = IntegerField(default=1)
    copy_count = IntegerField(default=1)
    # Tagging rules (m0015): the rule that gave the message its category
    # ("rule 3: Subject contains 'Factuur'"), and for a message without a
    # category header the headers a rule can match (tagging/kept.py).
    tagged_by = TextField(default="")
    kept_headers = TextField(default="")


class CapturedMessage(BaseModel):
    """A message the relay stored in capture mode instead of sending it on."""

    id = AutoField()
    log = ForeignKeyField(RelayLog, null=True, on_delete="SET NULL", backref="captures")
    log_id: int | None  # the column behind ``log``
    received_at = DateTimeField(default=utcnow, index=True)
    sender = CharField(max_length=254, default="")
    recipients = TextField(default="[]")
    subject = TextField(default="")
    message_id = CharField(max_length=998, default="")
    category = CharField(max_length=255, default="")
    # What the relay resolved the header to (billing for invoice.created).
    category_key = CharField(max_length=64, default="")
    added = TextField(default="[]")
    search_text = TextField(default="")
    original = BlobField()
    message = BlobField()
    size = IntegerField(default=0)
    # The web inbox (m0013): Mailpit's read flag, and what a list shows and
    # its address words search, made once from the message (mail/summary.py).
    read = BooleanField(default=False)
    summary = TextField(default="")
    from_text = TextField(default="")
    to_text = TextField(default="")
    cc_text = TextField(default="")
    reply_to_text = TextField(default="")
    attachments = IntegerField(default=0)
    inline_parts = IntegerField(default=0)
    copy_of = CharField(max_length=64, default="")  # as in RelayLog
    copy_number = IntegerField(default=1)
    copy_count = IntegerField(default=1)
    # The tagging rule that gave the message its category (m0015).
    tagged_by = TextField(default="")


class Setting(BaseModel):
    """A setting every process of one database shares (see directory/settings.py):
    the catalog in use and the contact person limit."""

    name = CharField(max_length=64, primary_key=True)
    value = TextField()
    updated_at = DateTimeField(default=utcnow)


class ChaosRule(BaseModel):
    """A failure a capture relay makes on purpose for matching mail (see mail/chaos.py)."""

    id = AutoField()
    stage = CharField(max_length=8)
    reply = CharField(max_length=512)
    sender = CharField(max_length=254, default="")
    recipient = CharField(max_length=254, default="")
    category = CharField(max_length=255, default="")
    probability = FloatField(default=1.0)
    delay = FloatField(default=0.0)
    created_at = DateTimeField(default=utcnow)


class TaggingRuleRow(BaseModel):
    """A tagging rule (see tagging/rule.py): conditions that give a message
    without a category header its category. ``position`` orders them."""

    id = AutoField()
    position = IntegerField(index=True)
    enabled = BooleanField(default=False)
    category = CharField(max_length=64)
    sender = CharField(max_length=254, default="")
    subject = TextField(default="")
    subject_match = CharField(max_length=8, default="contains")
    header_name = CharField(max_length=76, default="")
    header_value = TextField(default="")
    header_match = CharField(max_length=8, default="contains")
    recipient_domain = CharField(max_length=253, default="")
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "tagging_rule"


class TaggingState(BaseModel):
    """One row: the tagging rules' version, counted up by every change, so a
    relay reads the rules again only when they changed (tagging/store.py)."""

    id = IntegerField(primary_key=True)
    version = IntegerField(default=0)

    class Meta:
        table_name = "tagging_state"


class ChangeRecord(BaseModel):
    """One change of the directory: when, who, through which channel, what
    (see directory/history.py). Customer and contact person are plain ids with their
    addresses copied at the time, not foreign keys: the history outlives what
    it is about and reads the same after an address changes."""

    id = AutoField()
    at = DateTimeField(default=utcnow, index=True)
    customer_id = IntegerField()
    customer_email = CharField(max_length=254, default="")
    contact_id = IntegerField(null=True)
    contact_email = CharField(max_length=254, default="")
    who = CharField(max_length=254)
    channel = CharField(max_length=8)
    action = CharField(max_length=64)
    # JSON: a list of [field, before, after], only the fields that changed.
    changes = TextField(default="[]")

    class Meta:
        table_name = "change_history"
        indexes = ((("customer_id", "at"), False),)


class SignInCode(BaseModel):
    """A one-time code mailed to a customer's primary email for the portal;
    only its hash is stored."""

    id = AutoField()
    customer = ForeignKeyField(Customer, on_delete="CASCADE")
    code_hash = TextField()
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()
    tries = IntegerField(default=0)
    used_at = DateTimeField(null=True)

    class Meta:
        table_name = "portal_codes"
        indexes = ((("customer", "created_at"), False),)


class CodeRequest(BaseModel):
    """A sign-in code asked for (m0016), for any address typed: the limit of
    codes an hour holds for every address alike (directory/lockout.py). The
    address is kept only as a hash: most typed are nobody's."""

    id = AutoField()
    address = CharField(max_length=64)
    requested_at = DateTimeField(index=True)

    class Meta:
        table_name = "portal_code_requests"
        indexes = ((("address", "requested_at"), False),)


ALL_MODELS = (
    Customer,
    ContactPerson,
    ContactCategory,
    RelayLog,
    CapturedMessage,
    Setting,
    ChaosRule,
    ChangeRecord,
    SignInCode,
    TaggingRuleRow,
    TaggingState,
    CodeRequest,
)
