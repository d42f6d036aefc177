"""The filter dialog (f): which customers and contact persons to show, by
role, category opted in, status and email domain (core/filters.py)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Select, Static

from contacts_tui.core.directory.filters import STATUSES, Filter
from contacts_tui.core.display import visible
from contacts_tui.core.errors import ValidationError
from contacts_tui.core.validate import ROLES

from .base import AppModal

NOT = "not:"
"""Marks a category choice meaning "not opted in to"."""


class FilterDialog(AppModal[Filter | None]):
    """Choose a filter; ctrl+s applies, ctrl+r clears every field, escape keeps the one there was."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "apply", "apply", tooltip="Apply this filter", id="filter.apply"),
        Binding("ctrl+r", "clear", "clear", tooltip="Clear every field", id="filter.clear"),
        Binding("escape", "cancel", "cancel", tooltip="Keep the filter there was", id="filter.cancel"),
        Binding("tab", "app.focus_next", show=False, priority=True),
        Binding("shift+tab", "app.focus_previous", show=False, priority=True),
    ]

    def __init__(self, current: Filter) -> None:
        super().__init__(classes="dialog-screen")
        self.current = current

    def compose(self) -> ComposeResult:
        current = self.current
        catalog = self.directory.catalog
        categories: list[tuple[str, str]] = []
        for category in catalog.categories:
            categories.append((f"opted in to {category.label}", category.key))
            categories.append((f"not opted in to {category.label}", NOT + category.key))
        chosen = None
        if current.category:
            chosen = current.category if current.opted_in else NOT + current.category
        with Vertical(id="filter-dialog", classes="dialog"):
            yield Static("Show only customers and contact persons that are…", id="filter-title", markup=False)
            yield from self._row("Role", _select([(r, r) for r in ROLES], current.role, "role"))
            yield from self._row("Category", _select(categories, chosen, "category"))
            statuses = [(label, key) for key, label in STATUSES.items()]
            yield from self._row("Status", _select(statuses, current.status, "status"))
            domain = Input(current.domain or "", placeholder="e.g. acme.example", id="domain", compact=True)
            yield from self._row("Email domain", domain)
            yield Static("", classes="error", id="filter-error", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Apply (ctrl+s)", id="apply", compact=True)
                yield Button("Clear (ctrl+r)", id="clear", compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)

    def _row(self, label: str, widget) -> ComposeResult:
        with Horizontal(classes="field"):
            yield Label(label, classes="field-label", markup=False)
            yield widget

    def on_mount(self) -> None:
        self.query_one("#role", Select).focus()
        if not self.app.cursor_blink:
            self.query_one("#domain", Input).cursor_blink = False

    def _value(self, name: str) -> str | None:
        value = self.query_one(f"#{name}", Select).value
        return None if value is Select.NULL else str(value)

    def action_apply(self) -> None:
        category = self._value("category")
        values = {
            "role": self._value("role"),
            "status": self._value("status"),
            "domain": self.query_one("#domain", Input).value,
            "category": None,
            "not_category": None,
        }
        if category is not None and category.startswith(NOT):
            values["not_category"] = category[len(NOT) :]
        else:
            values["category"] = category
        try:
            chosen = self.directory.clean_filter(**values)
        except ValidationError as exc:
            error = self.query_one("#filter-error", Static)
            error.update(str(exc))
            error.add_class("shown")
            return
        self.dismiss(chosen)

    def action_clear(self) -> None:
        for select in self.query(Select).results():
            select.clear()
        self.query_one("#domain", Input).value = ""

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted, "#domain")
    def submitted(self) -> None:
        self.action_apply()

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        {"apply": self.action_apply, "clear": self.action_clear, "cancel": self.action_cancel}[str(event.button.id)]()


def _select(options: list[tuple[str, str]], value: str | None, name: str) -> Select:
    # A Select reads a str prompt as markup, and category labels come from a catalog file.
    prompts = [(Text(visible(prompt)), key) for prompt, key in options]
    return Select(prompts, value=value or Select.NULL, prompt="any", compact=True, id=name)
