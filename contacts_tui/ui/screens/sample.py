"""Send a sample notification to a customer through the relay, as a billing
application would, to see whom the relay adds as Cc."""

from __future__ import annotations

import re
import smtplib
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from contacts_tui.core.catalog import Catalog
from contacts_tui.core.display import visible
from contacts_tui.core.errors import DatabaseUnavailable
from contacts_tui.core.mail import relay_log
from contacts_tui.core.mail.relay_log import LogEntry
from contacts_tui.core.mail.sample import build_sample, sample_type, send_sample
from contacts_tui.core.records import CustomerRecord

from ..widgets.vi_keys import Options
from .base import AppModal
from .mail_list import MailListScreen

NO_RELAY = "no relay: start with contacts-tui demo, or give one with --relay HOST:PORT"
PICK_KEYS = 9
SENT = "Sent: "
"""How the answer to a sample that got through begins."""
NAMED = 3
"""Added people named in the answer; more are counted."""


class SampleDialog(AppModal[str | None]):
    """Pick a category; the answer is its key, or None."""

    HELP = (
        "Sends a realistic notification of the chosen category to the customer's primary "
        "email through the relay, tagged with the category's first email type. The relay "
        "adds the contact persons opted in to that category as Cc; the captured messages "
        "(m) and the relay log (l) then show what it did."
    )
    EXTRA_KEYS = (("↑ ↓", "Choose a category"), ("enter", "Send the highlighted category"))
    BINDINGS: ClassVar[list[BindingType]] = [
        *(
            Binding(str(n), f"pick({n})", "send", show=False, tooltip=f"Send category {n}", id=f"sample.pick{n}")
            for n in range(1, PICK_KEYS + 1)
        ),
        Binding("escape,q", "cancel", "cancel", tooltip="Close without sending", id="sample.cancel"),
    ]

    def __init__(self, customer: CustomerRecord, catalog: Catalog, relay: tuple[str, int]) -> None:
        super().__init__(classes="dialog-screen")
        self.customer, self.catalog, self.relay = customer, catalog, relay

    def compose(self) -> ComposeResult:
        host, port = self.relay
        with Vertical(id="sample", classes="dialog"):
            yield Static(
                visible(f"Send a sample notification to {self.customer.name}"), id="sample-title", markup=False
            )
            yield Static(
                visible(f"To {self.customer.email}, through the relay at {host}:{port}. Which category?"),
                id="sample-detail",
                markup=False,
            )
            yield Options(*self._options(), id="sample-categories")
            count = min(len(self.catalog.categories), PICK_KEYS)
            keys = "1" if count == 1 else f"1-{count}"
            yield Static(f"enter sends · {keys} send that category · escape cancels", id="sample-hint", markup=False)

    def _options(self) -> list[Option]:
        options = []
        for number, category in enumerate(self.catalog.categories, 1):
            # A grid, so the list of email types wraps under itself, not under the number.
            prompt = Table.grid(padding=(0, 1))
            prompt.add_column(width=1, no_wrap=True)
            prompt.add_column(ratio=1)
            label = Text(category.label, style="bold")
            label.append(f" ({category.description})" if category.description else "", style="not bold")
            prompt.add_row(Text(str(number), style="bold"), label)
            types = ", ".join(t.key for t in category.types) or category.key
            prompt.add_row("", Text(f"sends {sample_type(self.catalog, category.key)}; its types: {types}"))
            options.append(Option(prompt, id=category.key))
        return options

    def hidden(self, action: str, parameters: tuple[object, ...]) -> bool:
        return action == "pick" and int(str(parameters[0])) > len(self.catalog.categories)

    def action_pick(self, number: int) -> None:
        self.dismiss(self.catalog.categories[number - 1].key)

    @on(OptionList.OptionSelected)
    def chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


