"""Add or edit a tagging rule, with what it would have tagged in last week's
mail shown as it is typed (worked out off the UI thread; the newest wins)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Input, Label, Select, Static, Switch

from contacts_tui.core.catalog import Catalog
from contacts_tui.core.display import visible
from contacts_tui.core.errors import ValidationError
from contacts_tui.core.models import utcnow
from contacts_tui.core.tagging import store
from contacts_tui.core.tagging.rule import CONTAINS, MATCH_MODES, PATTERN, RuleInput, TaggingRule, check_rule
from contacts_tui.core.tagging.trial import LAST_WEEK, Trial, past_messages, try_rule

from .form import FormScreen

MODES = [("contains", CONTAINS), ("pattern", PATTERN)]
assert [value for _, value in MODES] == list(MATCH_MODES)


def category_options(catalog: Catalog, current: str) -> list[tuple[Text, str]]:
    """The catalog's categories, each followed by its email types; a rule's category the catalog lost, too.

    Labels as Text: a catalog file is read from outside, and its words are shown, never taken as markup.
    """
    options = []
    for category in catalog.categories:
        options.append((Text(category.key), category.key))
        options += [(Text(f"  {email_type.key}"), email_type.key) for email_type in category.types]
    if current and current not in [value for _, value in options]:
        options.append((Text(visible(f"{current} (not in the catalog)")), current))
    return options


def _state(enabled: bool) -> str:
    return "on " if enabled else "off"


class TaggingRuleForm(FormScreen):
    """Answers with the saved rule, or None when cancelled."""

    # The first field: what the rule tags with.
    AUTO_FOCUS = "#category"
    FIELDS = ("category", "sender", "subject", "header_name", "header_value", "recipient_domain")
    SUB_TITLE = "Tagging rule"
    HELP = (
        "A message without a category header gets this rule's category when every condition "
        "you fill in holds: From is the envelope sender or an address of the From field "
        "(an address, or *@domain for a whole domain); Subject and the header are compared "
        "after decoding, without regard to case, either containing the text or matching an "
        "RE2 pattern (no backtracking: a pattern runs in linear time on any message); the "
        "recipient domain is an envelope recipient's. Below, what the rule would have tagged "
        "in last week's mail, and how many copies it would have added, as you type. A new rule "
        "starts off unless you switch it on."
    )

    def __init__(self, rule: TaggingRule | None) -> None:
        super().__init__()
        self.rule = rule
        self.generation = 0
        self._past: tuple | None = None
        """Last week's messages without a category header and the rules, read once for every try."""

    def heading(self) -> str:
        return "New tagging rule" if self.rule is None else f"Edit tagging rule {self.rule.number}"

    def fields(self) -> ComposeResult:
        data = self.rule.as_input() if self.rule else RuleInput()
        options = category_options(self.directory.catalog, data.category)
        category = Select(options, value=data.category or Select.NULL, id="category", compact=True, prompt="choose")
        yield from self.field("category", "Tag as", category)
        sender = Input(data.sender, id="sender", compact=True, placeholder="billing@shop.example or *@shop.example")
        yield from self.field("sender", "From", sender)
        with Horizontal(classes="field", id="subject-row"):
            yield Label("Subject", classes="field-label", markup=False)
            yield Select(MODES, value=data.subject_match, allow_blank=False, id="subject_match", compact=True)
            yield Input(data.subject, id="subject", compact=True, placeholder="Factuur")
        yield Static("", classes="error", id="subject-error", markup=False)
        with Horizontal(classes="field", id="header_name-row"):
            yield Label("Header", classes="field-label", markup=False)
            yield Input(data.header_name, id="header_name", compact=True, placeholder="X-Mailer")
            yield Select(MODES, value=data.header_match, allow_blank=False, id="header_match", compact=True)
            yield Input(data.header_value, id="header_value", compact=True, placeholder="PayRequest")
        yield Static("", classes="error", id="header_name-error", markup=False)
        yield Static("", classes="error", id="header_value-error", markup=False)
        domain = Input(data.recipient_domain, id="recipient_domain", compact=True, placeholder="customer.example")
        yield from self.field("recipient_domain", "Recipient at", domain)
        with Horizontal(classes="field switch-row", id="enabled-row"):
            yield Label("On", classes="field-label", markup=False)
            yield Switch(data.enabled, id="enabled")
            yield Static(_state(data.enabled), classes="switch-state", id="enabled-state", markup=False)
            yield Static("on: the relay uses it from the next message", classes="field-note", markup=False)

    @on(Switch.Changed, "#enabled")
    def switched(self, event: Switch.Changed) -> None:
        self.query_one("#enabled-state", Static).update(_state(event.value))

    def form_end(self) -> ComposeResult:
        yield Static("", id="trial", markup=False)
        yield from super().form_end()

    def set_error(self, name: str, message: str) -> None:
        # The header's two fields share one row.
        error = self.query_one(f"#{name}-error", Static)
        error.update(message)
        error.set_class(bool(message), "shown")
        row = "header_name" if name == "header_value" else name
        self.query_one(f"#{row}-row").set_class(bool(message), "invalid")

    def on_mount(self) -> None:
        super().on_mount()
        self.try_rule()

    # -- what it would have tagged ----------------------------------------------

    def draft(self) -> RuleInput:
        category = self.query_one("#category", Select).value

        def text(name: str) -> str:
            return self.query_one(f"#{name}", Input).value

        return RuleInput(
            category=category if isinstance(category, str) else "",
            sender=text("sender"),
            subject=text("subject"),
            subject_match=str(self.query_one("#subject_match", Select).value),
            header_name=text("header_name"),
            header_value=text("header_value"),
            header_match=str(self.query_one("#header_match", Select).value),
            recipient_domain=text("recipient_domain"),
            enabled=self.query_one("#enabled", Switch).value,
        )

    @on(Input.Changed)
    @on(Select.Changed)
    def edited(self) -> None:
        if self.is_mounted:
            self.try_rule()

    def try_rule(self) -> None:
        """Try what the form holds on last week's mail, in a thread; a newer try ends an older one."""
        self.generation += 1
        generation = self.generation
        draft, catalog, resolve, rule = self.draft(), self.directory.catalog, self.directory.resolve, self.rule
        self.query_one("#trial", Static).update("Trying it on last week's mail…")

        def run() -> Trial | ValidationError | None:
            try:
                checked = check_rule(draft, catalog)
            except ValidationError as exc:
                return exc
            candidate = replace(checked, id=rule.id if rule else None, number=rule.number if rule else 0)
            if self._past is None:
                since = utcnow() - LAST_WEEK
                self._past = (past_messages(since), store.current_rules(), since)
            past, rules, since = self._past
            return try_rule(candidate, rules, past, resolve, since=since, stop=lambda: generation != self.generation)

        self.call_directory("trial", run, lambda found: self._tried(found, generation))

    def _tried(self, found: Trial | ValidationError | None, generation: int) -> None:
        if generation != self.generation or found is None:
            return  # an older try, answered after a newer one began
        if isinstance(found, ValidationError):
            text = f"Not tried yet: {found.errors[0].message}"
        else:
            summary = found.summary()
            text = summary[0].upper() + summary[1:] + "."
        self.query_one("#trial", Static).update(text)

    # -- saving -----------------------------------------------------------------

    def save_call(self) -> Callable[[], TaggingRule]:
        draft, catalog, actor, rule = self.draft(), self.directory.catalog, self.directory.actor, self.rule
        if rule is None:
            return lambda: store.add_rule(draft, catalog, actor)
        return lambda: store.edit_rule(rule.id, draft, catalog, actor)
