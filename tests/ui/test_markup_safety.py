"""Markup in text from customers, files or mail is shown as typed, never obeyed.

A contact person named ``[@click=app.screenshot('contacts.db','/var/lib/…')]Eve[/]``
once overwrote the directory with an SVG when someone clicked "Eve" in the
command palette's "Not now: Eve is not deleted." line, and one named
``Eve [/]`` crashed the admin TUI with a MarkupError when the palette opened.

A corpus of hostile names goes in through a CSV import and through the
directory, hostile subjects, senders, categories and reasons through the
relay's tables. The admin TUI and the portal then open every screen on them
(lists, a customer, forms, confirm dialogs, help, the palette with every
command, history, relay log, captured messages) and click on each place that
shows one of them. Nothing may run: no exception, no file in the canary
directory (the working directory too), the app still running, the directory
unchanged, no click action or link anywhere on screen, and the text shown as
it was typed.
"""

from __future__ import annotations

import ast
import io
from dataclasses import replace
from pathlib import Path

import pytest
from rich.style import Style as RichStyle
from textual.command import CommandInput, CommandList, CommandPalette
from textual.content import Content
from textual.style import Style
from textual.widgets import Static

from contacts_tui.core.csv.importer import import_csv
from contacts_tui.core.directory.service import Directory
from contacts_tui.core.models import ContactPerson
from contacts_tui.core.records import CustomerRecord
from contacts_tui.core.validate import NAME_MAX
from contacts_tui.ui.app import ContactsApp, make_app
from contacts_tui.ui.portal.app import PortalApp, make_portal_app
from contacts_tui.ui.portal.contacts_screen import PortalContactsScreen

from ..portal_service import RunningService, running_service
from .helpers import (
    ORIGINAL,
    RECEIVED_LINE,
    SIZE,
    captured_row,
    contacts,
    customer,
    log_row,
    press,
    seen,
    settle,
    table_rows,
)

SCROLLBAR_ACTIONS = frozenset({"grab", "scroll_up", "scroll_down"})
"""What Textual's scrollbars put in the styles they draw: the one kind of click action allowed."""


def hostile_names(canary: Path) -> list[tuple[str, str]]:
    """(name, a word of it to click on). The screenshot ones name the canary
    directory, or write into the working directory (the canary too)."""
    long = f"[@click=app.screenshot('long.svg','{canary}')]Lenny[/] " + "[b]" * 200
    return [
        (f"[@click=app.screenshot('eve.svg','{canary}')]Eve[/]", "Eve"),
        ("[@click=app.screenshot('mallory.svg')]Mallory[/]", "Mallory"),
        ("Trent [/]", "Trent"),
        ("[b]Bold Bob", "Bob"),
        ("Carol \\[b] [red]", "Carol"),
        ('[link="file:///etc/passwd"]Linda[/link]', "Linda"),
        ("[@click=app.quit]Quincy[/]", "Quincy"),
        ("[@click=app.simulate_key('y')]Simon[/]", "Simon"),
        ("Dana [@click=screen.delete]", "Dana"),
        ("שלום [i]Shalom", "Shalom"),
        ("Emma 👩‍💼 [/b] ✓", "Emma"),
        (long[:NAME_MAX], "Lenny"),
    ]


CSV_CUSTOMER = "[@click=app.screenshot('acme.svg')]Acme[/] [b]"
API_CUSTOMER = "Globex [/] [@click=app.quit]"


@pytest.fixture
def canary(tmp_path: Path, monkeypatch) -> Path:
    """A directory nothing may write to; the working directory while the apps run."""
    path = tmp_path / "canary"
    path.mkdir()
    monkeypatch.chdir(path)
    return path


@pytest.fixture
def service(sqlite_directory: Directory, tmp_path: Path) -> RunningService:
    """The portal service over the test's directory; no code is mailed (the tests sign in directly)."""
    with running_service(sqlite_directory, tmp_path) as running:
        yield running


