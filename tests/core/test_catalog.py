"""The notification catalog: the default, a TOML file that replaces it, and
every way a catalog file can be wrong."""

from __future__ import annotations

import pytest

from contacts_tui.core.catalog import DEFAULT_CATALOG, load_catalog, parse_catalog
from contacts_tui.core.errors import CatalogError

HEROTILL = """
[categories.billing]
label = "Billing"
description = "Invoices and payments"
types = ["invoice.created", "payment.received"]

[categories.helpdesk]
types = { "ticket.opened" = "Ticket opened", "ticket.closed" = "Ticket closed" }

[categories.usage]

[categories.outages]
label = "Outages"
types = ["outage.started"]

[categories.general]
"""


def test_default_catalog_has_billing_and_account_with_their_types():
    assert DEFAULT_CATALOG.keys == ("billing", "account")
    billing, account = DEFAULT_CATALOG.categories
    assert [t.key for t in billing.types] == [
        "invoice.created",
        "payment.received",
        "payment.reminder",
        "invoice.overdue",
        "mandate.requested",
        "mandate.activated",
    ]
    assert [t.key for t in account.types] == [
        "order.confirmed",
        "order.completed",
        "subscription.suspended",
        "subscription.changed",
    ]


@pytest.mark.parametrize(
    "value, category",
    [
        ("billing", "billing"),
        ("ACCOUNT", "account"),
        (" invoice.overdue ", "billing"),
        ("Subscription.Changed", "account"),
        ("newsletter", None),
        ("", None),
        (None, None),
        ("all", None),
    ],
)
def test_header_values_resolve_to_categories(value, category):
    assert DEFAULT_CATALOG.resolve(value) == category


def test_no_path_means_the_default_catalog():
    assert load_catalog(None) is DEFAULT_CATALOG


def test_a_toml_file_replaces_the_default(tmp_path):
    path = tmp_path / "herotill.toml"
    path.write_text(HEROTILL, encoding="utf-8")
    catalog = load_catalog(path)
    assert catalog.keys == ("billing", "helpdesk", "usage", "outages", "general")
    assert catalog.resolve("ticket.closed") == "helpdesk"
    assert catalog.resolve("order.confirmed") is None  # the default is gone, not merged
    assert catalog.get("account") is None
    helpdesk = catalog.get("helpdesk")
    assert (helpdesk.label, helpdesk.types[0].label) == ("Helpdesk", "Ticket opened")
    assert catalog.get("billing").description == "Invoices and payments"


def test_sort_keys_follow_the_catalog_and_unknown_keys_come_last():
    assert DEFAULT_CATALOG.sort_keys({"zeta", "account", "billing"}) == ("billing", "account", "zeta")


def write(tmp_path, text: str | bytes):
    path = tmp_path / "catalog.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CatalogError, match=r"catalog file .*nope\.toml does not exist"):
        load_catalog(tmp_path / "nope.toml")


def test_a_directory_is_not_a_catalog(tmp_path):
    with pytest.raises(CatalogError, match="cannot be read"):
        load_catalog(tmp_path)


def test_invalid_toml_names_the_file_and_the_line(tmp_path):
    path = write(tmp_path, "[categories.billing]\nlabel = \n")
    with pytest.raises(CatalogError, match=r"catalog\.toml is not valid TOML: .*line 2"):
        load_catalog(path)


def test_a_file_that_is_not_utf8_is_refused(tmp_path):
    with pytest.raises(CatalogError, match="cannot be read"):
        load_catalog(write(tmp_path, b"[categories.caf\xe9]\n"))


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "needs at least one \\[categories.KEY\\] table"),
        ("[categories]\n", "needs at least one"),
        ('categories = "billing"\n', "needs at least one"),
        ("[categories.billing]\n[other]\nx = 1\n", "unknown top-level key\\(s\\) other"),
        ("[categories.Billing]\n", "key 'Billing' must be lowercase letters"),
        ('[categories."bill ing"]\n', "key 'bill ing' must be lowercase"),
        ('[categories."-x"]\n', "key '-x' must be"),
        (f"[categories.{'a' * 65}]\n", "at most 64"),
        ("[categories.all]\n", "'all' is reserved"),
        ('[categories.billing]\ntypes = ["all"]\n', "'all' is reserved"),
        ('[categories.billing]\ntypes = ["account"]\n[categories.account]\n', "key 'account' is already used"),
        ('[categories.billing]\ntypes = ["x.y"]\n[categories.account]\ntypes = ["x.y"]\n', "key 'x.y' is already used"),
        ('[categories.billing]\ntypes = ["x.y", "x.y"]\n', "already used"),
        ('[categories.billing]\ntypes = ["Invoice.Created"]\n', "must be lowercase"),
        ("[categories.billing]\ntypes = 3\n", "types must be a list of keys or a table"),
        ("[categories.billing]\ntypes = [1]\n", "type 1 must be a string"),
        ('[categories.billing]\ntypes = { "a" = 1 }\n', "type a must be a string"),
        ("[categories.billing]\nlabel = 5\n", "label must be a string"),
        ('[categories.billing]\nlabel = "Bill\\nX-Evil: 1"\n', "label contains control characters"),
        ("[categories.billing]\ndescription = []\n", "description must be a string"),
        ("[categories.billing]\ncolour = 'red'\n", "unknown field\\(s\\) colour"),
        ("categories = [1, 2]\n", "needs at least one"),
        ("[[categories]]\nkey = 'x'\n", "needs at least one"),
    ],
)
def test_every_bad_catalog_is_a_clear_error(tmp_path, text, message):
    with pytest.raises(CatalogError, match=message) as caught:
        load_catalog(write(tmp_path, text))
    assert "catalog.toml" in str(caught.value)


def test_a_category_that_is_not_a_table_is_refused():
    with pytest.raises(CatalogError, match=r"\[categories.billing\] must be a table"):
        parse_catalog({"categories": {"billing": "yes"}})
