"""The portal in a browser: textual-serve runs one portal process per browser
session and streams it to the page over a websocket.

What we change of textual-serve, and why: our own page (its own links a
font service, and customers' browsers must not call out to anyone), URLs
relative to the page so the same server works behind a TLS proxy, no index
of the static files and no download route (the portal has nothing to
download), a websocket only from a page of this site, and the headers a
sign-in page needs on every response.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
import jinja2
import textual_serve
from aiohttp import web
from textual_serve.server import Server, to_int

PAGE = Path(__file__).resolve().parent / "web"
TEXTUAL_SERVE_STATIC = Path(textual_serve.__file__).resolve().parent / "static"

CONTENT_SECURITY_POLICY = "; ".join(
    [  # noqa: FLY002 - one line per directive, with its reason
        "default-src 'none'",
        "script-src 'self'",
        # The terminal (xterm.js inside textual.js) sizes and colours its cells
        # with <style> elements it makes at run time.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        # The session's websocket, to this same host (ws: or wss:).
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    # A signed-in session's screens are never kept by the browser or a proxy.
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}

MAX_SESSIONS = 50
"""Browser sessions open at once, by default: each is a portal process."""

log = logging.getLogger("textual-serve")


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every response: the page, its files, errors and the websocket's handshake."""
    response.headers.update(SECURITY_HEADERS)


class PortalServer(Server):
    """textual-serve's server with our page and headers (see the module's docstring)."""

    def __init__(self, command: str, host: str, port: int, title: str, max_sessions: int = MAX_SESSIONS) -> None:
        super().__init__(
            command, host=host, port=port, title=title, statics_path=TEXTUAL_SERVE_STATIC, templates_path=PAGE
        )
        self.max_sessions = max_sessions
        self.sessions = 0

    async def _make_app(self) -> web.Application:
        app = web.Application()
        aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(PAGE), autoescape=True)
        app.add_routes(
            [
                web.get("/", self.handle_index, name="index"),
                web.get("/ws", self.handle_websocket, name="websocket"),
                web.static("/static", TEXTUAL_SERVE_STATIC, name="static"),
                web.get("/portal/{name:portal\\.(js|css)}", self.handle_page_file, name="portal"),
            ]
        )
        app.on_response_prepare.append(add_security_headers)
        app.on_startup.append(self.on_startup)
        app.on_shutdown.append(self.on_shutdown)
        return app

    async def on_startup(self, app: web.Application) -> None:
        self.console.print(f"Serving the contacts portal on http://{self.host}:{self.port} (ctrl+c stops)")

    @aiohttp_jinja2.template("index.html")
    async def handle_index(self, request: web.Request) -> dict[str, Any]:
        return {"title": self.title, "font_size": max(8, min(to_int(request.query.get("fontsize", "16"), 16), 40))}

    async def handle_page_file(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(PAGE / request.match_info["name"])

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        # Another site's page could otherwise open portal sessions in its
        # visitors' browsers (cross-site websocket hijacking).
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc.lower() != request.host.lower():
            log.warning("refused a websocket from a page of %s", origin)
            raise web.HTTPForbidden(text="this portal's sessions open only from its own page")
        if not web.WebSocketResponse().can_prepare(request).ok:
            raise web.HTTPBadRequest(text="this address is for the portal page's websocket")
        # Each session is a process: whoever opens sessions by the thousand
        # must not take the machine with them.
        if self.sessions >= self.max_sessions:
            log.warning("refused a session: %d are open, the most --max-sessions allows", self.sessions)
            raise web.HTTPServiceUnavailable(text="the portal is busy; try again in a few minutes")
        self.sessions += 1
        try:
            return await super().handle_websocket(request)
        finally:
            self.sessions -= 1


def serve(
    command: str, host: str, port: int, max_sessions: int = MAX_SESSIONS, title: str = "Contact persons portal"
) -> None:
    """Serve ``command`` (the portal, as a web session) until ctrl+c or SIGTERM."""
    PortalServer(command, host, port, title, max_sessions).serve()
