"""Every word the portal and its sign-in mail say, as the gettext catalogs key them.

Read from the code, as xgettext would: the literal messages of ``_()``,
``N_()``, ``ngettext()``, ``pgettext()`` and ``Phrase()`` in the portal's
modules, the admin screens it reuses and the core, plus the words that are
data with a meaning of their own (roles, the shipped catalogs' categories,
the history's actions and fields, email-validator's common reasons, the
palette's other words for each portal action).

Run as a program to see what a catalog lacks, as ``.po`` entries to fill in::

    .venv/bin/python -m tests.portal_words nl
"""

from __future__ import annotations

import ast
import datetime as dt
import sys
from pathlib import Path
from typing import NamedTuple

from textual.actions import parse
from textual.binding import Binding

from contacts_tui.core import catalog as catalogs
from contacts_tui.core import validate
from contacts_tui.core.directory import history
from contacts_tui.core.portal.language import LANGUAGES, read_po
from contacts_tui.core.records import ContactRecord, CustomerRecord
from contacts_tui.ui.commands import WORDS_CONTEXT
from contacts_tui.ui.language import CATEGORY, ROLE
from contacts_tui.ui.portal import history_screen

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "contacts_tui"
LOCALE = PACKAGE / "locale"

PORTAL_MODULES = sorted((PACKAGE / "ui" / "portal").glob("*.py"))
"""The portal's own modules: every word in them is the portal's."""
SHARED_MODULES = [
    PACKAGE / "ui" / name
    for name in (
        "language.py",
        "format.py",
        "commands.py",
        "screens/base.py",
        "screens/confirm.py",
        "screens/contact_form.py",
        "screens/contact_list.py",
        "screens/form.py",
        "screens/help.py",
        "widgets/contact_table.py",
    )
]
"""The admin UI's modules the portal shows through (their marked words are the portal's too)."""
CORE_MODULES = sorted(path for path in (PACKAGE / "core").rglob("*.py") if "migrations" not in path.parts)
"""The core: its ``Phrase`` sentences may reach a customer, and the sign-in mail is written here."""

GETTEXT = {"_": (0,), "N_": (0,), "Phrase": (0,)}
"""Calls whose first argument is a message id."""


class Message(NamedTuple):
    context: str | None
    id: str
    plural: str | None = None

    @property
    def key(self) -> str:
        """The message as a catalog (read_po) keys it."""
        key = self.id if self.plural is None else f"{self.id}\0{self.plural}"
        return key if self.context is None else f"{self.context}\x04{key}"


def _text(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def marked(path: Path) -> set[Message]:
    """The literal messages of the gettext calls in one module."""
    found: set[Message] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        name, args = node.func.id, [_text(arg) for arg in node.args]
        if name in GETTEXT and args and args[0] is not None:
            found.add(Message(None, args[0]))
        elif name == "ngettext" and len(args) >= 2 and args[0] is not None and args[1] is not None:
            found.add(Message(None, args[0], args[1]))
        elif name == "pgettext" and len(args) >= 2 and args[0] is not None and args[1] is not None:
            found.add(Message(args[0], args[1]))
    return found


def code_words() -> set[Message]:
    words: set[Message] = set()
    for path in [*PORTAL_MODULES, *SHARED_MODULES, *CORE_MODULES]:
        words |= marked(path)
    return words


def portal_bindings() -> list:
    """The bindings the portal's screens list in their footer, help and palette
    (Textual's own among them: tab, shift+tab, ctrl+c)."""
    from contacts_tui.ui.portal.app import PortalApp
    from contacts_tui.ui.portal.contact_form import PortalContactForm
    from contacts_tui.ui.portal.contacts_screen import PortalContactsScreen
    from contacts_tui.ui.portal.history_screen import PortalHistoryScreen
    from contacts_tui.ui.portal.signin_screen import SignInScreen

    # The screens' own and inherited bindings, as help lists them; the app's own (Textual's are replaced).
    owners = [
        cls
        for screen in (PortalContactsScreen, PortalContactForm, PortalHistoryScreen, SignInScreen)
        for cls in screen.__mro__
    ] + [PortalApp]
    return [
        binding
        for owner in owners
        for binding in owner.__dict__.get("BINDINGS", ())
        if isinstance(binding, Binding) and binding.description
    ]


def data_words() -> set[Message]:
    """Words that are data with a meaning: said in the portal's language where shown."""
    words = {Message(ROLE, role) for role in validate.ROLES}
    for preset in catalogs.PRESETS:
        for category in catalogs.load_preset(preset).categories:
            words.add(Message(CATEGORY, category.label))
            if category.description:
                words.add(Message(CATEGORY, category.description))
    actions = [
        value
        for name, value in vars(history).items()
        if name.isupper() and not name.startswith("_") and isinstance(value, str) and name != "ADMIN_PREFIX"
    ]
    words |= {Message(history_screen.ACTION, action) for action in actions}
    now = dt.datetime(2026, 1, 1)
    customer = CustomerRecord(1, "", "", "", True, 0, now, now)
    contact = ContactRecord(1, 1, "", "", "", "General", False, (), None, now, now)
    fields = {*history.customer_fields(customer), *history.contact_fields(contact)}
    words |= {Message(history_screen.FIELD, field) for field in fields}
    words |= {Message(None, reason) for reason in validate.EMAIL_REASONS}
    words |= {Message(None, prefix + ": {characters}") for prefix in validate.EMAIL_REASON_PREFIXES}
    for binding in portal_bindings():
        words |= {Message(None, binding.description), Message(WORDS_CONTEXT, parse(binding.action)[1])}
        if binding.tooltip:
            words.add(Message(None, binding.tooltip))
    return words


def wanted() -> set[Message]:
    """Every message the portal's catalogs must translate."""
    return code_words() | data_words()


def po_path(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / "portal.po"


def translated(language: str) -> dict[str, str]:
    return read_po(po_path(language).read_text(encoding="utf-8"))


def missing(language: str) -> list[Message]:
    have = translated(language)
    return sorted((message for message in wanted() if message.key not in have), key=lambda m: (m.context or "", m.id))


def stale(language: str) -> list[str]:
    """Entries of the catalog that nothing says any more."""
    keys = {message.key for message in wanted()} | {""}
    return sorted(key for key in translated(language) if key not in keys)


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def stub(message: Message) -> str:
    """An entry for ``message`` with the translation left to fill in."""
    lines = [] if message.context is None else [f"msgctxt {_quoted(message.context)}"]
    lines.append(f"msgid {_quoted(message.id)}")
    if message.plural is None:
        lines.append('msgstr ""')
    else:
        lines += [f"msgid_plural {_quoted(message.plural)}", 'msgstr[0] ""', 'msgstr[1] ""']
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    languages = argv or [code for code in LANGUAGES if code != "en"]
    for language in languages:
        for message in missing(language):
            print(stub(message))
        for key in stale(language):
            print(f"# stale in {language}: {key!r}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
