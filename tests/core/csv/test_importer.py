"""CSV import against the directory rules, on SQLite and PostgreSQL: what it
creates, updates, restores and removes, and what it refuses."""

from __future__ import annotations

import pytest

from contacts_tui.core.csv.importer import ImportFailed

from ..helpers import csv_text, export_text, import_text, new_customer, person

SAMPLE = csv_text(
    "owner@acme.example,Acme Ltd,Bea Bookkeeper,bea@acme.example,+31 20 555 0101,bookkeeping,billing",
    "owner@acme.example,Acme Ltd,Tom Tech,tom@acme.example,,Technical,billing;account",
    "owner@acme.example,Acme Ltd,Ann Allmail,ann@acme.example,,,all",
    "owner@acme.example,Acme Ltd,Ned Nothing,ned@acme.example,,,",
    "info@globex.example,Globex,,,+1 555 0100,,",
    "hello@initech.example,Initech,,,,,",
)


def contacts_by_email(directory, customer_id):
    return {c.email: c for c in directory.list_contacts(customer_id, include_deleted=True)}


def messages(failure):
    return [str(e) for e in failure.value.report.errors]


def test_import_creates_customers_and_contacts_with_roles_and_categories(directory):
    report = import_text(directory, SAMPLE)
    assert (report.rows, report.customers_created, report.contacts_added, report.written) == (6, 3, 4, True)
    acme = directory.find_customer("owner@acme.example")
    assert (acme.name, acme.contact_count) == ("Acme Ltd", 4)
    people = contacts_by_email(directory, acme.id)
    bea, tom, ann, ned = (people[f"{n}@acme.example"] for n in ("bea", "tom", "ann", "ned"))
    assert (bea.name, bea.phone, bea.role, bea.categories) == (
        "Bea Bookkeeper",
        "+31 20 555 0101",
        "Bookkeeping",
        ("billing",),
    )
    assert (tom.role, tom.categories, tom.receive_all) == ("Technical", ("billing", "account"), False)
    assert (ann.role, ann.receive_all, ann.categories) == ("General", True, ())
    assert (ned.receive_all, ned.categories) == (False, ())


def test_a_row_without_contact_fields_defines_the_customer_and_its_phone(directory):
    import_text(directory, SAMPLE)
    globex = directory.find_customer("info@globex.example")
    assert (globex.name, globex.phone, globex.contact_count) == ("Globex", "+1 555 0100", 0)
    assert directory.find_customer("hello@initech.example").phone == ""


def test_imported_data_is_searchable_and_resolvable(directory):
    import_text(directory, SAMPLE)
    acme = directory.find_customer("owner@acme.example")
    assert [c.id for c in directory.search_customers("bookkeeper").rows] == [acme.id]
    assert [c.id for c in directory.search_customers("tom@acme").rows] == [acme.id]
    added = sorted(a.email for a in directory.resolve(["owner@acme.example"], "order.completed").additions)
    assert added == ["ann@acme.example", "tom@acme.example"]


def test_importing_the_same_file_again_changes_nothing(directory):
    import_text(directory, SAMPLE)
    acme = directory.find_customer("owner@acme.example")
    before = (directory.get_customer(acme.id), directory.list_contacts(acme.id))
    report = import_text(directory, SAMPLE)
    assert (report.customers_created, report.customers_updated) == (0, 0)
    assert (report.contacts_added, report.contacts_updated, report.contacts_restored, report.contacts_removed) == (
        0,
        0,
        0,
        0,
    )
    assert (directory.get_customer(acme.id), directory.list_contacts(acme.id)) == before
    assert directory.counts() == (3, 4)


def test_a_changed_row_updates_the_contact(directory):
    import_text(directory, SAMPLE)
    report = import_text(
        directory,
        csv_text(
            "OWNER@acme.example,Acme Ltd,Bea Smith,BEA@acme.example,,Billing,account",
            "owner@acme.example,Acme Ltd,Tom Tech,tom@acme.example,,Technical,billing;account",
        ),
    )
    assert (report.contacts_updated, report.contacts_added, report.contacts_removed) == (1, 0, 0)
    acme = directory.find_customer("owner@acme.example")
    bea = next(c for c in directory.list_contacts(acme.id) if c.email.lower() == "bea@acme.example")
    assert (bea.name, bea.email, bea.phone, bea.role, bea.categories) == (
        "Bea Smith",
        "BEA@acme.example",
        "",
        "Billing",
        ("account",),
    )
    assert directory.get_customer(acme.id).contact_count == 4
    assert [c.id for c in directory.search_customers("bea smith").rows] == [acme.id]


