"""How records read on screen: short, the same words everywhere.

Names and addresses reach the terminal through ``visible`` (core/display.py):
a control character in them is shown as a stand-in, never obeyed. They reach
Textual as text, never as markup: a table cell is a ``Text`` (``cell``),
anything else that would read a ``str`` as markup (the command palette's hits
and their help) gets ``Content`` (``plain``), and every Static and Label is
made with ``markup=False``. A name like ``[@click=app.quit]Eve[/]`` or
``Eve [/]`` shows as typed.
"""

from __future__ import annotations

import datetime as dt

from rich.cells import cell_len
from rich.text import Text
from textual.content import Content

from contacts_tui.core.catalog import Catalog
from contacts_tui.core.directory.filters import Filter
from contacts_tui.core.display import visible
from contacts_tui.core.records import ContactRecord, CustomerRecord
from contacts_tui.core.times import local, zone_name
from contacts_tui.core.validate import DEFAULT_LANGUAGE, LANGUAGES

from .language import _, category_label, ngettext, role_name


def cell(value: str, style: str = "") -> Text:
    """A table cell that ends in an ellipsis instead of wrapping or spilling over."""
    return Text(visible(value), style=style, no_wrap=True, overflow="ellipsis", end="")


def plain(text: str) -> Content:
    """``text`` as one line of Textual content: shown as typed, never read as markup."""
    return Content(visible(text))


def contact_count(count: int, limit: int) -> str:
    return f"{count} of {limit}"


def contacts_line(count: int, limit: int) -> str:
    return ngettext("{count} of {limit} contact", "{count} of {limit} contacts", limit).format(count=count, limit=limit)


def customer_status(customer: CustomerRecord) -> str:
    return _("active") if customer.active else _("inactive")


def contact_status(contact: ContactRecord) -> str:
    return _("active") if contact.active else _("deleted")


def receives(contact: ContactRecord, catalog: Catalog, width: int = 0, *, labels: bool = False) -> str:
    """What a contact person gets: "all", the category keys in catalog order, or "nothing".

    Keys rather than labels for admins: they are short and what senders put
    in the header; ``labels`` for customers, who never see a header (in
    their language). When they do not fit in ``width``, the first and how
    many more ("billing +1"): the line under the table names every category.
    """
    if contact.receive_all:
        return _("all")
    if not contact.categories:
        return _("nothing")
    keys = list(catalog.sort_keys(contact.categories))
    if labels:
        by_key = {category.key: category for category in catalog.categories}
        keys = [category_label(by_key[key]) if key in by_key else key for key in keys]
    text = ", ".join(keys)
    if width and len(keys) > 1 and cell_len(text) > width:
        text = f"{keys[0]} +{len(keys) - 1}"
    return text


def counted(count: int, nouns: tuple[str, str]) -> str:
    """ "1 customer", "1,204 customers": ``nouns`` is (singular, plural)."""
    return f"{count:,} {nouns[0] if count == 1 else nouns[1]}"


def matches_line(matches: int, total: int, nouns: tuple[str, str], *, about: bool = False) -> str:
    """What a search or filter leaves of all the rows, in every list: "1 of 46
    customers matches", "12 of 46 customers match" (the verb agrees with the
    matches); ``about`` marks an estimate still being counted: "about 333,000 of …"."""
    if about:
        return f"about {_rounded(matches):,} of {counted(total, nouns)} match (counting…)"
    return f"{matches:,} of {counted(total, nouns)} {'matches' if matches == 1 else 'match'}"


def _rounded(number: int) -> int:
    """An estimate to two significant figures: it claims no more than it knows."""
    digits = len(str(number))
    return round(number, -(digits - 2)) if digits > 2 else number


def filter_title(title: str, flt: Filter, *, replaces: bool = False) -> str:
    """A screen's header line, naming the filter while one is on (instead of
    ``title`` with ``replaces``: at 80 columns the header has room for one)."""
    if not flt:
        return title
    return f"filter: {flt.describe()}" if replaces else f"{title} · filter: {flt.describe()}"