@pytest.fixture
def hostile(sqlite_directory: Directory, canary: Path) -> list[CustomerRecord]:
    """Two customers with hostile names and six hostile contact persons each
    (one deleted): the first from a CSV import, the second through the
    directory; relay log entries and captured messages about them."""
    names = hostile_names(canary)
    rows = ["customer_email,customer_name,contact_name,contact_email,phone,role,categories"]
    for number, (name, _) in enumerate(names[:6]):
        quoted = name.replace('"', '""')
        rows.append(f'owner@acme.example,"{CSV_CUSTOMER}","{quoted}",p{number}@acme.example,,Billing,billing')
    import_csv(sqlite_directory, io.BytesIO(("\n".join(rows) + "\n").encode()), source="hostile.csv")
    acme = sqlite_directory.find_customer("owner@acme.example")
    globex = customer(sqlite_directory, API_CUSTOMER, "owner@globex.example")
    people = [(name, f"p{number}@globex.example") for number, (name, _) in enumerate(names[6:])]
    added = contacts(sqlite_directory, globex.id, people, categories=("billing",))
    for listed in (acme, globex):
        first = sqlite_directory.list_contacts(listed.id)[0]
        sqlite_directory.delete_contact(first.id)  # u applies to it, and every other says why not
    sqlite_directory.update_contact(added[1].id, replace(added[1].as_input(), name=names[7][0] + " [/]"))
    for number, (name, _) in enumerate(names, 1):
        mail_names = [
            {"email": f"p{number}@acme.example", "name": name, "customer": "owner@acme.example", "reason": name}
        ]
        subject = f"{name} invoice"
        original = ORIGINAL.replace(b"Your invoice INV-2024-0042", subject.encode()).replace(
            b"Demo Shop Billing", name.replace("'", "").encode()
        )
        captured_row(
            number,
            original=original,
            rewritten=RECEIVED_LINE + original,
            subject=subject,
            added=mail_names,
            category=f"[b]{name[:20]}",
            reason=name,
            last_error=name,
        )
    log_row(len(names) + 1, subject=names[0][0], reason=names[0][0], sender=f"{names[1][0][:30]}@evil.example")
    return [sqlite_directory.get_customer(acme.id), sqlite_directory.get_customer(globex.id)]


# -- what the screen holds ---------------------------------------------------


def actions_on_screen(app) -> list[str]:
    """Every click action and link in what the app draws now (scrollbars' own excepted)."""
    found = []
    for strip in app.screen._compositor.render_strips():
        for segment in strip:
            found.extend(_actions(segment.style, segment.text))
    return found


def _actions(style: RichStyle | None, text: str) -> list[str]:
    if style is None:
        return []
    found = [f"{text!r}: {key}={value}" for key, value in style.meta.items() if key.startswith("@")]
    found = [entry for entry in found if entry.rpartition("=")[2] not in SCROLLBAR_ACTIONS]
    if style.link:
        found.append(f"{text!r}: link {style.link}")
    return found


def palette_prompts(app) -> list[Content]:
    """What the open command palette lists, every hit, shown or scrolled out of sight."""
    return [option.prompt for option in app.screen.query_one(CommandList).options]


def content_actions(content: Content) -> list[str]:
    found = []
    for span in content.spans:
        style = span.style
        rich = style if isinstance(style, RichStyle) else getattr(style, "rich_style", None)
        if isinstance(style, str):
            rich = None
            if "@" in style or "link" in style:
                found.append(f"{content.plain[span.start : span.end]!r}: {style}")
        found.extend(_actions(rich, content.plain[span.start : span.end]))
    return found


