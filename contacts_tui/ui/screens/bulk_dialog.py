"""The bulk change dialog (x): choose what to do to the marked rows, see what
the rules make of it, confirm once, and watch it done.

Four steps in one dialog: choose an action; check every record against the
rules (in a thread, with a progress line; escape cancels); confirm with the
counts and the records a rule refuses (y applies, to the rest where some are
refused; n changes nothing); apply in a thread, batch by batch, with a
progress line (escape stops after the batch at hand). The app stays
responsive throughout: the work runs off the UI thread, and the progress
line is read from it by a timer, so the work never waits for the screen.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, OptionList, Static
from textual.widgets.option_list import Option

from contacts_tui.core.directory.bulk.actions import BulkAction, BulkPlan, BulkResult, Selection, refusals_text
from contacts_tui.core.display import visible, visible_lines
from contacts_tui.core.errors import DatabaseUnavailable, DirectoryError
from contacts_tui.core.interrupt import Interrupted, Stop

from ..typeahead import BACKGROUND
from ..widgets.vi_keys import Options
from .base import AppModal

PROGRESS_SECONDS = 0.1
"""How often the progress line is drawn afresh."""
BAR = 30


def progress_bar(done: int, total: int) -> str:
    """A bar of characters, which reads the same without colour: ``█████░░░░░``."""
    filled = BAR * done // total if total else 0
    return "█" * filled + "░" * (BAR - filled)


class BulkDialog(AppModal[BulkResult | None]):
    """Answers with what was done (a BulkResult), or None when nothing was."""

    HELP = (
        "A bulk change does one thing to every marked record: each record is checked by "
        "the same rules as a change by hand, and recorded in the history on its own. "
        "First the dialog checks them all and says how many would change, at how many "
        "customers, and which ones a rule refuses; nothing is written until you confirm. "
        "z on the list undoes the last bulk change."
    )
    EXTRA_KEYS = (("↑ ↓ enter", "Choose what to do"),)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "apply", "apply", show=False, tooltip="Apply the change", id="bulk.apply"),
        Binding(
            "n,escape,q",
            "cancel",
            "cancel",
            show=False,
            tooltip="Change nothing; while applying, stop after the batch at hand",
            id="bulk.cancel",
        ),
        Binding("left,right", "app.focus_next", show=False),
    ]

    def __init__(
        self,
        selection: Selection,
        what: str,
        choices: list[tuple[str, BulkAction | None]],
        *,
        note: str = "",
        action: BulkAction | None = None,
        undoing: bool = False,
    ) -> None:
        """``what`` names the marked records ("3 marked customers"); ``choices``
        are (label, action) in order, an action of None being a heading; with
        ``action`` the dialog starts checking it at once (undo)."""
        super().__init__(classes="dialog-screen")
        self.selection, self.what, self.choices, self.note = selection, what, choices, note
        self.action, self.undoing = action, undoing
        self.step = "choose"
        self.plan: BulkPlan | None = None
        self.stop = Stop()
        self.progress: tuple[int, int | None] = (0, None)
        """(records done, of how many): written by the worker, drawn by a timer."""

    @property
    def labels(self) -> dict[str, str]:
        return {category.key: category.label for category in self.directory.catalog.categories}

    def compose(self) -> ComposeResult:
        with Vertical(id="bulk", classes="dialog"):
            title = "Undo the last bulk change" if self.undoing else f"Bulk change of {self.what}"
            yield Static(visible(title), id="bulk-title", markup=False)
            yield Static(visible_lines(self.note), id="bulk-note", markup=False)
            yield Options(*self._options(), id="bulk-actions")
            yield Static("", id="bulk-question", markup=False)
            yield Static("", id="bulk-detail", markup=False)
            yield Static("", id="bulk-progress", markup=False)
            yield Static("", id="bulk-hint", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Apply (y)", id="bulk-yes", compact=True)
                yield Button("Cancel (n)", id="bulk-no", compact=True)

    def _options(self) -> list[Option]:
        # Under headings the choices are indented: groups that read without colour or bold.
        indent = "  " if any(action is None for _, action in self.choices) else ""
        options = []
        for number, (label, action) in enumerate(self.choices):
            if action is None:
                options.append(Option(Text(label, style="bold"), id=f"heading{number}", disabled=True))
            else:
                options.append(Option(Text(indent + label), id=f"choice{number}"))
        return options

    def on_mount(self) -> None:
        self.set_interval(PROGRESS_SECONDS, self._draw_progress)
        if self.action is not None:
            self._check(self.action)
            return
        self._show("choose")
        actions = self.query_one("#bulk-actions", OptionList)
        actions.focus()
        actions.highlighted = next(i for i, (_, action) in enumerate(self.choices) if action is not None)
        self._hint("enter chooses · escape cancels")

    # -- the steps -------------------------------------------------------------

    def _show(self, step: str) -> None:
        self.step = step
        # The note says what an action on contact persons acts on: not for the customers' own.
        chosen = self.action
        self.query_one("#bulk-note").display = bool(self.note) and not (chosen and chosen.on_customers)
        self.query_one("#bulk-actions").display = step == "choose"
        self.query_one("#bulk-question").display = step != "choose"
        self.query_one("#bulk-detail").display = step == "confirm"
        self.query_one("#bulk-progress").display = step in ("checking", "applying")
        self.query_one(".buttons").display = step == "confirm"

    def _hint(self, text: str) -> None:
        self.query_one("#bulk-hint", Static).update(text)

    @on(OptionList.OptionSelected, "#bulk-actions")
    def chosen(self, event: OptionList.OptionSelected) -> None:
        _, action = self.choices[event.option_index]
        if action is not None:
            self._check(action)

    def _check(self, action: BulkAction) -> None:
        self.action = action
        self._show("checking")
        self.query_one("#bulk-question", Static).update(f"Checking {self.what} against the rules…")
        self._hint("escape cancels")
        self.progress = (0, None)
        selection, stop = self.selection, self.stop

        def record(done: int, total: int | None) -> None:
            self.progress = (done, total)

        def applied(result: BulkResult) -> None:
            self.dismiss(result)

        self.call_directory(
            BACKGROUND + "bulk-plan",
            lambda: self.directory.plan_bulk(selection, action, progress=record, stop=stop),
            self._checked,
            self._failed,
        )

    def _checked(self, plan: BulkPlan) -> None:
        self.plan = plan
        self._show("confirm")
        labels = self.labels
        lines = []
        if plan.unchanged:
            lines.append(f"{plan.unchanged:,} left as they are: {plan.action.unchanged(labels)}.")
        if plan.refused_count:
            lines.append(f"{plan.refused_count:,} refused by the rules, and left as they are:")
            lines.append(refusals_text(plan.refused, plan.refused_count))
        detail = self.query_one("#bulk-detail", Static)
        yes = self.query_one("#bulk-yes", Button)
        if not plan.count:
            question = f"Nothing to {plan.action.describe(labels)}: none of {self.what} would change."
            yes.display = False
            self._hint("n or escape closes")
        else:
            question = plan.action.question(plan.count, plan.customers, labels)
            if self.undoing:
                question += " (undoes the last bulk change)"
            yes.label = f"Apply to the other {plan.count:,} (y)" if plan.refused_count else "Apply (y)"
            yes.display = True
            self._hint("Each one is recorded in the history. y applies, n changes nothing.")
        self.query_one("#bulk-question", Static).update(question)
        detail.update(visible_lines("\n".join(lines)))
        detail.display = bool(lines)
        # Focus on "no", as in every confirmation: enter is the safe key.
        self.query_one("#bulk-no", Button).focus()

    def action_apply(self) -> None:
        plan = self.plan
        if self.step != "confirm" or plan is None or not plan.count:
            return
        self._show("applying")
        self.query_one("#bulk-question", Static).update(
            plan.action.question(plan.count, plan.customers, self.labels).rstrip("?") + "…"
        )
        self._hint("escape stops after the batch at hand (what is done stays done; z undoes it)")
        self.progress = (0, plan.count)
        stop = self.stop

        def record(done: int, total: int | None) -> None:
            self.progress = (done, total)

        def applied(result: BulkResult) -> None:
            self.dismiss(result)

        self.call_directory(
            BACKGROUND + "bulk-apply",
            lambda: self.directory.apply_bulk(plan, progress=record, stop=stop),
            applied,
            self._failed,
            write=True,
        )

    def _draw_progress(self) -> None:
        if self.step not in ("checking", "applying"):
            return
        done, total = self.progress
        line = self.query_one("#bulk-progress", Static)
        if total:
            line.update(f"{progress_bar(done, total)} {done:,} of {total:,}")
        else:
            line.update(f"{done:,} checked")

    def _failed(self, error: DirectoryError) -> None:
        # Cancelled while checking: nothing was written, nothing to say; an
        # outage has been told already (call_directory).
        if not isinstance(error, (Interrupted, DatabaseUnavailable)):
            self.app.notify(str(error), title="Not done", severity="warning", timeout=8, markup=False)
        self.dismiss(None)

    def action_cancel(self) -> None:
        if self.step == "applying":
            self.stop.stop()  # the worker answers with what it did
            self._hint("Stopping after the batch at hand…")
        elif self.step == "checking":
            self.stop.stop()  # the worker answers Interrupted, and the dialog closes
        else:
            self.dismiss(None)

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "bulk-yes":
            self.action_apply()
        else:
            self.action_cancel()