def note(text: str) -> str:
    """A note where a detail line shows it ("" for none)."""
    return _("Note: {text}").format(text=text) if text else ""


def customer_lines(customer: CustomerRecord, active: int, limit: int, showing_deleted: bool) -> list[str]:
    """Name; addresses, status and the admin's note; how many contact persons, and whether one more fits."""
    parts = (customer.email, customer.phone, customer_status(customer), note(customer.notes))
    contact = " · ".join(part for part in parts if part)
    count = contacts_line(active, limit)
    if active >= limit:
        count += _(" · the limit: delete one to add another")
    if showing_deleted:
        count += _(" · showing deleted ones too")
    return [visible(customer.name), visible(contact), count]


def portal_line(customer: CustomerRecord, locked_until: dt.datetime | None = None) -> str:
    """Whether the customer may sign in to the portal, and when and how it last
    did; whether it asked for too many codes; its language (fits 80 columns)."""
    if customer.last_sign_in_at is None:
        last = "never signed in"
    else:
        when = local(customer.last_sign_in_at)
        last = f"last signed in {when:%Y-%m-%d %H:%M} {zone_name(when)} ({customer.last_sign_in_channel})"
    # The language where it is not the default: the admin's own (the TUI speaks English).
    if customer.language != DEFAULT_LANGUAGE:
        last += f" · in {LANGUAGES.get(customer.language, customer.language)}"
    if customer.portal_disabled_at is not None:
        return f"Portal sign-in disabled · {last}"  # b enables it: help and the palette say so
    if locked_until is not None:
        # U lifts it: help and the palette say so.
        return f"Portal: no new code before {local(locked_until):%H:%M} (too many asked) · {last}"
    return f"Portal: {last}"


def on_off(state: bool) -> str:
    """A switch's state, as the contact line and the forms say it."""
    return _("on") if state else _("off")


SWITCHED = " ✓"
"""After the state a key just switched: the answer to 1-9 and 0 is on this line, not in a toast over it."""


def toggles_line(contact: ContactRecord, catalog: Catalog, keys: int, switched: str | None = None) -> str:
    """ "[1] Billing on  [2] Account off  [0] All off"; ``switched`` (a category key, or
    "all") gets a mark: it was saved a moment ago."""
    parts = []
    for number, category in enumerate(catalog.categories[:keys], 1):
        mark = SWITCHED if category.key == switched else ""
        parts.append(f"[{number}] {category_label(category)} {on_off(category.key in contact.categories)}{mark}")
    if len(catalog.categories) > keys:
        parts.append(_("… (e edits the rest)"))
    parts.append(f"[0] {_('All')} {on_off(contact.receive_all)}{SWITCHED if switched == 'all' else ''}")
    if contact.kept:
        # Opt-ins an earlier catalog left: they do nothing now, and come back with it.
        parts.append(_("(kept: {categories})").format(categories=", ".join(contact.kept)))
    return "  ".join(parts)


def contact_lines(
    contact: ContactRecord | None,
    catalog: Catalog,
    others: list | None,
    *,
    has_contacts: bool,
    keys: int = 9,
    switched: str | None = None,
) -> list[str]:
    """The highlighted contact person in full, what it gets, and where else it is a contact."""
    if contact is None:
        empty = "" if has_contacts else _("No contact persons yet. Press a to add the first one.")
        return [empty, "", ""]
    # Phone and role first after the name: at 80 columns they are not in the table.
    who = " · ".join(part for part in (contact.name, contact.phone, role_name(contact.role), contact.email) if part)
    if not contact.active:
        when = contact.deleted_at.strftime("%Y-%m-%d") if contact.deleted_at else ""
        return [
            visible(who),
            _("Deleted {when}: gets no mail. u restores.").format(when=when),
            visible(note(contact.notes)),
        ]
    if not others:
        where = _("Not a contact person at any other customer.")
    else:
        where = _("Also a contact person at: {customers}").format(customers=", ".join(m.customer_name for m in others))
    if contact.notes:
        where = f"{note(contact.notes)} · {where}"
    return [visible(who), visible(toggles_line(contact, catalog, keys, switched)), visible(where)]
