"""Yes/no questions before anything that stops mail or swaps addresses."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from contacts_tui.core.display import visible_lines

from ..language import N_, _


class Confirm(ModalScreen[bool]):
    """Answer with y or n; escape is no. Focus starts on "no", so enter is safe."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", N_("yes"), id="confirm.yes"),
        Binding("n", "answer(False)", N_("no"), id="confirm.no"),
        Binding("escape,q", "answer(False)", N_("cancel"), show=False, id="confirm.cancel"),
        Binding("left,right", "app.focus_next", show=False),
    ]

    def __init__(self, question: str, detail: str = "", *, yes: str | None = None, no: str | None = None) -> None:
        super().__init__(classes="dialog-screen")
        # Questions name people and customers: their controls are shown, not obeyed.
        self.question, self.detail = visible_lines(question), visible_lines(detail)
        self.yes = _("Yes") if yes is None else yes
        self.no = _("No") if no is None else no

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm", classes="dialog"):
            yield Static(self.question, id="confirm-question", markup=False)
            if self.detail:
                yield Static(self.detail, id="confirm-detail", markup=False)
            with Horizontal(classes="buttons"):
                yield Button(f"{self.yes} (y)", id="yes", compact=True)
                yield Button(f"{self.no} (n)", id="no", compact=True)

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
