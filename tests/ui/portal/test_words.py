"""Every word of the portal has its Dutch, and none is written past gettext.

The catalog is compared with the code (tests/portal_words.py reads every
marked message as xgettext would): a message without a translation, one the
code no longer says, or a translation that lost a placeholder fails here.
A sentence written in a portal module without ``_()`` fails too: it would
reach a Dutch customer in English.
"""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from contacts_tui.core.portal.language import LANGUAGES

from ...portal_words import PACKAGE, PORTAL_MODULES, SHARED_MODULES, missing, stale, stub, translated, wanted

TRANSLATED = [code for code in LANGUAGES if code != "en"]


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_word_of_the_portal_and_its_mail_is_translated(language: str) -> None:
    lacking = missing(language)
    assert not lacking, (
        f"{len(lacking)} without a translation; add to {language}/LC_MESSAGES/portal.po:\n\n"
        + "\n".join(stub(message) for message in lacking)
    )


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_catalog_holds_nothing_the_code_no_longer_says(language: str) -> None:
    assert stale(language) == []


def fields(text: str) -> list[str]:
    return sorted(name for _, name, spec, conversion in string.Formatter().parse(text) if name is not None)


@pytest.mark.parametrize("language", TRANSLATED)
def test_each_translation_keeps_the_placeholders_of_its_message(language: str) -> None:
    catalog = translated(language)
    wrong = []
    for message in wanted():
        for form in catalog.get(message.key, "").split("\0"):
            said = set(fields(form))
            # A plural's singular may leave its count out ("one contact person").
            needed = set(fields(message.id)) | set(fields(message.plural or ""))
            if said - needed or (message.plural is None and said != needed):
                wrong.append((message.id, form))
    assert wrong == []


# -- nothing past gettext ---------------------------------------------------------

GETTEXT_CALLS = {"_", "N_", "ngettext", "pgettext", "Phrase"}
TECHNICAL_KEYWORDS = {
    "id",
    "classes",
    "name",
    "group",
    "severity",
    "key",
    "cursor_type",
    "action",
    "type",
    "thread",
    "style",
}
"""Keyword arguments that name things for the program, not for people."""
TECHNICAL_CALLS = {
    # Selectors, widget ids and classes, worker groups, keys, actions.
    "query",
    "query_one",
    "add_class",
    "remove_class",
    "set_class",
    "has_class",
    "call_directory",
    "run_worker",
    "run_action",
    "add_column",
    "getattr",
    "hasattr",
    "_error",
    "set_error",
    "field",
    "switch_row",
    "watch",
    "Path",
    "startswith",
    "endswith",
    "get",
    "replace",
    "join",
    "split",
    "format",
    # Logs and the admin's console are read by admins, in English.
    "debug",
    "info",
    "warning",
    "error",
    "exception",
    "print",
    "getLogger",
}
"""Calls whose literal arguments are for the program (or an admin's log)."""
BINDING_TECHNICAL = 2
"""Binding's key and action (its first two arguments) are the program's; its description is a word."""


def _gettext_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in GETTEXT_CALLS


def _call_name(node: ast.Call) -> str:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


_WORD = re.compile(r"^[(\"']?[^\W\d_]{2,}(?:['’-][^\W\d_]+)*[.,;:!?…'’\")]*$")


def _is_prose(text: str) -> bool:
    """Words a person reads: two words or more, or one capitalised word ("Email");
    not an identifier, a selector, a key ("j k") or a header's value."""
    words = [word for word in text.split() if _WORD.match(word)]
    if len(words) >= 2:
        return not text.lstrip().startswith(("#", ".", "--"))
    return len(words) == 1 and len(text.split()) == 1 and words[0][:1].isupper() and words[0][1:].islower()


def escaped_literals(path: Path, only: set[str] | None = None) -> list[str]:
    """Prose literals of ``path`` outside gettext calls and technical places,
    as ``file:line: text``; ``only`` limits the search to these top-level names."""
    tree = ast.parse(path.read_text(), str(path))
    parents: dict[ast.AST, ast.AST] = {}
    for parent in ast.walk(tree):
        for child in ast.iter_child_nodes(parent):
            parents[child] = parent
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    # A string right after an assignment documents it (the attribute docstrings of this code base).
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list):
            for before, after in zip(body, body[1:], strict=False):
                if isinstance(before, (ast.Assign, ast.AnnAssign)) and isinstance(after, ast.Expr):
                    docstrings.add(id(after.value))
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) or id(node) in docstrings:
            continue
        if not _is_prose(node.value) or not _reached(node, parents, only):
            continue
        if not _technical(node, parents):
            found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {node.value!r}")
    return found


