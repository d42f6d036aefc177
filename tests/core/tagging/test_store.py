"""Tagging rules in the database: the order, the switch, the history, the version a relay follows."""

from __future__ import annotations

import pytest

from contacts_tui.core.directory.history import Actor
from contacts_tui.core.directory.service import Directory
from contacts_tui.core.errors import NotFound, ValidationError
from contacts_tui.core.options import Options, open_directory
from contacts_tui.core.tagging import store
from contacts_tui.core.tagging.engine import KeptHeaders
from contacts_tui.core.tagging.rule import RuleInput

ADMIN = Actor("admin alice", "cli")


def add(directory: Directory, subject: str, category: str = "billing", **fields):
    return store.add_rule(RuleInput(category=category, subject=subject, **fields), directory.catalog, ADMIN)


def subjects() -> list[str]:
    return [rule.subject for rule in store.current_rules()]


def test_rules_keep_their_order_as_they_are_added_moved_and_removed(directory: Directory):
    for subject in ("A", "B", "C", "D"):
        add(directory, subject)
    first = store.add_rule(RuleInput(category="billing", subject="Z"), directory.catalog, ADMIN, number=1)
    assert first.number == 1 and subjects() == ["Z", "A", "B", "C", "D"]
    d = store.rule_at(5)
    store.move_rule(d.id, 2, ADMIN)
    assert subjects() == ["Z", "D", "A", "B", "C"]
    store.move_rule(store.rule_at(1).id, 4, ADMIN)
    assert subjects() == ["D", "A", "B", "Z", "C"]
    store.remove_rule(store.rule_at(2).id, ADMIN)
    assert subjects() == ["D", "B", "Z", "C"]
    assert [rule.number for rule in store.current_rules()] == [1, 2, 3, 4]
    with pytest.raises(NotFound, match="there is no tagging rule 9: there are rules 1 to 4"):
        store.rule_at(9)


def test_every_change_counts_the_version_up_and_a_relay_sees_it_on_the_next_message(directory: Directory):
    live = store.LiveRules(directory.database)
    message = KeptHeaders((("subject", "Factuur 7"),))
    assert live.tag(message, "", []) is None
    before = store.version()
    rule = add(directory, "Factuur")
    assert store.version() == before + 1
    assert live.tag(message, "", []) is None  # added disabled: tried on the past first
    store.set_enabled(rule.id, True, ADMIN)
    assert live.tag(message, "", []).describe() == "tagged billing by rule 1: Subject contains 'Factuur'"
    store.edit_rule(rule.id, RuleInput(category="account", subject="Factuur", enabled=True), directory.catalog, ADMIN)
    assert live.tag(message, "", []).category == "account"
    store.set_enabled(rule.id, False, ADMIN)
    assert live.tag(message, "", []) is None


def test_the_history_says_who_added_changed_moved_disabled_and_removed_a_rule(directory: Directory):
    a = add(directory, "Invoice", category="invoice.created")
    b = add(directory, "Factuur")
    store.edit_rule(
        a.id,
        RuleInput(category="invoice.created", subject="Invoice", sender="*@shop.example"),
        directory.catalog,
        Actor("admin bob", "tui"),
    )
    store.set_enabled(b.id, True, ADMIN)
    store.move_rule(b.id, 1, ADMIN)
    store.set_enabled(b.id, False, ADMIN)
    store.remove_rule(a.id, ADMIN)
    changes = directory.history()
    assert [change.action for change in reversed(changes)] == [
        "tagging rule added",
        "tagging rule added",
        "tagging rule edited",
        "tagging rule enabled",
        "tagging rule moved",
        "tagging rule disabled",
        "tagging rule removed",
    ]
    removed, disabled, moved, enabled, edited, added = changes[:6]
    assert added.changes[:3] == (
        ("rule", None, 2),
        ("category", None, "billing"),
        ("Subject", None, "contains 'Factuur'"),
    )
    assert edited.who == "admin bob" and edited.channel == "tui"
    assert edited.changes == (("rule", 1, 1), ("From", "", "*@shop.example"))
    assert edited.describe() == 'rule 1; From "" -> "*@shop.example"'
    assert enabled.changes == (("rule", 2, 2), ("enabled", False, True))
    assert moved.changes == (("rule", 2, 1),)
    assert ("Subject", "contains 'Invoice'", None) in removed.changes
    # Not about any customer: a customer's own history leaves them out.
    assert all(change.customer_id == 0 for change in changes[:7])


def test_a_change_that_cannot_be_saved_changes_nothing(directory: Directory):
    rule = add(directory, "Factuur")
    version = store.version()
    with pytest.raises(ValidationError):
        store.edit_rule(
            rule.id, RuleInput(category="billing", subject="(", subject_match="pattern"), directory.catalog, ADMIN
        )
    assert store.version() == version and subjects() == ["Factuur"]
    assert len(directory.history()) == 1


def test_a_new_database_gets_the_example_rules_of_its_catalog_disabled_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    directory = open_directory(Options.from_env(url))
    rules = store.current_rules()
    assert [rule.enabled for rule in rules] == [False] * 6
    assert "Subject contains 'Factuur'" in [rule.describe() for rule in rules]
    directory.database.close()
    directory = open_directory(Options.from_env(url))
    assert len(store.current_rules()) == 6
    directory.database.close()
    other = open_directory(Options.from_env(f"sqlite:///{tmp_path / 'herotill.db'}", "herotill"))
    assert store.current_rules() == []
    other.database.close()
