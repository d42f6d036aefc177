"""Customer search and paging, on SQLite (FTS5 trigram) and PostgreSQL (pg_trgm)."""

from __future__ import annotations

import pytest

from contacts_tui.core.records import ContactInput, CustomerInput

from ..helpers import new_customer, person


@pytest.fixture
def town(directory):
    """Five customers with contact persons; returns their ids by short name."""
    ids = {}
    ids["acme"] = new_customer(directory, "owner@acme.example", "Acme Trading").id
    ids["globex"] = new_customer(directory, "info@globex.example", "Globex Corporation").id
    ids["initech"] = new_customer(directory, "hello@initech.example", "Initech NL").id
    ids["mueller"] = new_customer(directory, "kontakt@müller-bäckerei.example", "Bäckerei Müller").id
    ids["ivanov"] = new_customer(directory, "office@ivanov.example", "ООО Иванов и партнёры").id
    directory.add_contact(ids["acme"], person("Bea Bookkeeper", "books@acme.example", role="Bookkeeping"))
    directory.add_contact(ids["acme"], person("Tom Tech", "it@acme.example"))
    directory.add_contact(ids["globex"], person("Hank Scorpio", "hank@globex.example"))
    directory.add_contact(ids["globex"], person("Bea Bookkeeper", "bea@freelance.example"))
    directory.add_contact(ids["initech"], person("Peter Gibbons", "peter_g@initech.example"))
    directory.add_contact(ids["mueller"], person("Jürgen Groß", "grüße@müller-bäckerei.example"))
    directory.add_contact(ids["ivanov"], person("Сергей Петров", "sergei@ivanov.example"))
    return ids


def found(directory, text, **options):
    return sorted(c.id for c in directory.search_customers(text, **options).rows)


def test_empty_search_lists_every_customer(directory, town):
    page = directory.search_customers("")
    assert page.total == 5 and len(page.rows) == 5


def test_search_by_customer_name_ignores_case(directory, town):
    assert found(directory, "GLOBEX corp") == [town["globex"]]
    assert found(directory, "trading") == [town["acme"]]


def test_search_by_customer_email(directory, town):
    assert found(directory, "hello@initech.example") == [town["initech"]]


def test_search_by_contact_email(directory, town):
    assert found(directory, "hank@globex") == [town["globex"]]
    assert found(directory, "BEA@FREELANCE.example") == [town["globex"]]


def test_search_by_contact_name_finds_every_customer_of_the_person(directory, town):
    assert found(directory, "bookkeeper") == sorted([town["acme"], town["globex"]])


def test_several_words_must_all_match(directory, town):
    assert found(directory, "bookkeeper acme") == [town["acme"]]
    assert found(directory, "bookkeeper initech") == []


def test_short_words_match_as_substrings(directory, town):
    assert found(directory, "nl") == [town["initech"]]
    assert found(directory, "initech nl") == [town["initech"]]
    assert found(directory, "globex nl") == []


def test_like_wildcards_in_a_short_word_are_taken_literally(directory, town):
    assert found(directory, "_g") == [town["initech"]]
    assert found(directory, "%") == []


def test_a_backslash_is_searched_literally(directory, town):
    odd = new_customer(directory, "odd@slash.example", "Back\\Slash 100%").id
    assert found(directory, "k\\s") == [odd]
    assert found(directory, "\\") == [odd]
    assert found(directory, "0%") == [odd]


@pytest.mark.parametrize("text", ['o"neil', "acme-trading", "NEAR", "AND OR", "*", "(acme)", "'"])
def test_search_syntax_characters_are_plain_text(directory, town, text):
    # FTS and LIKE syntax is never interpreted: the characters typed find the
    # one customer whose name has them, and nobody else.
    odd = new_customer(directory, "odd@syntax.example", "O\"Neil (Acme) Acme-Trading * NEAR AND OR 'quoted'").id
    assert found(directory, text) == [odd]


def test_a_backslash_nobody_has_finds_nobody(directory, town):
    assert found(directory, "\\") == []


def test_search_non_latin_names_in_any_case(directory, town):
    assert found(directory, "ИВАНОВ") == [town["ivanov"]]
    assert found(directory, "петров") == [town["ivanov"]]
    assert found(directory, "и") == [town["ivanov"]]
    assert found(directory, "MÜLLER") == [town["mueller"]]
    assert found(directory, "jürgen") == [town["mueller"]]