def _reached(node: ast.AST, parents: dict[ast.AST, ast.AST], only: set[str] | None) -> bool:
    if only is None:
        return True
    while node in parents:
        parent = parents[node]
        if isinstance(parent, ast.Module):
            names = (
                {node.name}
                if isinstance(node, (ast.ClassDef, ast.FunctionDef))
                else {t.id for t in getattr(node, "targets", []) if isinstance(t, ast.Name)}
            )
            return bool(names & only)
        node = parent
    return False


def _technical(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    child = node
    while child in parents:
        parent = parents[child]
        if _gettext_call(parent):
            return True
        if isinstance(parent, ast.keyword) and parent.arg in TECHNICAL_KEYWORDS:
            return True
        if isinstance(parent, ast.Call):
            name = _call_name(parent)
            if name in TECHNICAL_CALLS and child is not parent.func:
                return True
            if name == "Binding" and child in parent.args[:BINDING_TECHNICAL]:
                return True
        if isinstance(parent, ast.Compare) or (isinstance(parent, ast.Subscript) and child is parent.slice):
            return True  # compared with or looked up: a value of the program
        if isinstance(parent, ast.Dict) and child in parent.keys:
            return True
        if isinstance(parent, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in parent.targets):
            return True
        if isinstance(parent, (ast.FunctionDef, ast.ClassDef, ast.Module)):
            return False
        child = parent
    return False


EXEMPT: dict[str, str] = {
    # The web server's texts answer requests that no page of the portal makes
    # (another site's websocket, a plain GET of /ws, a browser past the session
    # limit, whose page then shows its own "session ended"): for whoever looks at
    # the raw HTTP, in English. Its title and page texts are translated.
    "this portal's sessions open only from its own page": "web_server.py",
    "this address is for the portal page's websocket": "web_server.py",
    "the portal is busy; try again in a few minutes": "web_server.py",
    "Serving the contacts portal on http://": "web_server.py",
    "this portal does not answer for that host name": "web_server.py",
    "this address has as many portal sessions open as it may": "web_server.py",
    # For whoever starts the web server (--public-url), and its own errors and log.
    "more than": "web_server.py",  # how a flooding browser went past its bounds, in the log
    " KiB ": "web_server.py",
    " is not an address such as https://portal.example.com": "web_access.py",
    "the warmed parent": "web_forks.py",
}


def test_no_sentence_of_the_portal_escapes_gettext() -> None:
    escaped = [
        line for path in PORTAL_MODULES for line in escaped_literals(path) if not any(text in line for text in EXEMPT)
    ]
    assert escaped == [], "wrap these in _() (or N_() where no app runs yet):\n" + "\n".join(escaped)


SHARED_NAMES = {
    "language.py": None,
    "commands.py": {"screen_commands", "other_words", "ScreenActions"},
    "format.py": {
        "contacts_line",
        "customer_status",
        "contact_status",
        "receives",
        "customer_lines",
        "on_off",
        "toggles_line",
        "contact_lines",
    },
    "screens/base.py": None,
    "screens/confirm.py": None,
    "screens/contact_form.py": None,
    "screens/contact_list.py": None,
    "screens/form.py": None,
    "screens/help.py": {"key_rows", "said_keys", "HelpScreen", "FORM_KEYS"},
    "widgets/contact_table.py": None,
}
"""What of the admin UI the portal shows: whole modules, or these names in them."""


SHARED_EXEMPT = {
    # The admin's help of the contact form: the portal's form has its own (PortalContactForm.HELP).
    "A contact person gets a copy (Cc) of the notifications they opt in to: switch on a category, or 'receive all' "
    "for every category including ones added later. The address must differ from the customer's",
}


def test_no_sentence_the_portal_shows_through_the_admin_screens_escapes_gettext() -> None:
    assert {str(path.relative_to(PACKAGE / "ui")) for path in SHARED_MODULES} == set(SHARED_NAMES)
    escaped = [
        line
        for name, only in SHARED_NAMES.items()
        for line in escaped_literals(PACKAGE / "ui" / name, only)
        if not any(text in line for text in SHARED_EXEMPT)
    ]
    assert escaped == [], "wrap these in _() (or N_() where no app runs yet):\n" + "\n".join(escaped)


def test_the_check_finds_a_sentence_written_past_gettext(tmp_path: Path) -> None:
    module = PACKAGE / "ui" / "portal" / "_escaped_example.py"
    module.write_text(
        "from textual.widgets import Static\n"
        "from ..language import _\n"
        "def compose(self):\n"
        '    """A docstring is no sentence on screen."""\n'
        '    yield Static(_("Said in the language"), id="said")\n'
        '    yield Static("Not said in the language", id="escaped")\n'
        '    self.query_one("#said .field-label")\n'
        '    self.notify(f"Saved {self.name}.")\n'
    )
    try:
        found = escaped_literals(module)
    finally:
        module.unlink()
    assert [line.split(": ", 1)[1] for line in found] == ["'Not said in the language'", "'Saved '"]
