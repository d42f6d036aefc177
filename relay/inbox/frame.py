"""A captured message's HTML, made safe to show inside the inbox.

The HTML is served on its own URL into an ``iframe`` with ``sandbox`` (no
scripts, no forms, no popups, an origin of its own) and with a
Content-Security-Policy that says the same (``sandbox``) and lets it load
nothing from elsewhere: no script ever runs in the inbox's origin, and a
message that tries to call home loads nothing. Images attached to the
message (``cid:``) point at the message's parts. When the tester allows
remote content, images, styles and fonts from anywhere load and links open
in a new tab; until then a click on a link goes nowhere.

The markup itself is left as it came but for a few tags: links get
``target="_blank"`` (the inbox's ``frame-src`` keeps a link from loading
in the frame whatever a message does), and ``<base>`` and
``<meta http-equiv="refresh">`` are dropped.
"""

from __future__ import annotations

import functools
import re
from html import escape
from html.parser import HTMLParser

from contacts_tui.core.mail.parts import Body

BLOCKED_CSP = "; ".join(
    [  # noqa: FLY002 - one directive a line
        "sandbox",
        "default-src 'none'",
        "style-src 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src data:",
        "form-action 'none'",
        "base-uri 'none'",
        "frame-ancestors 'self'",
    ]
)
REMOTE_CSP = "; ".join(
    [  # noqa: FLY002
        "sandbox allow-popups allow-popups-to-escape-sandbox",
        "default-src 'none'",
        "style-src 'unsafe-inline' http: https:",
        "img-src 'self' data: http: https:",
        "font-src data: http: https:",
        "form-action 'none'",
        "base-uri 'none'",
        "frame-ancestors 'self'",
    ]
)


def frame_policy(remote: bool) -> str:
    return REMOTE_CSP if remote else BLOCKED_CSP


class _Rewriter(HTMLParser):
    """Passes the markup through as written, but for the tags this module changes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.out: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag(tag, attrs, self.get_starttag_text() or "")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag(tag, attrs, self.get_starttag_text() or "")

    def _tag(self, tag: str, attrs: list[tuple[str, str | None]], text: str) -> None:
        if tag == "base":
            return
        if tag == "meta" and any(n == "http-equiv" and (v or "").strip().lower() == "refresh" for n, v in attrs):
            return
        if tag in ("a", "area"):
            kept = [(n, v) for n, v in attrs if n not in ("target", "rel")]
            kept += [("target", "_blank"), ("rel", "noopener noreferrer")]
            written = "".join(f' {n}="{escape(v, quote=True)}"' if v is not None else f" {n}" for n, v in kept)
            self.out.append(f"<{tag}{written}>")
            return
        self.out.append(text)

    def handle_endtag(self, tag: str) -> None:
        self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        self.out.append(data)

    def handle_entityref(self, name: str) -> None:
        self.out.append(f"&{name};")

    def handle_charref(self, name: str) -> None:
        self.out.append(f"&#{name};")

    def handle_comment(self, data: str) -> None:
        self.out.append(f"<!--{data}-->")

    def handle_decl(self, decl: str) -> None:
        self.out.append(f"<!{decl}>")

    def handle_pi(self, data: str) -> None:
        self.out.append(f"<?{data}>")

    def unknown_decl(self, data: str) -> None:
        self.out.append(f"<![{data}]>")


def _link_parts(html: str, body: Body, message_id: int) -> str:
    # As Mailpit does: cid:ID in an attribute points at that part of the message.
    for part in (*body.inline, *body.attachments):
        if part.content_id:
            pattern = re.compile(r"(=[\"']?)cid:" + re.escape(part.content_id) + r"([\"'\s/>;])", re.IGNORECASE)
            url = f"/api/v1/message/{message_id}/part/{part.part_id}"
            html = pattern.sub(functools.partial(_to_part, url), html)
    return html


def framed_html(body: Body, message_id: int) -> str:
    """The message's HTML as the inbox's frame shows it (see the module's docstring)."""
    rewriter = _Rewriter()
    rewriter.feed(_link_parts(body.html, body, message_id))
    rewriter.close()
    return "".join(rewriter.out)


def _to_part(url: str, found: re.Match[str]) -> str:
    return found.group(1) + url + found.group(2)