def test_an_existing_customer_gets_its_new_name_and_phone(directory):
    import_text(directory, SAMPLE)
    report = import_text(directory, csv_text("info@globex.example,Globex Corporation,,,+1 555 0199,,"))
    assert report.customers_updated == 1
    globex = directory.find_customer("info@globex.example")
    assert (globex.name, globex.phone) == ("Globex Corporation", "+1 555 0199")
    assert [c.id for c in directory.search_customers("corporation").rows] == [globex.id]


def test_sync_soft_deletes_unlisted_contacts_of_listed_customers_only(directory):
    import_text(directory, SAMPLE)
    globex = directory.find_customer("info@globex.example")
    hank = directory.add_contact(globex.id, person("Hank", "hank@globex.example"))
    report = import_text(
        directory,
        csv_text("owner@acme.example,Acme Ltd,Bea Bookkeeper,bea@acme.example,+31 20 555 0101,bookkeeping,billing"),
        sync=True,
    )
    assert report.contacts_removed == 3
    acme = directory.find_customer("owner@acme.example")
    assert [c.email for c in directory.list_contacts(acme.id)] == ["bea@acme.example"]
    assert len(directory.list_contacts(acme.id, include_deleted=True)) == 4
    assert directory.get_customer(acme.id).contact_count == 1
    assert directory.search_customers("tom@acme").total == 0
    assert directory.get_contact(hank.id).active  # Globex was not in the file


def test_sync_with_skip_invalid_keeps_the_contacts_of_a_customer_whose_row_was_skipped(directory):
    import_text(directory, SAMPLE)
    globex = directory.find_customer("info@globex.example")
    hank = directory.add_contact(globex.id, person("Hank", "hank@globex.example"))
    report = import_text(
        directory,
        csv_text(
            "owner@acme.example,Acme Ltd,Bea Bookkeeper,bea@acme.example,+31 20 555 0101,bookkeeping,billing",
            "owner@acme.example,Acme Ltd,Tom Tech,tom@acme.example,,Technicl,billing;account",  # a typo: skipped
            "info@globex.example,Globex,,,+1 555 0100,,",
        ),
        sync=True,
        skip_invalid=True,
    )
    acme = directory.find_customer("owner@acme.example")
    # Tom's row was meant to keep him: Acme loses nobody; Globex is synced as usual.
    assert directory.get_customer(acme.id).contact_count == 4
    assert not directory.get_contact(hank.id).active
    assert (report.rows_skipped, report.contacts_removed, report.sync_held) == (1, 1, 1)
    assert "--sync removed nothing at 1 customer(s) with a skipped row" in report.summary()


def test_sync_with_skip_invalid_removes_nothing_when_a_skipped_row_names_no_customer(directory):
    import_text(directory, SAMPLE)
    report = import_text(
        directory,
        csv_text("owner@acme.example,Acme Ltd,Bea Bookkeeper,bea@acme.example,,bookkeeping,billing", "owner@acme,x,y"),
        sync=True,
        skip_invalid=True,
    )
    assert report.contacts_removed == 0
    assert directory.get_customer(directory.find_customer("owner@acme.example").id).contact_count == 4
    assert "--sync removed nothing: a skipped row names no customer" in report.summary()


def test_a_held_sync_still_keeps_the_limit(directory):
    import_text(directory, csv_text(*(f"owner@acme.example,Acme Ltd,P{i},p{i}@acme.example,,," for i in range(9))))
    report = import_text(
        directory,
        csv_text(
            "owner@acme.example,Acme Ltd,New One,n1@acme.example,,,",
            "owner@acme.example,Acme Ltd,New Two,n2@acme.example,,,",
            "owner@acme.example,Acme Ltd,Bad,not-an-email,,,",
        ),
        sync=True,
        skip_invalid=True,
    )
    acme = directory.find_customer("owner@acme.example")
    assert directory.get_customer(acme.id).contact_count == 10
    assert report.contacts_removed == 0 and report.rows_skipped == 2


def test_reimporting_an_export_keeps_the_categories_under_receive_all(directory):
    import_text(directory, SAMPLE)
    acme = directory.find_customer("owner@acme.example")
    tom = next(c for c in directory.list_contacts(acme.id) if c.name == "Tom Tech")
    directory.set_receive_all(tom.id, True)
    exported = export_text(directory).encode()
    assert import_text(directory, exported, dry_run=True).contacts_updated == 0
    import_text(directory, exported)
    again = directory.get_contact(tom.id)
    assert again.receive_all and again.categories == ("billing", "account")


def test_without_sync_unlisted_contacts_stay(directory):
    import_text(directory, SAMPLE)
    import_text(directory, csv_text("owner@acme.example,Acme Ltd,Zoe New,zoe@acme.example,,,"))
    acme = directory.find_customer("owner@acme.example")
    assert directory.get_customer(acme.id).contact_count == 5
    assert [c.id for c in directory.search_customers("tom@acme").rows] == [acme.id]


