"""Searches for one or two characters, which on SQLite go through their own
index (core/grams.py): they must find exactly the customers whose names and
addresses hold the word, after every kind of edit, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contacts_tui.core.directory.service import Directory
from contacts_tui.core.records import CustomerInput

from ..helpers import csv_text, import_text, new_customer, person

_emails = itertools.count()


def found(directory: Directory, text: str) -> list[int]:
    return sorted(c.id for c in directory.search_customers(text, limit=500).rows)


def holding(directory: Directory, word: str) -> list[int]:
    """The customers whose name, email or active contacts hold ``word``, read the long way."""
    word = word.casefold()
    ids = []
    for customer in directory.search_customers("", limit=500).rows:
        texts = [customer.name, customer.email]
        for contact in directory.list_contacts(customer.id):
            texts += [contact.name, contact.email]
        if any(word in text.casefold() for text in texts):
            ids.append(customer.id)
    return sorted(ids)


def test_a_short_word_follows_every_edit(directory):
    shop = new_customer(directory, "owner@shop.example", "Hoya Oy").id
    other = new_customer(directory, "info@other.example", "Other Ltd").id
    assert found(directory, "oy") == [shop]
    directory.update_customer(shop, CustomerInput("Hall Ltd", "owner@shop.example"))
    assert found(directory, "oy") == []
    joy = directory.add_contact(other, person("Joy Park", "park@other.example"))
    assert found(directory, "OY") == [other]
    directory.delete_contact(joy.id)
    assert found(directory, "oy") == []
    directory.undelete_contact(joy.id)
    assert found(directory, "oy") == [other]
    directory.update_contact(joy.id, person("Jo Park", "park@other.example"))
    assert found(directory, "oy") == []
    # An address that becomes the primary one is still searched.
    directory.add_contact(shop, person("Ann", "ann@boy.example"))
    assert found(directory, "oy") == [shop]
    directory.make_primary(directory.list_contacts(shop)[0].id)
    assert found(directory, "oy") == [shop]
    assert found(directory, "y") == holding(directory, "y")


def test_a_short_word_follows_an_import_that_syncs(directory):
    import_text(directory, csv_text("a@shop.example,Hoya,Joy,joy@shop.example,,,"))
    hoya = directory.find_customer("a@shop.example").id
    assert found(directory, "oy") == [hoya]
    import_text(directory, csv_text("a@shop.example,Hall,Ann,ann@hall.example,,,"), sync=True)
    assert found(directory, "oy") == [] == holding(directory, "oy")
    assert found(directory, "nn") == [hoya]


def test_non_latin_and_single_characters_are_found(directory):
    yamada = new_customer(directory, "office@yamada.example", "山田商店").id
    cafe = new_customer(directory, "hi@cafe.example", "Café Ñu").id
    assert found(directory, "山田") == [yamada]
    assert found(directory, "山") == [yamada]
    assert found(directory, "É") == [cafe]
    assert found(directory, "ñ") == [cafe]
    assert found(directory, "é 山") == []
    # A short word beside a long one: both must be held.
    assert found(directory, "café ñ") == [cafe]
    assert found(directory, "café 山") == []


def test_on_sqlite_short_words_use_their_index_and_never_join_it_to_the_trigram_one(sqlite_directory, caplog):
    directory = sqlite_directory
    for number in range(30):
        new_customer(directory, f"c{number}@shop{number % 3}.example", f"Shop {number} Oy")
    with caplog.at_level(logging.DEBUG, logger="peewee"):
        assert directory.search_customers("oy").total == 30
        only_short = [r.getMessage() for r in caplog.records]
        caplog.clear()
        assert directory.search_customers("shop1 oy").total == 10
        assert found(directory, "oy 1") == holding(directory, "1")
        mixed = [r.getMessage() for r in caplog.records]
    assert any("customer_grams" in sql for sql in only_short)
    assert not any("customer_grams" in sql and "customer_search" in sql for sql in only_short + mixed)


texts = st.text(alphabet="aoyé山田ñ4 .-", min_size=1, max_size=12).map(str.strip).filter(bool)


@pytest.mark.slow  # a property test: hundreds of generated cases
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    names=st.lists(texts, min_size=1, max_size=4),
    renamed=texts,
    contact=texts,
    words=st.lists(st.text(alphabet="aoyé山田ñ4.-", min_size=1, max_size=2), min_size=1, max_size=4),
)
def test_short_words_find_what_a_substring_test_finds(directory, names, renamed, contact, words):
    ids = [new_customer(directory, f"x{next(_emails)}@q.example", name).id for name in names]
    directory.update_customer(ids[0], CustomerInput(renamed, directory.get_customer(ids[0]).email))
    added = directory.add_contact(ids[-1], person(contact, f"p{next(_emails)}@q.example"))
    if len(ids) > 1:
        directory.delete_contact(added.id)
    for word in words:
        assert found(directory, word) == holding(directory, word), word
    first, second = words[0], words[-1]
    assert found(directory, f"{first} {second}") == sorted(
        set(holding(directory, first)) & set(holding(directory, second))
    )