def test_search_finds_an_address_with_sharp_s_as_typed(directory, town):
    # casefold("ß") is "ss": the stored text must fold the same way as the query.
    assert found(directory, "grüße@müller-bäckerei.example") == [town["mueller"]]
    assert found(directory, "GROSS") == [town["mueller"]]


def test_soft_deleted_contact_is_no_longer_found(directory, town):
    hank = next(c for c in directory.list_contacts(town["globex"]) if c.name == "Hank Scorpio")
    directory.delete_contact(hank.id)
    assert found(directory, "hank@globex") == []
    assert found(directory, "scorpio") == []
    directory.undelete_contact(hank.id)
    assert found(directory, "scorpio") == [town["globex"]]


def test_an_edited_contact_is_found_by_its_new_address_only(directory, town):
    hank = next(c for c in directory.list_contacts(town["globex"]) if c.name == "Hank Scorpio")
    directory.update_contact(hank.id, person("Hank Scorpio", "boss@cypress-creek.example"))
    assert found(directory, "hank@globex") == []
    assert found(directory, "cypress-creek") == [town["globex"]]


def test_nothing_matches(directory, town):
    page = directory.search_customers("zzzz-no-such-customer")
    assert (page.rows, page.total) == ((), 0)


# -- paging and sorting ------------------------------------------------------


@pytest.fixture
def many(directory):
    """25 customers, "Customer 00 South" to "Customer 24 South", the odd ones
    North; emails run the other way; customer i has i % 4 contacts; every
    fifth is inactive."""
    rows = []
    for i in range(25):
        side = "North" if i % 2 else "South"
        customer = directory.create_customer(CustomerInput(f"Customer {i:02d} {side}", f"c{(24 - i):02d}@many.example"))
        for j in range(i % 4):
            directory.add_contact(customer.id, person(f"P{j}", f"p{j}@c{i}.example"))
        if i % 5 == 0:
            directory.set_customer_active(customer.id, False)
        rows.append(directory.get_customer(customer.id))
    return rows


def test_pages_cover_all_rows_once_with_the_total(directory, many):
    pages = [directory.search_customers("", offset=offset, limit=10) for offset in (0, 10, 20, 30)]
    assert [p.total for p in pages] == [25] * 4
    assert [len(p.rows) for p in pages] == [10, 10, 5, 0]
    names = [c.name for p in pages for c in p.rows]
    assert [name[:11] for name in names] == [f"Customer {i:02d}" for i in range(25)]


def test_total_counts_matches_not_the_page(directory, many):
    page = directory.search_customers("customer north", limit=3)
    assert page.total == 12
    assert len(page.rows) == 3


def test_limit_and_offset_are_clamped(directory, many):
    assert len(directory.search_customers("", limit=0).rows) == 1
    assert directory.search_customers("", limit=10_000).limit == 500
    assert directory.search_customers("", offset=-5).offset == 0


def test_unknown_sort_is_refused(directory, many):
    with pytest.raises(ValueError, match="unknown sort"):
        directory.search_customers("", sort="phone")


SORT_KEYS = {
    "name": lambda c: (c.name.casefold(), c.id),
    "email": lambda c: c.email.lower(),
    "contacts": lambda c: (c.contact_count, c.name.casefold(), c.id),
    "status": lambda c: (c.active, c.name.casefold(), c.id),
}


@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
@pytest.mark.parametrize("sort", list(SORT_KEYS))
def test_every_sort_key_orders_every_page(directory, many, sort, descending):
    expected = [c.id for c in sorted(many, key=SORT_KEYS[sort], reverse=descending)]
    got = []
    for offset in range(0, 25, 7):
        page = directory.search_customers("", sort=sort, descending=descending, offset=offset, limit=7)
        got.extend(c.id for c in page.rows)
    assert got == expected


def test_sort_applies_to_search_results(directory, many):
    page = directory.search_customers("north", sort="email", descending=True)
    assert [c.name for c in page.rows] == [f"Customer {i:02d} North" for i in range(1, 25, 2)]


@pytest.fixture
def few_among_many(directory):
    """150 customers; the short word "q9" is in three of them."""
    from ..helpers import csv_text, import_text

    rows = [f"c{i:03d}@many.example,Customer {i:03d}{' Q9' if i in (7, 70, 140) else ''},,,,," for i in range(150)]
    import_text(directory, csv_text(*rows))
    directory.set_customer_active(directory.find_customer("c070@many.example").id, False)
    return [directory.find_customer(f"c{i:03d}@many.example") for i in (7, 70, 140)]