def test_a_deleted_contact_listed_again_is_restored(directory):
    import_text(directory, SAMPLE)
    acme = directory.find_customer("owner@acme.example")
    ned = next(c for c in directory.list_contacts(acme.id) if c.name == "Ned Nothing")
    directory.delete_contact(ned.id)
    report = import_text(directory, csv_text("owner@acme.example,Acme Ltd,Ned Nothing,ned@acme.example,,,billing"))
    assert report.contacts_restored == 1
    restored = directory.get_contact(ned.id)
    assert restored.active and restored.categories == ("billing",)
    assert directory.get_customer(acme.id).contact_count == 4


def test_an_import_changes_a_deleted_contact_only_by_restoring_it(directory):
    """A deleted record is read-only until restored: a file that lists it
    restores it (its changes checked as an active one's); one that does not,
    with --sync too, leaves it as it was."""
    import_text(directory, SAMPLE)
    acme = directory.find_customer("owner@acme.example")
    ned = next(c for c in directory.list_contacts(acme.id) if c.name == "Ned Nothing")
    directory.delete_contact(ned.id)
    deleted = directory.get_contact(ned.id)
    import_text(directory, csv_text("owner@acme.example,Acme Ltd,Bea Smith,bea@acme.example,,,"), sync=True)
    assert directory.get_contact(ned.id) == deleted
    report = import_text(directory, csv_text("owner@acme.example,Acme Ltd,Ned Renamed,ned@acme.example,+31 6 1,,"))
    assert (report.contacts_restored, report.contacts_updated) == (1, 0)
    restored = directory.get_contact(ned.id)
    assert (restored.name, restored.phone, restored.active) == ("Ned Renamed", "+31 6 1", True)
    assert directory.history(acme.id)[0].action == "contact restored"


def test_dry_run_writes_nothing_and_reports_what_would_change(directory):
    import_text(directory, SAMPLE)
    report = import_text(
        directory,
        csv_text(
            "owner@acme.example,Acme Ltd,Bea Smith,bea@acme.example,,Billing,",
            "owner@acme.example,Acme Ltd,Zoe New,zoe@acme.example,,,",
            "new@newco.example,NewCo,Nina,nina@newco.example,,,all",
        ),
        dry_run=True,
        sync=True,
    )
    assert not report.written
    assert (report.customers_created, report.contacts_added, report.contacts_updated, report.contacts_removed) == (
        1,
        2,
        1,
        3,
    )
    assert "would be created" in report.summary() and "would be removed" in report.summary()
    assert directory.counts() == (3, 4)
    assert directory.find_customer("new@newco.example") is None
    acme = directory.find_customer("owner@acme.example")
    assert sorted(c.name for c in directory.list_contacts(acme.id)) == [
        "Ann Allmail",
        "Bea Bookkeeper",
        "Ned Nothing",
        "Tom Tech",
    ]


def test_one_bad_row_and_nothing_is_written(directory):
    data = csv_text(
        "owner@acme.example,Acme Ltd,Bea,bea@acme.example,,,",
        "owner@acme.example,Acme Ltd,Tom,tom@acme,,,",
        "info@globex.example,Globex,,,,,",
    )
    with pytest.raises(ImportFailed) as failure:
        import_text(directory, data)
    assert messages(failure) == [
        "line 3, column contact_email: 'tom@acme' is not a valid email address: "
        "The part after the @-sign is not valid. It should have a period."
    ]
    assert str(failure.value) == "1 problem(s) in the file; nothing was imported"
    assert directory.counts() == (0, 0)


def test_every_bad_row_is_reported_with_line_and_column(directory):
    data = csv_text(
        "owner@acme.example,Acme Ltd,,bea@acme.example,,,",
        "owner@acme.example,Acme Ltd,Tom,tom@acme.example,,Chief,",
        "owner@acme.example,Acme Ltd,Ann,ann@acme.example,,,gossip",
        "owner@acme.example,Acme Ltd,Ned,ned@acme.example,call me,,",
        "not-an-email,Broken,,,,,",
        "owner@acme.example,Acme Ltd,Eve\u0007,eve@acme.example,,,",
        "owner@acme.example,Acme Ltd,Owner,Owner@ACME.example,,,",
        "owner@acme.example,Acme Ltd,Zoe,zoe@acme.example,,,",
        "owner@acme.example,Acme Ltd,Zoe again,ZOE@acme.example,,,",
        "owner@acme.example,Acme Corp,Max,max@acme.example,,,",
        "new@newco.example,,Nina,nina@newco.example,,,",
        "info@globex.example,Globex,,,,Billing,",
    )
    with pytest.raises(ImportFailed) as failure:
        import_text(directory, data)
    found = [(e.line, e.column) for e in failure.value.report.errors]
    assert found == [
        (2, "contact_name"),
        (3, "role"),
        (4, "categories"),
        (5, "phone"),
        (6, "customer_email"),
        (7, "contact_name"),
        (8, "contact_email"),
        (10, "contact_email"),
        (11, "customer_name"),
        (12, "customer_name"),
        (13, "contact_email"),
    ]
    text = "\n".join(messages(failure))
    assert "Unknown role 'Chief'" in text and "Unknown category 'gossip'" in text
    assert "primary email" in text
    assert "ZOE@acme.example is already a contact person of this customer (as zoe@acme.example, on line 9)" in text
    assert "differs from line 8 ('Acme Ltd'); a customer has one name" in text
    assert "new@newco.example is a new customer and needs a name" in text
    assert directory.counts() == (0, 0)


