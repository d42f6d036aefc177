"""Chaos rules in the database: kept for every relay and the TUI, and there in an older database too."""

from __future__ import annotations

import pytest

from contacts_tui.core.db import open_database
from contacts_tui.core.errors import ValidationError
from contacts_tui.core.mail import chaos

from ...earlier import BEFORE_RELAY_LAYOUT, run_earlier


def test_rules_are_added_listed_and_cleared(directory):
    first = chaos.add_rule(chaos.rule("data", "451 4.3.0 Try again later", category="billing", probability=0.25))
    second = chaos.add_rule(chaos.rule("rcpt", "550 5.1.1 No such user", recipient="*@gone.example"))
    assert [r.id for r in chaos.current_rules()] == [first.id, second.id]
    assert second.matches("rcpt", "a@shop.example", "X@Gone.Example", None)
    assert not second.matches("rcpt", "a@shop.example", "x@here.example", None)
    assert not first.matches("rcpt", "a@shop.example", "x@here.example", "billing")
    assert chaos.clear_rules(first.id) == 1
    assert chaos.current_rules() == [second]
    assert chaos.clear_rules() == 1 and chaos.current_rules() == []


@pytest.mark.parametrize(
    "fields, wrong",
    [
        ({"stage": "later", "reply": "451 4.3.0 x"}, "stage"),
        ({"stage": "data", "reply": "250 ok"}, "reply"),
        ({"stage": "data", "reply": "451 x", "probability": 0}, "probability"),
        ({"stage": "data", "reply": "451 x", "delay": -1}, "delay"),
    ],
)
def test_a_rule_that_cannot_work_is_refused_by_field(fields, wrong):
    with pytest.raises(ValidationError) as refused:
        chaos.rule(**fields)
    assert refused.value.for_field(wrong)


WRITE_WITH_THE_EARLIER_PROGRAM = """
import sys
from contacts_tui.core.db import open_database
from contacts_tui.core.directory import Directory
from contacts_tui.core.records import CustomerInput
database = open_database(sys.argv[1])
Directory(database).create_customer(CustomerInput("Older Co", "older@example.com"))
database.close()
"""


def test_a_database_of_an_earlier_version_gets_the_chaos_rules_table(tmp_path, db_url):
    run_earlier(BEFORE_RELAY_LAYOUT, tmp_path, WRITE_WITH_THE_EARLIER_PROGRAM, db_url)
    database = open_database(db_url)
    try:
        assert "chaos_rule" in database.get_tables()
        chaos.add_rule(chaos.rule("mail", "421 4.7.0 Closing"))
        assert [r.reply for r in chaos.current_rules()] == ["421 4.7.0 Closing"]
    finally:
        (getattr(database, "close_all", None) or database.close)()
