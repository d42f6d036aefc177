"""The languages the customer portal and its sign-in mail speak, and their words.

The words are gettext catalogs in the package,
``contacts_tui/locale/<language>/LC_MESSAGES/portal.po``, read the first
time a language is used: each is compiled in memory as msgfmt would (the
``.mo`` format) and handed to the standard library's ``gettext``. So a
wheel, an sdist and an editable install all work from the ``.po`` file
alone, with no build step and no compiled file to keep in step with it.
English is the text in the code, and needs no catalog.

Which language a portal speaks (README: "Languages"): the customer's stored
one once signed in; before that, the browser's ``Accept-Language`` (the web
server passes it on as ``CONTACTS_PORTAL_LANGUAGE``, one of ``LANGUAGES``) or the
``LANG``/``LC_*`` an SSH client sent, else English.
"""

from __future__ import annotations

import array
import ast
import functools
import gettext
import io
import re
import struct
from collections.abc import Mapping
from importlib import resources

from ..validate import DEFAULT_LANGUAGE, LANGUAGES
from ..wording import Phrase

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "from_accept_language", "from_environment", "say", "translation"]
DOMAIN = "portal"
"""The catalogs' file name: ``portal.po``."""

SESSION_ENV = "CONTACTS_PORTAL_LANGUAGE"
"""A web session's language, as its web server negotiated it with the browser."""
LOCALE_ENV = ("LC_ALL", "LC_MESSAGES", "LANG")
"""Where a terminal's language is, in POSIX's order (an SSH client sends LANG and LC_*)."""


def language_of(value: str | None) -> str | None:
    """The portal language a locale or language tag names (``nl_NL.UTF-8``,
    ``nl-BE``, ``NL``), or None for none of ``LANGUAGES`` (``C``, ``de_DE``)."""
    if not value:
        return None
    code = re.split(r"[-_.@]", value.strip().lower(), maxsplit=1)[0]
    return code if code in LANGUAGES else None


def from_environment(environ: Mapping[str, str]) -> str:
    """The language a portal process starts in: its web session's, or its
    terminal's locale, or English. Only a language of ``LANGUAGES`` is ever
    taken from the environment."""
    session = language_of(environ.get(SESSION_ENV))
    if session is not None:
        return session
    for name in LOCALE_ENV:
        value = environ.get(name, "")
        if value:
            # The first that is set decides, as for any program: LC_ALL=C means English.
            return language_of(value) or DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE


_RANGE = re.compile(r"^\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*([0-9](?:\.[0-9]{0,3})?))?\s*$")
ACCEPT_MAX = 1024
"""An Accept-Language longer than this is read no further (a browser sends tens of bytes)."""


def from_accept_language(header: str | None) -> str:
    """The language of ``LANGUAGES`` a browser prefers most (RFC 9110's
    ``Accept-Language``, with q-values), or English."""
    best, best_q = DEFAULT_LANGUAGE, 0.0
    for item in (header or "")[:ACCEPT_MAX].split(","):
        match = _RANGE.match(item)
        if match is None:
            continue
        tag, q = match.group(1), float(match.group(2) or 1)
        language = DEFAULT_LANGUAGE if tag == "*" else language_of(tag)
        # The earlier of equal preferences wins, as the browser listed them.
        if language is not None and q > best_q:
            best, best_q = language, q
    return best


@functools.cache
def translation(language: str) -> gettext.NullTranslations:
    """The words of ``language`` (English: the code's own text)."""
    if language == DEFAULT_LANGUAGE or language not in LANGUAGES:
        return gettext.NullTranslations()
    path = resources.files("contacts_tui") / "locale" / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    return gettext.GNUTranslations(io.BytesIO(compile_po(path.read_text(encoding="utf-8"))))


def say(text: str, language: str) -> str:
    """``text`` in ``language``: a phrase of the core translated; any other
    text is data (a name, an address) and stays as it is."""
    if isinstance(text, Phrase):
        return text.say(translation(language).gettext)
    return text


# -- the .po format, as GNU msgfmt reads it -------------------------------------


def read_po(text: str) -> dict[str, str]:
    """The translated messages of a ``.po`` file, keyed as a ``.mo`` file keys
    them (``context\\x04id``, plural forms joined by NUL). A fuzzy or
    untranslated entry is left out: gettext then shows the English."""
    messages: dict[str, str] = {}
    entry: dict[str, list[str]] = {}
    fuzzy = False
    key = ""

    def finish() -> None:
        nonlocal entry, fuzzy, key
        msgstr = "\0".join("".join(entry[name]) for name in sorted(entry) if name.startswith("msgstr"))
        if "msgid" in entry and msgstr.strip("\0") and not fuzzy:
            msgid = "".join(entry["msgid"])
            if "msgid_plural" in entry:
                msgid += "\0" + "".join(entry["msgid_plural"])
            if "msgctxt" in entry:
                msgid = "".join(entry["msgctxt"]) + "\x04" + msgid
            messages[msgid] = msgstr
        entry, fuzzy, key = {}, False, ""

    def translated() -> bool:
        return any(name.startswith("msgstr") for name in entry)

    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            if translated():
                finish()
            if line.startswith("#,") and "fuzzy" in line[2:].replace(",", " ").split():
                fuzzy = True
            continue
        if line.startswith('"'):
            if not key:
                raise ValueError(f"line {number}: a string that continues nothing")
            entry[key].append(_unquote(line, number))
            continue
        keyword, _, rest = line.partition(" ")
        plural_form = re.fullmatch(r"msgstr\[([0-9])\]", keyword)
        if plural_form:
            keyword = f"msgstr_{plural_form.group(1)}"
        elif keyword not in ("msgctxt", "msgid", "msgid_plural", "msgstr"):
            raise ValueError(f"line {number}: unknown keyword {keyword!r}")
        if keyword in ("msgctxt", "msgid") and translated():
            finish()
        key = keyword
        entry[key] = [_unquote(rest.strip(), number)]
    finish()
    return messages


def _unquote(text: str, number: int) -> str:
    if len(text) < 2 or not (text.startswith('"') and text.endswith('"')):
        raise ValueError(f"line {number}: expected a quoted string")
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise ValueError(f"line {number}: not a valid string") from None
    if not isinstance(value, str):
        raise ValueError(f"line {number}: not a valid string")
    return value


def compile_po(text: str) -> bytes:
    """A ``.po`` file's text as ``.mo`` bytes (the layout of Python's Tools/i18n/msgfmt.py)."""
    messages = {key.encode("utf-8"): value.encode("utf-8") for key, value in read_po(text).items()}
    keys = sorted(messages)
    ids = strs = b""
    offsets = []
    for key in keys:
        offsets.append((len(ids), len(key), len(strs), len(messages[key])))
        ids += key + b"\0"
        strs += messages[key] + b"\0"
    key_start = 7 * 4 + 16 * len(keys)
    value_start = key_start + len(ids)
    key_offsets: list[int] = []
    value_offsets: list[int] = []
    for id_offset, id_length, str_offset, str_length in offsets:
        key_offsets += [id_length, id_offset + key_start]
        value_offsets += [str_length, str_offset + value_start]
    header = struct.pack("Iiiiiii", 0x950412DE, 0, len(keys), 7 * 4, 7 * 4 + len(keys) * 8, 0, 0)
    return header + array.array("i", key_offsets + value_offsets).tobytes() + ids + strs