@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
@pytest.mark.parametrize("sort", list(SORT_KEYS))
def test_a_rare_short_word_pages_in_every_sort_order(directory, few_among_many, sort, descending):
    # Few matches among many customers: SQLite scans and sorts instead of walking an index.
    expected = [c.id for c in sorted(few_among_many, key=SORT_KEYS[sort], reverse=descending)]
    # (offset + limit) x customers / matches is far above the index walk's budget.
    whole = directory.search_customers("q9", sort=sort, descending=descending, limit=500)
    rest = directory.search_customers("q9", sort=sort, descending=descending, offset=1, limit=500)
    assert (whole.total, rest.total) == (3, 3)
    assert [c.id for c in whole.rows] == expected
    assert [c.id for c in rest.rows] == expected[1:]


def test_a_page_past_the_last_match_is_empty_with_the_total(directory, few_among_many):
    page = directory.search_customers("q9", offset=3)
    assert (page.rows, page.total) == ((), 3)
    assert directory.search_customers("customer", offset=150).total == 150


def test_a_word_in_every_customer_and_one_in_few_find_the_same_as_apart(directory, town):
    # "example" is in every address: on SQLite it is matched by a walk down
    # the sort order rather than the trigram index; the answers must agree.
    assert directory.search_customers("example").total == 5
    assert (
        found(directory, "example bookkeeper")
        == found(directory, "bookkeeper")
        == sorted([town["acme"], town["globex"]])
    )
    assert found(directory, "EXAMPLE peter_g") == [town["initech"]]
    names = [c.name for c in directory.search_customers("example", limit=2, offset=1).rows]
    assert names == [c.name for c in directory.search_customers("", limit=2, offset=1).rows]


@pytest.mark.parametrize("word", ["zeta", "zq"], ids=["long word", "short word"])
def test_matches_gathered_at_the_end_of_the_sort_order_page_right(directory, word):
    # A walk down the sort order expects the matches spread evenly; here they
    # all come last, so it gives up at its window and the index answers.
    from ..helpers import csv_text, import_text

    rows = [f"a{i:02d}@plain.example,Alpha {i:02d},,,,," for i in range(40)]
    rows += [f"z{i:02d}@last.example,Zeta Zq {i:02d},,,,," for i in range(20)]
    import_text(directory, csv_text(*rows))
    expected = [f"Zeta Zq {i:02d}" for i in range(20)]
    for descending in (False, True):
        order = expected[::-1] if descending else expected
        pages = [directory.search_customers(word, descending=descending, offset=i, limit=1) for i in range(20)]
        assert [p.total for p in pages] == [20] * 20
        assert [p.rows[0].name for p in pages] == order
        assert [
            c.name for c in directory.search_customers(word, descending=descending, offset=5, limit=7).rows
        ] == order[5:12]


def test_a_scan_counted_in_two_halves_at_once_counts_each_customer_once(sqlite_directory, monkeypatch):
    from contacts_tui.core.directory import search

    directory = sqlite_directory
    for i in range(31):
        customer = directory.create_customer(CustomerInput(f"Customer {i:02d}", f"c{i:02d}@many.example"))
        if i % 3 == 0:
            directory.add_contact(customer.id, person(f"P{i}", f"p{i}@other.example"))
    texts = ["customer", "many.example", "customer 1", "example 2", "customer other"]
    whole = {text: directory.search_customers(text).total for text in texts}
    monkeypatch.setattr(search, "_SPLIT_ROWS", 1)  # split even a table this small
    assert {text: directory.search_customers(text).total for text in texts} == whole
    assert whole["customer"] == whole["many.example"] == 31
    assert whole["customer other"] == 11


def test_names_sort_as_people_count(directory):
    for name in ("Person 10", "Person 2", "person 1", "Person 1a", "Acme 2000", "Acme 300", "Office 007"):
        directory.create_customer(CustomerInput(name, name.replace(" ", "").lower() + "@n.example"))
    names = [c.name for c in directory.search_customers("", sort="name", limit=20).rows]
    assert names == ["Acme 300", "Acme 2000", "Office 007", "person 1", "Person 1a", "Person 2", "Person 10"]
    descending = [c.name for c in directory.search_customers("person", sort="name", descending=True).rows]
    assert descending == ["Person 10", "Person 2", "Person 1a", "person 1"]
    acme = directory.find_customer("acme300@n.example")
    for name in ("Contact 10", "Contact 9", "contact 1"):
        directory.add_contact(acme.id, ContactInput(name, name.replace(" ", "").lower() + "@acme.example"))
    assert [c.name for c in directory.list_contacts(acme.id)] == ["contact 1", "Contact 9", "Contact 10"]