class Walk:
    """The checks after every step of a walk through an app, and the clicks."""

    def __init__(self, pilot, canary: Path, names: list[tuple[str, str]]) -> None:
        self.pilot, self.app, self.canary = pilot, pilot.app, canary
        self.words = [word for _, word in names] + ["Acme", "Globex"]
        self.clicks = 0
        self.screens: set[str] = set()

    def check(self, *shown: str) -> None:
        """Nothing ran, nothing on screen would run anything, and ``shown`` is on screen as typed."""
        app = self.app
        self.screens.add(type(app.screen).__name__)
        assert list(self.canary.iterdir()) == [], "a click wrote a file"
        assert app.is_running and app.return_code is None, "an action ended the app"
        assert actions_on_screen(app) == [], type(app.screen).__name__
        text = seen(app)
        for literal in shown:
            assert literal in text, (literal, text)

    async def click_names(self, *words: str, limit: int = 0) -> None:
        """Click on each place the screen shows one of ``words`` (by default
        every name's); a click may open something (a row's second click
        opens it): escape goes back after each."""
        app, pilot = self.app, self.pilot
        screen = app.screen
        spots = [
            (x + len(word) // 2, y)
            for y, line in enumerate(seen_lines(app))
            for word in words or self.words
            for x in _find_all(line, word)
        ]
        for x, y in spots[: limit or None]:
            await pilot.click(offset=(x, y))
            await settle(pilot)
            self.clicks += 1
            self.check()
            for _ in range(4):
                if app.screen is screen or screen not in app.screen_stack:
                    break
                await press(pilot, "escape")
            if app.screen is not screen:
                return  # a palette hit was chosen, or a click outside closed it
        self.check()


def seen_lines(app) -> list[str]:
    strips = app.screen._compositor.render_strips()
    return ["".join(segment.text for segment in strip) for strip in strips]


def _find_all(line: str, word: str) -> list[int]:
    found, start = [], line.find(word)
    while start >= 0:
        found.append(start)
        start = line.find(word, start + 1)
    return found


def squeezed(text: str) -> str:
    """``text`` without white space, for text that may wrap anywhere (a long word is folded)."""
    return "".join(text.split())


def shown(name: str, room: int = 12) -> str:
    """The start of ``name`` as a narrow cell shows it, literally."""
    return name[:room]


async def walk_palette(walk: Walk, query: str = "", *clicks: str) -> list[Content]:
    """Open the palette (every command, or those matching ``query``), check
    every hit, shown or scrolled out of sight, and click on ``clicks`` words."""
    pilot, app = walk.pilot, walk.app
    await press(pilot, "ctrl+p")
    assert isinstance(app.screen, CommandPalette)
    if query:
        app.screen.query_one(CommandInput).value = query  # as typed, searched once
    await _palette_answered(pilot)
    prompts = palette_prompts(app)
    assert prompts, "the palette lists nothing"
    assert [(prompt.plain, found) for prompt in prompts if (found := content_actions(prompt))] == []
    walk.check()
    if clicks:
        await walk.click_names(*clicks)
    if isinstance(app.screen, CommandPalette):
        await press(pilot, "escape")
    return prompts


async def _palette_answered(pilot) -> None:
    app = pilot.app
    for _ in range(100):
        await settle(pilot)
        if app.screen.query_one(CommandList).option_count:
            return
        await pilot.pause(0.02)


def word_of(name: str, names: list[tuple[str, str]]) -> str:
    return next(word for _, word in names if word in name)


async def back_to(pilot, name: str) -> None:
    app = pilot.app
    for _ in range(6):
        if type(app.screen).__name__ == name:
            return
        await press(pilot, "escape")
    assert type(app.screen).__name__ == name, seen(app)


async def walk_contacts(walk: Walk, names: list[tuple[str, str]]) -> None:
    """Each contact person of a customer: the lines on it, the palette's restore
    (as in the exploit), help, and the delete (or restore) question, each
    clicked on where it names the person; for the first and the deleted one
    also the palette's every command and the edit form."""
    pilot, app = walk.pilot, walk.app
    screen = app.screen
    await press(pilot, "i")  # the deleted ones too
    records = screen.table.records
    assert len(records) == 6 and not all(record.active for record in records)
    await walk.click_names()  # the customer and the rows (a second click on a row opens the form)
    for number, record in enumerate(records):
        word = word_of(record.name, names)
        screen.table.move_cursor(row=number, animate=False)
        await settle(pilot)
        assert screen.table.current() == record
        walk.check(record.name[:40])  # the line under the table; a long name ends in …
        assert screen.query_one("#contact-line0", Static).visual.plain.startswith(record.name)
        prompts = await walk_palette(walk, "restore", word)
        if record.active:
            assert any(f"Not now: {record.name} is not deleted." in prompt.plain for prompt in prompts)
        if number == 0 or not record.active:
            prompts = await walk_palette(walk)
            reason = "is not deleted." if record.active else "is deleted already"
            assert any(f"Not now: {record.name} {reason}" in prompt.plain for prompt in prompts)
            await press(pilot, "e")
            walk.check()
            if record.active:
                assert app.screen.query_one("#name").value == record.name
                await press(pilot, "escape")
            else:  # read-only until restored
                assert f"{record.name} is deleted; restore with u first." in [n.message for n in app._notifications]
                assert app.screen is screen
        await press(pilot, "question_mark")
        walk.check()
        if record.active:
            assert squeezed(f"(not now: {record.name[:60]}") in squeezed(table_rows(app.screen))
        await walk.click_names(word, limit=1)
        await press(pilot, "escape")
        await press(pilot, "d" if record.active else "u")
        walk.check()
        if record.active:
            assert app.screen.query_one("#confirm-question", Static).visual.plain == f"Delete {record.name}?"
            await walk.click_names(word, limit=1)
            await press(pilot, "n")
        else:
            assert f"Restored {record.name}." in [n.message for n in app._notifications]
            await walk.click_names(word, limit=1)
            await press(pilot, "d", "y")  # deleted again, as it was
        assert app.screen is screen, seen(app)
    await press(pilot, "i")


def directory_state(directory: Directory) -> list[tuple]:
    fields = (ContactPerson.customer_id, ContactPerson.name, ContactPerson.email, ContactPerson.deleted_at)
    return sorted((c.customer_id, c.name, c.email, c.deleted_at is None) for c in ContactPerson.select(*fields))


# -- the admin TUI -------------------------------------------------------------


async def test_the_admin_tui_shows_hostile_names_and_runs_nothing(
    sqlite_directory: Directory, hostile: list[CustomerRecord], canary: Path
) -> None:
    names = hostile_names(canary)
    before = directory_state(sqlite_directory)
    app = make_app(sqlite_directory, cursor_blink=False, refresh_seconds=0, relay_address=("127.0.0.1", 9))
    async with app.run_test(size=SIZE, notifications=True, tooltips=True) as pilot:
        walk = Walk(pilot, canary, names)
        await settle(pilot)
        walk.check(shown(CSV_CUSTOMER), shown(API_CUSTOMER))
        await walk_palette(walk)
        await walk.click_names()
        await press(pilot, "f")  # the filter dialog
        walk.check()
        await back_to(pilot, "CustomersScreen")
        for row, listed in enumerate(hostile):
            await back_to(pilot, "CustomersScreen")
            await press(pilot, "home", *["down"] * row, "enter")
            assert type(app.screen).__name__ == "CustomerScreen", seen(app)
            walk.check(listed.name[:30])
            await walk_contacts(walk, names)
            # The customer's history, relay log, captured messages, its form, the sample dialog, help.
            for keys in (["h"], ["l"], ["m"], ["c"], ["s"], ["question_mark"]):
                await press(pilot, *keys)
                walk.check()
                await walk.click_names(limit=6)
                await back_to(pilot, "CustomerScreen")
        # Everyone's relay log and captured messages, an entry and every tab of a message; all history.
        await back_to(pilot, "CustomersScreen")
        for key in ("l", "m"):
            await press(pilot, key)
            walk.check(shown(names[0][0], 8))
            await walk.click_names(limit=8)
            await press(pilot, "enter")
            for tab in "12345" if key == "m" else "1":
                await press(pilot, tab)
                walk.check()
                await walk.click_names(limit=4)
            await back_to(pilot, "CustomersScreen")
        await press(pilot, "h")
        walk.check()
        await walk.click_names(limit=8)
        await back_to(pilot, "CustomersScreen")
    assert list(canary.iterdir()) == []
    assert directory_state(sqlite_directory) == before, "something changed in the directory"
    assert {
        "CustomersScreen",
        "CustomerScreen",
        "CommandPalette",
        "HelpScreen",
        "ContactForm",
        "CustomerForm",
        "Confirm",
        "HistoryScreen",
        "LogScreen",
        "LogEntryScreen",
        "MessagesScreen",
        "MessageScreen",
        "SampleDialog",
        "FilterDialog",
    } <= walk.screens
    assert walk.clicks > 50


# -- the portal ----------------------------------------------------------------


async def test_the_portal_shows_hostile_names_and_runs_nothing(
    sqlite_directory: Directory, hostile: list[CustomerRecord], canary: Path, service: RunningService
) -> None:
    names = hostile_names(canary)
    before = directory_state(sqlite_directory)
    for listed in hostile:
        app = make_portal_app(service.client(), cursor_blink=False)
        async with app.run_test(size=SIZE, notifications=True, tooltips=True) as pilot:
            walk = Walk(pilot, canary, names)
            await settle(pilot)
            app.signed_in(service.signed_in(listed.id))
            await settle(pilot)
            assert isinstance(app.screen, PortalContactsScreen)
            walk.check(listed.name[:30])
            await walk_contacts(walk, names)
            for keys in (["h"], ["question_mark"]):
                await press(pilot, *keys)
                walk.check()
                await walk.click_names(limit=6)
                await back_to(pilot, "PortalContactsScreen")
        assert {"PortalContactsScreen", "PortalPalette", "PortalHelp", "PortalContactForm", "Confirm"} <= walk.screens
        assert "PortalHistoryScreen" in walk.screens
    assert list(canary.iterdir()) == []
    assert directory_state(sqlite_directory) == before, "something changed in the directory"


# -- defence in depth: a click action that reaches the screen anyhow -------------


@pytest.mark.parametrize("which", ["admin", "portal"])
async def test_a_click_action_in_text_is_refused_even_when_markup_was_parsed(
    which: str, sqlite_directory: Directory, canary: Path, service: RunningService
) -> None:
    """Should some text ever be read as markup again, a click on it still runs
    nothing: the apps refuse every action that comes from text."""
    if which == "admin":
        app: ContactsApp | PortalApp = make_app(sqlite_directory, cursor_blink=False)
    else:
        app = make_portal_app(service.client(), cursor_blink=False)
    crafted = [
        f"[@click=app.screenshot('x.svg','{canary}')]AAAAAAAAAA[/]",
        "[@click=app.screenshot()]BBBBBBBBBB[/]",
        "[@click=app.quit]CCCCCCCCCC[/]",
        "[@click=app.suspend_process]DDDDDDDDDD[/]",
        "[@click=app.simulate_key('ctrl+q')]EEEEEEEEEE[/]",
        "[@click=app.push_screen('_default')]FFFFFFFFFF[/]",
    ]
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        # Markup has no words for a mouse-down action; a style does.
        down = Content("GGGGGGGGGG").stylize(Style.from_meta({"@mouse.down": "app.screenshot('y.svg')"}))
        crafted = [Content.from_markup(line) for line in crafted] + [down]
        await app.screen.mount(Static(Content("\n").join(crafted), id="crafted"))
        await settle(pilot)
        stack = list(app.screen_stack)
        for y in range(len(crafted)):
            await pilot.click("#crafted", offset=(4, y))
            await settle(pilot)
            assert list(canary.iterdir()) == []
            assert app.is_running and app.return_code is None
            assert app.screen_stack == stack


@pytest.mark.parametrize("which", ["admin", "portal"])
async def test_a_notification_is_never_markup(
    which: str, sqlite_directory: Directory, canary: Path, service: RunningService
) -> None:
    """Even when a caller leaves Textual's default (markup=True): a name that
    is broken markup would crash the app when the toast is drawn."""
    if which == "admin":
        app: ContactsApp | PortalApp = make_app(sqlite_directory, cursor_blink=False)
    else:
        app = make_portal_app(service.client(), cursor_blink=False)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        app.notify(f"Saved [@click=app.screenshot('n.svg','{canary}')]Zed[/] [/].", title="[b]Zed")
        await settle(pilot)
        toast = squeezed(seen(app)).replace("▌", "")  # a toast's lines, whatever their width
        assert squeezed(f"Saved [@click=app.screenshot('n.svg','{canary}')]Zed[/] [/].") in toast
        assert "[b]Zed" in seen(app)
        assert actions_on_screen(app) == []


async def test_scrollbars_still_answer_clicks(sqlite_directory: Directory, canary: Path) -> None:
    """What the apps still allow: the actions Textual's scrollbars draw."""
    from textual.containers import VerticalScroll

    app = make_app(sqlite_directory, cursor_blink=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        scroll = VerticalScroll(Static("\n".join(f"line {n}" for n in range(200))), id="long")
        scroll.styles.height = 10
        await app.screen.mount(scroll)
        await settle(pilot)
        region = scroll.region
        await pilot.click(offset=(region.right - 1, region.bottom - 2))  # the track below the thumb
        await settle(pilot)
        assert scroll.scroll_y > 0


# -- the convention, in the source ------------------------------------------------

TEXT_WIDGETS = frozenset({"Static", "Label"})
"""Textual widgets that read a str as markup unless made with markup=False."""


def test_every_static_and_label_shows_its_text_as_typed() -> None:
    """A Static or Label made with markup on shows what it is given first as
    text, but reads whatever ``update`` gives it later as markup: every one in
    the UI is made with markup=False, even with a fixed text."""
    import contacts_tui.ui

    root = Path(contacts_tui.ui.__file__).parent
    offenders = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        widgets = {
            node.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ClassDef) and any(_name(base) in TEXT_WIDGETS for base in node.bases)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            made = _name(node.func) in TEXT_WIDGETS | widgets
            # A subclass's own __init__ passes it on to Static.
            passed_on = _name(node.func) == "__init__" and isinstance(node.func, ast.Attribute) and widgets
            if (made or passed_on) and not any(
                keyword.arg == "markup" and isinstance(keyword.value, ast.Constant) and keyword.value.value is False
                for keyword in node.keywords
            ):
                offenders.append(f"{path.relative_to(root)}:{node.lineno}")
    assert offenders == []


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""
