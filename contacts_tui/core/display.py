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

from .controls import BIDI, C1, SEPARATORS, controls_except

# C0 controls and DEL as the Unicode "control pictures" (␛ for ESC, ␍ for CR);
# the others (controls.py) by their code point, <U+009B>.
_PICTURES = {code: chr(0x2400 + code) for code in range(0x20)} | {0x7F: "\u2421"}
_ONE_LINE = controls_except()
_LINES = controls_except("\t\n")
# JSON escapes C0 controls by itself.
_NOT_ESCAPED_BY_JSON = re.compile(f"[{C1}{SEPARATORS}{BIDI}]")


def _stand_in(match: re.Match[str]) -> str:
    code = ord(match.group())
    return _PICTURES.get(code) or f"<U+{code:04X}>"


def visible(text: str) -> str:
    """``text`` for one line: every control character (line breaks and tabs too) shown, none obeyed."""
    if text.isprintable():
        return text
    return _ONE_LINE.sub(_stand_in, text)


def visible_lines(text: str) -> str:
    """``text`` for a view of several lines: line breaks and tabs kept, every other control shown.

    CRLF and a lone CR become line breaks, as a mail reader shows them.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if all(line.isprintable() for line in text.replace("\t", " ").split("\n")):
        return text
    return _LINES.sub(_stand_in, text)


def json_line(value) -> str:
    """``value`` as one line of JSON that a terminal shows as it is.

    JSON escapes C0 controls by itself; C1 and bidirectional controls are
    escaped too (``\\u009b``), which every JSON reader reads back unchanged.
    """
    text = json.dumps(value, ensure_ascii=False, default=str)
    return _NOT_ESCAPED_BY_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
