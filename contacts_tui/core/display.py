"""Text from mail or from the directory, made safe to show on a terminal.

A subject is whatever its sender wrote (an RFC 2047 encoded-word decodes to
anything), and a terminal obeys control characters: ``ESC [ 2 J`` clears the
screen, ``ESC ] 8`` hides a link, ``ESC ] 52`` writes the clipboard. Every
text that came from outside is shown through ``visible`` (one line) or
``visible_lines`` (a view of many lines): control characters are replaced by
a visible stand-in, never passed on.
"""

from __future__ import annotations

import json
import re

# C0 controls and DEL as the Unicode "control pictures" (␛ for ESC, ␍ for CR).
_PICTURES = {code: chr(0x2400 + code) for code in range(0x20)} | {0x7F: "\u2421"}
# C1 controls (0x80-0x9F: 0x9B is a one-byte CSI to some terminals) and the
# bidirectional controls that can make a text read as another.
_NAMED = re.compile("[\u0080-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_C0 = re.compile("[\x00-\x1f\x7f]")
_C0_BUT_LINES = re.compile("[\x00-\x08\x0b-\x1f\x7f]")


def visible(text: str) -> str:
    """``text`` for one line: every control character (line breaks and tabs too) shown, none obeyed."""
    if text.isprintable():
        return text
    text = _C0.sub(lambda m: _PICTURES[ord(m.group())], text)
    return _NAMED.sub(lambda m: f"<U+{ord(m.group()):04X}>", text)


def visible_lines(text: str) -> str:
    """``text`` for a view of several lines: line breaks and tabs kept, every other control shown.

    CRLF and a lone CR become line breaks, as a mail reader shows them.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if all(line.isprintable() for line in text.replace("\t", " ").split("\n")):
        return text
    text = _C0_BUT_LINES.sub(lambda m: _PICTURES[ord(m.group())], text)
    return _NAMED.sub(lambda m: f"<U+{ord(m.group()):04X}>", text)


def json_line(value) -> str:
    """``value`` as one line of JSON that a terminal shows as it is.

    JSON escapes C0 controls by itself; C1 and bidirectional controls are
    escaped too (``\\u009b``), which every JSON reader reads back unchanged.
    """
    text = json.dumps(value, ensure_ascii=False, default=str)
    return _NAMED.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
