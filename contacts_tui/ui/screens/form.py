"""What the customer and contact forms share: labelled fields with their
errors underneath, ctrl+s to save, escape to cancel, nothing typed ever lost."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Button, Footer, Header, Input, Label, Select, Static, Switch

from contacts_tui.core.display import visible
from contacts_tui.core.errors import DatabaseUnavailable, DirectoryError, NotFound, ValidationError

from ..language import N_, _, said, say
from .base import AppScreen
from .confirm import Confirm


class FormScreen(AppScreen):
    """A form over one record. Subclasses compose fields and say how to save."""

    IS_FORM: ClassVar[bool] = True
    # Focus that comes with the screen, not after it: keys typed ahead land
    # in the first field.
    AUTO_FOCUS = "#form Input"
    SUB_TITLE: ClassVar[str] = ""
    FIELDS: ClassVar[tuple[str, ...]] = ()
    """Fields that show their own errors; other errors show above the buttons."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # Not priority: a priority key runs the moment it arrives, before the
        # keys typed just ahead of it (a paste, tmux, a slow SSH link) have
        # reached the field, and the save would miss them. No field uses
        # ctrl+s, so it bubbles up to here after those keys, in order.
        Binding("ctrl+s", "save", N_("save"), tooltip=N_("Save and go back"), id="form.save"),
        Binding("escape", "cancel", N_("cancel"), tooltip=N_("Go back without saving"), id="form.cancel"),
        # Priority, so focus moves before the next key arrives: a key bubbles
        # up from a nested field only after the keys typed right behind it
        # have reached that field, and fast typists (or tmux) would lose tab.
        Binding("tab", "app.focus_next", show=False, priority=True),
        Binding("shift+tab", "app.focus_previous", show=False, priority=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.saving = False
        self.initial: dict[str, Any] = {}

    # -- building ------------------------------------------------------------

    def field(self, name: str, label: str, widget: Widget, note: str = "") -> ComposeResult:
        """A labelled row, a line for its note, and a line for its error."""
        with Horizontal(classes="field", id=f"{name}-row"):
            yield Label(label, classes="field-label", markup=False)
            yield widget
            if note:
                yield Static(note, classes="field-note", markup=False)
        yield Static("", classes="error", id=f"{name}-error", markup=False)

    def form_end(self) -> ComposeResult:
        yield Static("", classes="error", id="form-error", markup=False)
        with Horizontal(classes="buttons"):
            yield Button(_("Save (ctrl+s)"), id="save", compact=True)
            yield Button(_("Cancel (esc)"), id="cancel", compact=True)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(visible(self.heading()), id="form-title", markup=False)
        with VerticalScroll(id="form"):
            yield from self.fields()
        # Below the scrolling fields, not at their end: at 60x20 a form with a
        # long catalog scrolled its save button out of sight.
        with Vertical(id="form-end"):
            yield from self.form_end()
        yield Footer(compact=True, show_command_palette=False)

    def heading(self) -> str:
        raise NotImplementedError

    def fields(self) -> ComposeResult:
        raise NotImplementedError

    def values(self) -> dict[str, Any]:
        """What the form holds now, to tell whether anything was changed."""
        values: dict[str, Any] = {}
        for widget in self.query("#form Input, #form Select, #form Switch").results():
            if widget.id and isinstance(widget, (Input, Select, Switch)):
                values[widget.id] = widget.value
        return values

    def hidden(self, action: str, parameters: tuple[object, ...]) -> bool:
        # A form is for typing: q on a switch or a button must not drop what was typed.
        return action == "close" or super().hidden(action, parameters)

    def on_mount(self) -> None:
        self.sub_title = _(self.SUB_TITLE)
        for widget in self.query(Input):
            if not self.app.cursor_blink:
                widget.cursor_blink = False
            # A value written past the rules (an older program, a hand edit)
            # may hold escape sequences, which an input sends to the terminal
            # as they are: it shows their stand-ins (a save then keeps those).
            if widget.value != visible(widget.value):
                widget.value = visible(widget.value)
        self.initial = self.values()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        # Mark the row being edited; :focus-within does not restyle the label
        # when focus moves on.
        for row in self.query(".field.editing"):
            row.remove_class("editing")
        parent = event.widget.parent
        if parent is not None and parent.has_class("field"):
            parent.add_class("editing")

    # -- errors --------------------------------------------------------------

    def show_errors(self, error: ValidationError) -> None:
        """Each message next to its field; the rest above the buttons."""
        by_field: dict[str | None, list[str]] = {}
        for item in error.errors:
            key = item.field if item.field in self.FIELDS else None
            by_field.setdefault(key, []).append(say(item.message))
        for name in self.FIELDS:
            self.set_error(name, " ".join(by_field.get(name, [])))
        self.query_one("#form-error", Static).update(" ".join(by_field.get(None, [])))
        self.query_one("#form-error").set_class(bool(by_field.get(None)), "shown")
        first = next((name for name in self.FIELDS if name in by_field), None)
        if first is not None:
            self.query_one(f"#{first}").focus()
        else:
            self.query_one("#form-error").scroll_visible()

    def set_error(self, name: str, message: str) -> None:
        error = self.query_one(f"#{name}-error", Static)
        error.update(message)
        error.set_class(bool(message), "shown")
        self.query_one(f"#{name}-row").set_class(bool(message), "invalid")

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Switch.Changed)
    def changed(self, event: Input.Changed | Select.Changed | Switch.Changed) -> None:
        # Whoever edits a field has seen its error; keep the others until the next save.
        name = event.control.id
        if name in self.FIELDS and self.is_mounted:
            self.set_error(name, "")

    # -- saving --------------------------------------------------------------

    def save_call(self) -> Callable[[], Any]:
        """A function that saves what the form holds (it runs in a thread)."""
        raise NotImplementedError

    def action_save(self) -> None:
        if self.saving:
            return
        self.saving = True
        self.query_one("#form-error", Static).update(_("Saving…"))
        self.query_one("#form-error").set_class(True, "shown")
        self.call_directory("save", self.save_call(), self._saved, self._failed, write=True)

    def _saved(self, record: Any) -> None:
        self.saving = False
        self.dismiss(record)

    def _failed(self, error: DirectoryError) -> None:
        self.saving = False
        if isinstance(error, ValidationError):
            self.show_errors(error)
            return
        if isinstance(error, DatabaseUnavailable):
            message = _(
                "Not saved: the database is unavailable. Everything you typed is still here; ctrl+s tries again."
            )
        elif isinstance(error, NotFound):
            message = _("Not saved: {problem}. Someone may have removed it meanwhile; escape goes back.").format(
                problem=said(error)
            )
        else:
            message = _("Not saved: {problem}").format(problem=said(error))
        self.query_one("#form-error", Static).update(message)
        self.query_one("#form-error").set_class(True, "shown")

    @on(Button.Pressed, "#save")
    def save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#cancel")
    def cancel_pressed(self) -> None:
        self.action_cancel()

    def action_cancel(self) -> None:
        if self.values() == self.initial:
            self.dismiss(None)
            return
        question = Confirm(
            _("Discard your changes?"),
            _("What you typed in this form is not saved."),
            yes=_("Discard"),
            no=_("Keep editing"),
        )
        self.app.push_screen(question, lambda discard: discard and self.dismiss(None))
