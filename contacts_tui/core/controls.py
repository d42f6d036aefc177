"""What a control character is, once, for validation, for showing text, and for the relay.

Unicode's category Cc (C0 with tab, line feed and carriage return; DEL; C1,
where 0x9B is a one-byte CSI to some terminals), the line and paragraph
separators that end lines in some readers and would smuggle a header line,
and the bidirectional controls that make "Eve\u202efdp.exe" read as another
name in a mail client or the TUI.

Each use decides only what it does with one: the directory refuses it in a
name (validate.py), a terminal is shown a stand-in (display.py), the relay
refuses it in an address or blanks it in a reply it copies (relay/).
"""

from __future__ import annotations

import re

C0 = "\x00-\x1f\x7f"
"""C0 controls and DEL, as a regular expression character range."""
C1 = "\x80-\x9f"
SEPARATORS = "\u2028\u2029"
BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
ALL = C0 + C1 + SEPARATORS + BIDI
"""Every control character, as the inside of a regular expression's ``[...]``."""

_ANY = re.compile(f"[{ALL}]")


def has_control(text: str) -> bool:
    """Whether ``text`` holds any control character (see the module docstring)."""
    return _ANY.search(text) is not None


def controls_except(keep: str = "") -> re.Pattern[str]:
    """A pattern matching each control character but those in ``keep`` (``"\\t\\n"``: a view of lines)."""
    if not keep:
        return _ANY
    return re.compile(f"(?![{re.escape(keep)}])[{ALL}]")