def _reason(error: Exception) -> str:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        ((code, refused),) = error.recipients.values()
        return f"{code} {refused.decode('utf-8', errors='replace')}"
    if isinstance(error, smtplib.SMTPResponseException):
        text = (
            error.smtp_error.decode("utf-8", errors="replace")
            if isinstance(error.smtp_error, bytes)
            else str(error.smtp_error)
        )
        return f"{error.smtp_code} {text}"
    if isinstance(error, OSError):
        return f"the relay cannot be reached ({error.strerror or error})"
    return str(error) or type(error).__name__


def send_in_background(screen: Screen, customer: CustomerRecord, category: str) -> None:
    """Send the sample in a thread; the answer comes back as a notification."""
    app: Any = screen.app  # the admin's app: its options and directory
    host, port = app.options["relay_address"]
    header_value = sample_type(app.directory.catalog, category)
    # A relay answers in milliseconds; only a slow one needs a word while it works,
    # and a second toast would only cover the screen the answer points to.
    slow = app.set_timer(
        0.7, lambda: app.notify(f"Sending a sample ({header_value}) to {customer.email}…", timeout=5, markup=False)
    )

    def show(text: str, severity: SeverityLevel) -> None:
        slow.stop()
        timeout = 8 if severity == "information" else 15
        if severity == "information" and isinstance(app.screen, MailListScreen):
            timeout = 3  # already where it points: the list under the toast says the same
        app.notify(text, severity=severity, timeout=timeout, markup=False)

    def answer(text: str, severity: str) -> None:
        try:
            app.call_from_thread(show, text, severity)
        except RuntimeError:
            pass  # the app closed while the message was on its way

    def run() -> None:
        message = build_sample(customer.name, customer.email, header_value)
        try:
            reply = send_sample(host, port, customer.email, message)
        except (OSError, smtplib.SMTPException) as exc:
            answer(f"Not sent: {_reason(exc)}", "error")
            return
        answer(sent_text(reply, _entry_of(reply)), "information")

    # The app runs it, not the screen: leaving the screen must not lose the answer.
    app.run_worker(run, name="sample", group="sample", thread=True, exit_on_error=False)


def _entry_of(reply: str) -> LogEntry | None:
    """The relay log entry a reply names ("... queue id X)" or "queued as X"), if it is there yet."""
    found = re.search(r"queue id ([^\s)]+)|queued as (\S+)", reply)
    if found is None:
        return None
    try:
        return relay_log.log_for_queue_id(found.group(1) or found.group(2))
    except DatabaseUnavailable:
        return None  # the answer is still worth showing without it


def sent_text(reply: str, entry: LogEntry | None) -> str:
    """The answer to a sample that got through: the reply, who was added (or why nobody), where to look."""
    where = "Press m to see the message." if "captured" in reply else "Press l to see it in the relay log."
    if entry is None:
        return f"{SENT}{reply}. {where}"
    if entry.added:
        names = [a.name or a.email for a in entry.added]
        shown = ", ".join(names[:NAMED]) + (f" and {len(names) - NAMED} more" if len(names) > NAMED else "")
        who = f"Added as Cc: {shown}."
    else:
        why = entry.reason or entry.decision or "the relay log does not say why"
        who = f"Nobody was added: {why}."
    return f"{SENT}{reply}. {who} {where}"


def dismiss_sent_answers(app) -> None:
    """Take away the toast of a sample that got through: the screen it pointed to says it all now,
    and the toast would cover that screen's summary lines. Failures ("Not sent") stay.

    Textual (8.2) has no public call to withdraw one notification, and the public
    ``clear_notifications()`` would take a failure away before anyone read it; so this
    uses ``_notifications`` and ``_unnotify``, what Textual's own toasts call when they
    time out. Should a release drop them, the toast just stays until its timeout.
    """
    unnotify = getattr(app, "_unnotify", None)
    if unnotify is None:
        return
    for notification in list(getattr(app, "_notifications", ())):
        if notification.message.startswith(SENT):
            unnotify(notification)