def test_skip_invalid_imports_the_good_rows_and_lists_the_bad(directory):
    data = csv_text(
        "owner@acme.example,Acme Ltd,Bea,bea@acme.example,,,",
        "owner@acme.example,Acme Ltd,Tom,tom@acme,,,",
        "owner@acme.example,Acme Ltd,Ann,ann@acme.example,,Chief,",
        "info@globex.example,Globex,,,,,",
    )
    report = import_text(directory, data, skip_invalid=True)
    assert report.rows_skipped == 2 and [e.line for e in report.errors] == [3, 4]
    assert report.rows == 4 and report.written
    assert directory.counts() == (2, 1)
    assert "2 invalid rows skipped" in report.summary()


def test_the_limit_counts_the_file_and_the_database(directory):
    acme = new_customer(directory)
    for i in range(8):
        directory.add_contact(acme.id, person(f"P{i}", f"p{i}@acme.example"))
    rows = [f"owner@acme.example,Acme Ltd,New {i},new{i}@acme.example,,," for i in range(3)]
    rows.append("owner@acme.example,Acme Ltd,P0 again,P0@acme.example,,,")  # already there: no room needed
    with pytest.raises(ImportFailed) as failure:
        import_text(directory, csv_text(*rows))
    assert [(e.line, e.column) for e in failure.value.report.errors] == [(4, "contact_email")]
    assert messages(failure)[0].endswith(
        "owner@acme.example already has 10 contact persons — remove one first"
        " (counting those already in the database; --sync drops the ones not in the file)"
    )
    assert directory.get_customer(acme.id).contact_count == 8


def test_with_sync_the_limit_counts_only_the_file(directory):
    acme = new_customer(directory)
    for i in range(8):
        directory.add_contact(acme.id, person(f"P{i}", f"p{i}@acme.example"))
    rows = [f"owner@acme.example,Acme Ltd,New {i},new{i}@acme.example,,," for i in range(10)]
    report = import_text(directory, csv_text(*rows), sync=True)
    assert (report.contacts_added, report.contacts_removed) == (10, 8)
    assert directory.get_customer(acme.id).contact_count == 10


def test_eleven_contacts_for_a_new_customer_are_refused(directory):
    rows = [f"owner@acme.example,Acme Ltd,P{i},p{i}@acme.example,,," for i in range(11)]
    with pytest.raises(ImportFailed) as failure:
        import_text(directory, csv_text(*rows))
    assert [e.line for e in failure.value.report.errors] == [12]
    assert directory.counts() == (0, 0)


def test_an_address_may_be_a_contact_at_several_customers_in_one_file(directory):
    data = csv_text(
        "owner@acme.example,Acme Ltd,Eve,eve@shared.example,,,billing",
        "info@globex.example,Globex,Eve,EVE@shared.example,,,all",
    )
    import_text(directory, data)
    assert [m.customer_name for m in directory.memberships("eve@shared.example")] == ["Acme Ltd", "Globex"]


def test_an_existing_customer_matches_in_any_case_and_keeps_its_address(directory):
    acme = new_customer(directory, "Owner@Acme.example")
    import_text(directory, csv_text("OWNER@ACME.EXAMPLE,,Bea,bea@acme.example,,,"))
    assert directory.counts() == (1, 1)
    assert directory.get_customer(acme.id).email == "Owner@acme.example"
    assert directory.get_customer(acme.id).name == "Acme Ltd"


def test_an_existing_customers_primary_email_is_refused_as_its_contact(directory):
    new_customer(directory, "owner@acme.example")
    with pytest.raises(ImportFailed) as failure:
        import_text(directory, csv_text("owner@acme.example,,Owner,OWNER@acme.example,,,"))
    assert "primary email" in messages(failure)[0]
