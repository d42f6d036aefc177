"""The tagging rules: for senders that cannot add a category header, the
ordered conditions that give their mail a category. Add, edit, reorder,
switch on and off; the form tries a rule on last week's mail as it is typed."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Header, Static

from contacts_tui.core.display import visible
from contacts_tui.core.tagging import store
from contacts_tui.core.tagging.rule import TaggingRule

from ..widgets.rule_table import RuleTable
from .base import AppScreen
from .confirm import Confirm
from .tagging_rule_form import TaggingRuleForm

INTRO = "No category header: the first rule that is on and matches tags the message."


class TaggingRulesScreen(AppScreen):
    """Every tagging rule, in the order the relay tries them."""

    HELP = (
        "Tagging rules are for senders that cannot add the X-Notification-Category header: "
        "a rule says which category a message without one gets, by its sender or From, "
        "its Subject, another header, or the recipient's domain (all the conditions it "
        "has must hold). The relay tries the rules that are on from the top; the first "
        "that matches wins, and a message with the header is never tagged by a rule. "
        "A new rule starts off: its form shows what it would have tagged in last week's "
        "mail as you type. Every relay uses a change from its next message on."
    )
    EXTRA_KEYS = (("↑ ↓", "Move through the rules"),)
    AUTO_FOCUS = "#rules"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add", "add", tooltip="Add a tagging rule (it starts off)", id="rules.add"),
        Binding("e,enter", "edit", "edit", tooltip="Edit the highlighted rule", id="rules.edit"),
        Binding("space", "switch", "on/off", tooltip="Turn the highlighted rule on or off", id="rules.switch"),
        Binding("K,shift+up", "move(-1)", "up", tooltip="Move the highlighted rule up (tried earlier)", id="rules.up"),
        Binding(
            "J,shift+down", "move(1)", "down", tooltip="Move the highlighted rule down (tried later)", id="rules.down"
        ),
        Binding("d", "remove", "remove", tooltip="Remove the highlighted rule", id="rules.remove"),
        Binding("r", "refresh", "refresh", show=False, tooltip="Load the rules again now", id="rules.refresh"),
        Binding("escape", "back", "back", tooltip="Back", id="rules.back"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(INTRO, id="status", markup=False)
        yield RuleTable(id="rules")
        yield Static("", id="rule-details", markup=False)
        yield Footer(compact=True, show_command_palette=False)

    @property
    def table(self) -> RuleTable:
        return self.query_one(RuleTable)

    def on_mount(self) -> None:
        self.sub_title = "Tagging rules"
        self.action_refresh()

    def action_refresh(self, select: int | None = None) -> None:
        current = self.table.current()
        keep = select if select is not None else (current.id if current else None)
        self.call_directory("rules", store.current_rules, lambda rules: self._loaded(rules, keep))

    def _loaded(self, rules: list[TaggingRule], keep: int | None) -> None:
        ids = [rule.id for rule in rules]
        self.table.show_page(rules, 0, len(rules), ids.index(keep) if keep in ids else 0)
        self._show_rule()
        self.update_keys()

    @on(DataTable.RowHighlighted, "#rules")
    def highlighted(self) -> None:
        self._show_rule()
        self.update_keys()

    def _show_rule(self) -> None:
        rule = self.table.current()
        if rule is None:
            text = "No tagging rules yet: a adds one."
        else:
            state = "on: the relay uses it" if rule.enabled else "off: the relay does not use it"
            lines = [f"Rule {rule.number} tags {rule.category} ({state}) when"]
            lines += [
                ("    and " if number else "    ") + condition for number, condition in enumerate(rule.conditions())
            ]
            text = "\n".join(visible(line) for line in lines)
        self.query_one("#rule-details", Static).update(text)

    # -- what the keys do ------------------------------------------------------

    def unavailable(self, action: str, parameters: tuple[object, ...]) -> str | None:
        rule = self.table.current() if self.is_mounted else None
        if action in ("edit", "switch", "move", "remove") and rule is None:
            return "There is no rule yet: a adds one"
        if action == "move" and rule is not None:
            if parameters[0] == -1 and rule.number == 1:
                return "This rule is tried first already"
            if parameters[0] == 1 and rule.number == self.table.total:
                return "This rule is tried last already"
        return None

    def action_add(self) -> None:
        self.app.push_screen(TaggingRuleForm(None), self._saved)

    def action_edit(self) -> None:
        rule = self.table.current()
        if rule is not None:
            self.app.push_screen(TaggingRuleForm(rule), self._saved)

    def _saved(self, rule: TaggingRule | None) -> None:
        if rule is not None:
            self.app.notify(f"Rule {rule.number} saved ({'on' if rule.enabled else 'off'}).", markup=False)
            self.action_refresh(select=rule.id)

    def action_switch(self) -> None:
        rule = self.table.current()
        if rule is None:
            return
        actor = self.directory.actor
        self.call_directory(
            "switch",
            lambda: store.set_enabled(rule.id, not rule.enabled, actor),
            self._switched,
            write=True,
        )

    def _switched(self, rule: TaggingRule) -> None:
        after = "the relay uses it from the next message" if rule.enabled else "the relay no longer uses it"
        self.app.notify(f"Rule {rule.number} is {'on' if rule.enabled else 'off'}: {after}.", markup=False)
        self.action_refresh(select=rule.id)

    def action_move(self, step: int) -> None:
        rule = self.table.current()
        if rule is None:
            return
        actor = self.directory.actor
        self.call_directory(
            "move",
            lambda: store.move_rule(rule.id, rule.number + step, actor),
            lambda moved: self.action_refresh(select=moved.id),
            write=True,
        )

    def action_remove(self) -> None:
        rule = self.table.current()
        if rule is None:
            return
        question = Confirm(
            f"Remove rule {rule.number}?",
            f"{rule.describe()} → {rule.category}. To keep it without using it, turn it off instead (space).",
            yes="Remove",
            no="Keep",
        )
        self.app.push_screen(question, lambda yes: self._remove(rule) if yes else None)

    def _remove(self, rule: TaggingRule) -> None:
        actor = self.directory.actor
        self.call_directory(
            "remove", lambda: store.remove_rule(rule.id, actor), lambda _: self.action_refresh(), write=True
        )

    def action_back(self) -> None:
        self.dismiss()
