"""The customers screen: search as you type over a paged table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Header, Input, Label, Static

from contacts_tui.core.directory.filters import NO_FILTER, Filter
from contacts_tui.core.interrupt import Stop
from contacts_tui.core.records import CustomerPage, CustomerRecord

from ..format import counted, filter_title, matches_line
from ..marks import Marks
from ..widgets.customer_table import CustomerTable
from .bulk_marks import CustomerMarks, mark_bindings
from .paged_list import PAGE, PagedListScreen, PageQuery
from .sample import NO_RELAY, SampleDialog, send_in_background

SORT_ORDER = tuple(key for key, _, _ in CustomerTable.COLUMNS)

DEMO_HINT = "Demo: open a customer, press s to send a sample, then m to see who was added."


@dataclass(frozen=True)
class Query(PageQuery):
    sort: str = "name"
    descending: bool = False
    filter: Filter = NO_FILTER

    def matching(self) -> tuple[str, Filter]:
        """What decides which customers are in the result (not how it is sorted or where the cursor is)."""
        return self.text.strip(), self.filter


@dataclass(frozen=True)
class Loaded:
    query: Query
    page: CustomerPage
    everyone: int | None
    """Every customer, when it was counted with this page."""


class CustomersScreen(CustomerMarks, PagedListScreen):
    """Every customer, a page at a time, with search over names and addresses."""

    NOUNS = ("customer", "customers")
    query_state: Query
    HELP = (
        "Every customer, with how many contact persons it has. Type after / to search: "
        "every word must appear in the customer's name, primary email or note, or in an "
        "active contact person's name, email or note. f filters by role, category, status or email domain, "
        "together with the search; the header line names the filter while it is on, and F "
        "clears it. The table loads one page at a time, so it stays quick with any number "
        "of customers; where very many match, the count says 'about' until it is exact. "
        "space marks customers for a bulk change and * marks every one shown; x then "
        "deactivates or activates them, or changes the contact persons the filter keeps at "
        "them (a category, receive all, delete): one confirmation, every record checked by "
        "the rules and recorded in the history. z undoes the last bulk change."
    )
    EXTRA_KEYS = (
        ("enter", "In the search box: go to the table"),
        ("↑ ↓", "Move through the customers (↓ in the search box: go to the table)"),
        ("pgup pgdn", "A screen up or down"),
        ("home end", "First or last customer"),
    )
    AUTO_FOCUS = "#customers"
    LOAD_GROUP = "customers"
    STOPPABLE = True
    BINDINGS: ClassVar[list[BindingType]] = [
        # The table's own enter opens (and shows in the footer); this one puts
        # opening in the help and the command palette with every other action.
        Binding("enter", "open", "open", show=False, tooltip="Open the highlighted customer", id="customers.open"),
        Binding("slash", "search", "search", tooltip="Search customers and contact persons", id="customers.search"),
        Binding("a", "add", "add", tooltip="Add a customer", id="customers.add"),
        Binding("e", "edit", "edit", tooltip="Edit the highlighted customer", id="customers.edit"),
        Binding(
            "d",
            "set_active(False)",
            "deactivate",
            tooltip="Deactivate the highlighted customer",
            id="customers.deactivate",
        ),
        Binding(
            "d",
            "set_active(True)",
            "activate",
            tooltip="Activate the highlighted customer again",
            id="customers.activate",
        ),
        # Not in the footer, which is full at 80 columns: help and the palette list it.
        Binding(
            "f",
            "filter",
            "filter",
            show=False,
            tooltip="Filter by role, category, status or email domain",
            id="customers.filter",
        ),
        Binding("F", "clear_filter", "no filter", show=False, tooltip="Clear the filter", id="customers.clear_filter"),
        Binding("o", "sort", "sort", tooltip="Sort by the next column", id="customers.sort"),
        Binding("r", "reverse", "reverse", show=False, tooltip="Reverse the sort order", id="customers.reverse"),
        # Not in the full footer; the demo hint and help name it.
        Binding(
            "s",
            "send_sample",
            "sample",
            show=False,
            tooltip="Send a sample notification to the highlighted customer through the relay",
            id="customers.sample",
        ),
        Binding("l", "relay_log", "log", tooltip="Relay log: what the relay did with each message", id="customers.log"),
        # "mail", not "messages": with "esc clear" the footer has no room to spare at 80 columns.
        Binding(
            "m",
            "messages",
            "mail",
            tooltip="Captured messages: what a capture relay would have sent",
            id="customers.messages",
        ),
        # Not in the footer, which is full at 80 columns: help and the palette list it.
        Binding(
            "h",
            "history",
            "history",
            show=False,
            tooltip="History: every change to the highlighted customer (to every customer when none is)",
            id="customers.history",
        ),
        *mark_bindings(
            "customers",
            "Bulk change of the marked customers: (de)activate them, or a category, receive all or delete "
            "for their contact persons",
        ),
        # Not in the footer either; help and the palette list it.
        Binding(
            "t",
            "tagging_rules",
            "rules",
            show=False,
            tooltip="Tagging rules: a category for mail from senders that cannot add the header",
            id="customers.rules",
        ),
        Binding("escape", "clear_search", "clear", tooltip="Clear the search", id="customers.clear"),
    ]

    def __init__(self) -> None:
        super().__init__(Query())
        self.everyone = 0
        self.everyone_stale = True
        self.shown: Query | None = None
        """The query whose rows the table shows now."""
        self.reveal: CustomerRecord | None = None
        """A customer just saved, to show even if the search leaves it out."""
        self.counting = Stop()
        """The Stop of the exact count that follows an estimated total."""
        self.estimated = False
        """Whether the table's total is an estimate still being counted."""
        self.counted: tuple[tuple[str, Filter], int] | None = None
        """The exact count of a result (what it matches, how many), once known."""
        self.marks = Marks()

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="search-bar"):
            yield Label("Search", id="search-label", markup=False)
            yield Input(placeholder="name, email or contact email  (press /)", id="search", compact=True)
        if self.app.options.get("demo"):
            hint = DEMO_HINT
            relay = self.app.options.get("relay_address")
            if relay:
                # An outside mail sender can be pointed at it too: the address is here, not only in the log.
                hint += f"\nIts relay listens on {relay[0]}:{relay[1]} (capture only): point a mail sender there too."
            yield Static(hint, id="demo-hint", markup=False)
        yield Static("Loading customers…", id="status", markup=False)
        yield CustomerTable(id="customers")
        yield Footer(compact=True, show_command_palette=False)

    @property
    def table(self) -> CustomerTable:
        return self.query_one(CustomerTable)

    def on_mount(self) -> None:
        self.sub_title = filter_title("Customers", self.app.filter, replaces=True)
        self.load(replace(self.query_state, filter=self.app.filter))

    def on_screen_resume(self) -> None:
        if self.app.filter != self.query_state.filter:
            # Set on the customer screen: shown here too.
            self.sub_title = filter_title("Customers", self.app.filter, replaces=True)
            self.load_first_page(filter=self.app.filter)
            return
        # Another screen (or another admin) may have changed what the rows say.
        # After a save here, the save's own reload (around the saved customer)
        # is fresher already; another would put the cursor back where it was.
        if self.loaded_once and self.reveal is None:
            self.everyone_stale, self.counted = True, None
            self.reload()

    # -- loading -----------------------------------------------------------

    def loader(self, query: Query, offset: int) -> Callable[[], Loaded]:
        searching = bool(query.text.strip()) or bool(query.filter)
        # Counting every customer costs a query; per keystroke only the
        # matches change, so the total is asked again only after changes.
        count_everyone = searching and self.everyone_stale
        stop = self.load_stop
        if self.shown is None or self.shown.matching() != query.matching():
            # An exact count still running is for a result this load replaces.
            self.counting.stop()

        def fetch() -> Loaded:
            directory = self.directory
            page = directory.search_customers(
                query.text,
                sort=query.sort,
                descending=query.descending,
                offset=offset,
                limit=PAGE,
                filter=query.filter,
                stop=stop,
            )
            if not searching:
                everyone = page.total
            elif count_everyone:
                everyone = directory.search_customers("", limit=1, stop=stop).total
            else:
                everyone = None
            return Loaded(query, page, everyone)

        return fetch

    def _count_exactly(self, query: Query) -> None:
        """Replace an estimated total by the exact count, once it is known."""
        self.counting = stop = Stop()

        def counted_now(total: int) -> None:
            # Over, whatever it found: a reload of the same result (after a
            # change) that gets an estimate again must count again, not wait
            # for this count (show_loaded asks whether one is still running).
            stop.stop()
            if self.shown is None or self.shown.matching() != query.matching():
                return  # the result changed meanwhile
            self.estimated = False
            self.counted = (query.matching(), total)
            self.table.total = total
            self.show_cursor()

        self.call_directory(
            "customers-count",
            lambda: self.directory.count_customers(query.text, filter=query.filter, stop=stop),
            counted_now,
            lambda _error: stop.stop(),
        )

    def show_loaded(self, loaded: Loaded) -> None:
        query, page = loaded.query, loaded.page
        if page.total and not page.rows:
            # The result shrank under us (a search or another admin): start over at its end.
            self.load(replace(query, index=page.total - 1))
            return
        if loaded.everyone is not None:
            self.everyone, self.everyone_stale = loaded.everyone, False
        table = self.table
        table.sort_key, table.descending = query.sort, query.descending
        same_result = self.shown is not None and self.shown.matching() == query.matching()
        if not page.exact and self.counted is not None and self.counted[0] == query.matching():
            # Counted exactly already: paging on keeps that count.
            page = replace(page, total=self.counted[1], exact=True)
        if same_result and self.estimated and not page.exact:
            # Paging within a result being counted: keep the count's answer coming.
            page = replace(page, total=table.total)
        else:
            self.estimated = not page.exact
        self.shown = query
        self.keep_marks(query.matching())
        self.show_rows(query, page.rows, page.offset, page.total)
        self._reveal(query, page.rows)
        if self.estimated and not (same_result and not self.counting.stopped):
            self._count_exactly(query)

    def show_failure(self) -> None:
        self.query_one("#status", Static).update("Could not load customers: the database is unavailable.")

    def show_cursor(self) -> None:
        table = self.table
        searching = bool(self.query_state.text.strip())
        filtered = bool(self.query_state.filter)
        if self.everyone == 0:
            text = "No customers yet. Press a to add the first one."
        elif (searching or filtered) and table.total == 0:
            clear = "escape clears the search" if searching else "F clears the filter"
            text = f"No customer matches. {matches_line(0, self.everyone, self.NOUNS)}; {clear}."
        else:
            if searching or filtered:
                text = matches_line(table.total, self.everyone, self.NOUNS, about=self.estimated)
            else:
                text = counted(self.everyone, self.NOUNS)
            if table.current() is not None:
                # The scrollbar only spans the page in memory; this spans them all.
                text += f" · row {table.index + 1:,}"
        if self.marks:
            # First, so a narrow terminal cuts the row number rather than the marks.
            text = f"{self.marked_line()} · {text}"
        # One line, always (app.tcss): new text needs no new layout, which
        # would cost every keystroke and cursor move a reflow of the screen.
        self.query_one("#status", Static).update(text, layout=False)

    # -- sorting -----------------------------------------------------------

    @on(DataTable.HeaderSelected, "#customers")
    def header_selected(self, event: DataTable.HeaderSelected) -> None:
        key = str(event.column_key.value)
        state = self.query_state
        descending = not state.descending if key == state.sort else False
        self._sort(key, descending)

    def _sort(self, sort: str, descending: bool) -> None:
        current = self.table.current()
        self.load(
            replace(
                self.query_state, sort=sort, descending=descending, index=0, select_id=current.id if current else None
            )
        )

    def action_sort(self) -> None:
        position = SORT_ORDER.index(self.query_state.sort)
        key = SORT_ORDER[(position + 1) % len(SORT_ORDER)]
        # Most contacts first is the useful way round for that column.
        self._sort(key, key == "contacts")

    def action_reverse(self) -> None:
        self._sort(self.query_state.sort, not self.query_state.descending)

    # -- actions -----------------------------------------------------------

    def hidden(self, action: str, parameters: tuple[object, ...]) -> bool:
        current = self.table.current() if self.is_mounted else None
        if action == "set_active":
            return current is None or current.active == parameters[0]
        if action == "clear_search":
            return not self.query_state.text
        if action == "clear_filter":
            return not self.query_state.filter
        return False

    def unavailable(self, action: str, parameters: tuple[object, ...]) -> str | None:
        if action == "send_sample" and not self.app.options.get("relay_address"):
            return NO_RELAY
        if action in ("edit", "open", "send_sample") and self.is_mounted and self.table.current() is None:
            return "There is no customer to " + ("send to" if action == "send_sample" else action) + " here."
        return self.bulk_unavailable(action) if self.is_mounted else None

    def describe(self, binding: Binding) -> str:
        if binding.action == "close":
            return "Quit (where nothing is being typed)"
        return super().describe(binding)

    def action_close(self) -> None:
        # The first screen: closing it is leaving, as q does in less or lazygit.
        self.app.exit()

    def action_filter(self) -> None:
        from .filter_dialog import FilterDialog

        self.app.push_screen(FilterDialog(self.app.filter), self._filtered)

    def action_clear_filter(self) -> None:
        self._filtered(NO_FILTER)

    def _filtered(self, chosen: Filter | None) -> None:
        if chosen is None:
            return
        self.app.filter = chosen
        self.sub_title = filter_title("Customers", chosen, replaces=True)
        self.load_first_page(filter=chosen)

    def action_open(self) -> None:
        from .customer import CustomerScreen

        current = self.table.current()
        if current is not None:
            self.app.push_screen(CustomerScreen(current.id))

    def action_add(self) -> None:
        from .customer_form import CustomerForm

        self.app.push_screen(CustomerForm(None), self._saved)

    def action_send_sample(self) -> None:
        customer = self.table.current()
        if customer is not None:
            dialog = SampleDialog(customer, self.directory.catalog, self.app.options["relay_address"])
            self.app.push_screen(
                dialog, lambda category: send_in_background(self, customer, category) if category else None
            )

    def action_relay_log(self) -> None:
        self.app.open_relay_log()

    def action_messages(self) -> None:
        self.app.open_messages()

    def action_tagging_rules(self) -> None:
        self.app.open_tagging_rules()

    def action_history(self) -> None:
        current = self.table.current()
        if current is None:
            self.app.open_history()
        else:
            self.app.open_history(current.id, current.name)

    def action_edit(self) -> None:
        from .customer_form import CustomerForm

        current = self.table.current()
        if current is not None:
            self.app.push_screen(CustomerForm(current), self._saved)

    def _saved(self, record: CustomerRecord | None) -> None:
        if record is not None:
            self.everyone_stale, self.counted = True, None
            self.app.notify(f"Saved {record.name}.", markup=False)
            self.reveal = record
            self.reload(record.id)

    def _reveal(self, query: Query, rows: tuple[CustomerRecord, ...] | list[CustomerRecord]) -> None:
        """After a save, make sure the saved customer is in sight."""
        record = self.reveal
        if record is None or query.select_id != record.id:
            return
        self.reveal = None
        if not query.text.strip() or any(row.id == record.id for row in rows):
            return
        # A new or renamed customer that the search leaves out would seem lost.
        self.app.notify(
            f"{record.name} does not match the search '{query.text.strip()}', so it is cleared.", markup=False
        )
        self.load(replace(query, text="", index=0, select_id=record.id, quiet=False))
        self.query_one("#search", Input).value = ""

    def action_set_active(self, active: bool) -> None:
        from .confirm import Confirm

        current = self.table.current()
        if current is None:
            return
        if active:
            self._set_active(current, True)
            return
        question = Confirm(
            f"Deactivate {current.name}?",
            "Its contact persons get no more copies until you activate it again. Nothing is deleted.",
            yes="Deactivate",
        )
        self.app.push_screen(question, lambda yes: self._set_active(current, False) if yes else None)

    def _set_active(self, customer: CustomerRecord, active: bool) -> None:
        def done(record: CustomerRecord) -> None:
            word = "active again" if active else "deactivated"
            self.app.notify(f"{record.name} is {word}.", markup=False)
            self.counted = None  # an inactive filter's count changed
            self.reload(record.id)

        self.call_directory(
            "customer-write", lambda: self.directory.set_customer_active(customer.id, active), done, write=True
        )
