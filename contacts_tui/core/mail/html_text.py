"""An HTML body as readable text, as a mail client's "show as plain text" does.

Testers read a captured HTML notification in a terminal: paragraphs and
line breaks become line breaks, list items bullets, a link its text with
the address after it, tables one row per line; scripts, styles and the
head are left out, entities decoded. No network, no images, nothing run:
only the standard library's parser. What comes out is still text from mail,
so it goes through ``display.visible_lines`` before a terminal sees it.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

BLOCKS = frozenset(
    {
        "p",
        "div",
        "section",
        "article",
        "header",
        "footer",
        "main",
        "aside",
        "nav",
        "table",
        "tr",
        "ul",
        "ol",
        "blockquote",
        "pre",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "address",
        "form",
        "fieldset",
        "dl",
        "dt",
        "dd",
    }
)
HIDDEN = frozenset({"script", "style", "head", "title", "template", "noscript"})


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0
        self.pre = 0
        self.links: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in HIDDEN:
            self.hidden += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n• ")
        elif tag in ("td", "th"):
            self.parts.append(" | ")
        elif tag == "a":
            self.links.append(dict(attrs).get("href"))
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.parts.append(f"[{alt}]")
        if tag in BLOCKS:
            self.parts.append("\n\n" if tag in ("p", "h1", "h2", "h3", "table", "blockquote") else "\n")
            if tag == "hr":
                self.parts.append("――――――――\n")
            if tag == "pre":
                self.pre += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag == "a" and self.links:
            href = self.links.pop()
            if href and not href.startswith(("#", "mailto:")):
                self.parts.append(f" <{href}>")
        if tag in BLOCKS:
            if tag not in ("tr", "dt"):  # rows of a table, a term and its meaning: one line each, no gap
                self.parts.append("\n")
            if tag == "pre":
                self.pre = max(0, self.pre - 1)

    def handle_data(self, data: str) -> None:
        if self.hidden:
            return
        self.parts.append(data if self.pre else re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    """Readable text of an HTML document or fragment."""
    reader = _Reader()
    reader.feed(html)
    reader.close()
    text = "".join(reader.parts)
    lines = [
        line.strip(" ").removeprefix("| ").strip() if "|" in line else line.strip(" ") for line in text.split("\n")
    ]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
