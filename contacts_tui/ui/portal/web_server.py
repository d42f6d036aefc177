"""The portal in a browser: textual-serve runs one portal process per browser
session and streams it to the page over a websocket.

What we change of textual-serve, and why: our own page (its own links a
font service, and customers' browsers must not call out to anyone), URLs
relative to the page so the same server works behind a TLS proxy, no index
of the static files and no download route (the portal has nothing to
download), a websocket only from a page of this site, the headers a sign-in
page needs on every response, only the host names the portal serves (DNS
rebinding, web_access.py), a session process that always ends
(web_session.py), and limits on what one client may hold (limits.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
import jinja2
import textual_serve
from aiohttp import WSMsgType, web
from textual_serve.server import Server, to_int

from contacts_tui.core.portal.language import from_accept_language, translation
from contacts_tui.core.wording import N_

from .limits import (
    GRACE_SECONDS,
    INPUT_BACKLOG_BYTES,
    INPUT_BYTES_PER_SECOND,
    LIFETIME_SECONDS,
    MAX_PER_CLIENT,
    MAX_SESSIONS,
    InputBudget,
    bounded_size,
)
from .web_access import ClientSlots, ServedHosts, client_of
from .web_forks import WarmParent
from .web_session import SessionProcess, close_reason, session_environment

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

TITLE = N_("Contact persons portal")
TIME_LIMIT = N_("The session reached its time limit: start a new one to go on.")
"""Why a session whose process outlived its lifetime ended, said in its browser's language."""

log = logging.getLogger("textual-serve")

FLOODED = N_("Too much input: the session ended. What you saved is kept.")
"""What the page of a session that sent more than it may says (the words of
an out-of-memory ending, core/crash.py)."""


@dataclass(frozen=True)
class WebOptions:
    """What the web server allows; the defaults are limits.py's."""

    max_sessions: int = MAX_SESSIONS
    max_per_client: int = MAX_PER_CLIENT
    lifetime_seconds: float = LIFETIME_SECONDS
    grace_seconds: float = GRACE_SECONDS
    trust_proxy: bool = False
    public_url: str | None = None
    fork_sessions: bool = True
    """Sessions forked from a warmed parent (web_forks.py); without, each a new interpreter."""


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every response: the page, its files, errors and the websocket's handshake."""
    response.headers.update(SECURITY_HEADERS)


class PortalServer(Server):
    """textual-serve's server with our page and headers (see the module's docstring)."""

    def __init__(self, argv: list[str], host: str, port: int, title: str, settings: WebOptions | None = None) -> None:
        settings = settings or WebOptions()
        super().__init__(
            shlex.join(argv),
            host=host,
            port=port,
            title=title,
            public_url=settings.public_url,
            statics_path=TEXTUAL_SERVE_STATIC,
            templates_path=PAGE,
        )
        self.argv = argv
        self.settings = settings
        self.hosts = ServedHosts(host, settings.public_url)
        self.clients = ClientSlots(settings.max_per_client)
        self.sessions = 0
        self.live: set[SessionProcess] = set()
        self.parent = WarmParent(argv) if settings.fork_sessions else None

    async def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self.check_host])
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
        where = f" as {self.settings.public_url}" if self.settings.public_url else ""
        if self.parent is not None:
            await self.parent.start(session_environment())
        self.console.print(f"Serving the contacts portal on http://{self.host}:{self.port}{where} (ctrl+c stops)")

    async def on_shutdown(self, app: web.Application) -> None:
        # Each asked to quit (a code mail on its way still goes), killed after the grace.
        await asyncio.gather(*(session.stop() for session in list(self.live)), return_exceptions=True)
        if self.parent is not None:
            await self.parent.stop()

    @web.middleware
    async def check_host(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        # Every request, not only the websocket: a rebound page may read
        # whatever a response says.
        if not self.hosts.serves(request):
            log.warning("refused a request for the host %r", request.headers.get("Host"))
            raise web.HTTPMisdirectedRequest(text="this portal does not answer for that host name")
        return await handler(request)

    @aiohttp_jinja2.template("index.html")
    async def handle_index(self, request: web.Request) -> dict[str, Any]:
        language = from_accept_language(request.headers.get("Accept-Language"))
        _ = translation(language).gettext
        return {
            "language": language,
            "title": _(self.title),
            "connecting": _("Connecting…"),
            "start": _("Start"),
            "ended": _("Session ended."),
            "restart": _("Start again"),
            "font_size": max(8, min(to_int(request.query.get("fontsize", "16"), 16), 40)),
        }

    async def handle_page_file(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(PAGE / request.match_info["name"])

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        # Another site's page could otherwise open portal sessions in its
        # visitors' browsers (cross-site websocket hijacking).
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc.lower() != request.host.lower():
            log.warning("refused a websocket from a page of %r", origin)
            raise web.HTTPForbidden(text="this portal's sessions open only from its own page")
        if not web.WebSocketResponse().can_prepare(request).ok:
            raise web.HTTPBadRequest(text="this address is for the portal page's websocket")
        # Each session is a process: whoever opens sessions by the thousand
        # must not take the machine with them, nor one client all of them.
        if self.sessions >= self.settings.max_sessions:
            log.warning("refused a session: %d are open, the most --max-sessions allows", self.sessions)
            raise web.HTTPServiceUnavailable(text="the portal is busy; try again in a few minutes")
        client = client_of(request, self.settings.trust_proxy)
        if not self.clients.take(client):
            log.warning(
                "refused a session to %s: it holds %d, the most --max-per-client allows",
                client,
                self.settings.max_per_client,
            )
            raise web.HTTPTooManyRequests(text="this address has as many portal sessions open as it may")
        self.sessions += 1
        try:
            return await self._run_session(
                request, client, from_accept_language(request.headers.get("Accept-Language"))
            )
        finally:
            # Only now: the session's process has ended.
            self.sessions -= 1
            self.clients.give_back(client)

    async def _run_session(self, request: web.Request, client: str, language: str) -> web.WebSocketResponse:
        """One browser's session, its process told ``language`` (its environment reaches a forked one too)."""
        websocket = web.WebSocketResponse(heartbeat=15)
        width, height = bounded_size(request.query.get("width"), request.query.get("height"))
        await websocket.prepare(request)
        if self.parent is not None and not self.parent.running:
            # It ended (killed by the system, say): a new one, warmed while this session waits.
            log.warning("the warmed parent of sessions had ended: starting another")
            await self.parent.stop()
            await self.parent.start(session_environment())
        session = SessionProcess(
            self.argv,
            grace=self.settings.grace_seconds,
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            close=websocket.close,
            download_manager=self.download_manager,
            parent=self.parent,
            language=language,
        )
        self.live.add(session)
        messages: asyncio.Task | None = None
        # The app ends itself at its lifetime; this is for a process that
        # cannot (stuck, or its browser not reading).
        limit = self.settings.lifetime_seconds + self.settings.grace_seconds
        try:
            await session.start(width, height)
            messages = asyncio.create_task(self._relay_input(websocket, session, client))
            expiry = asyncio.get_running_loop().call_later(limit, messages.cancel)
            try:
                await messages
            finally:
                expiry.cancel()
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if messages is None or not messages.cancelled() or (current is not None and current.cancelling()):
                raise
            log.warning("ending session process %s: its lifetime is over", session.pid)
            session.ending = translation(language).gettext(TIME_LIMIT)
        except ConnectionError:
            pass  # the browser went away: the session ends below
        except Exception:
            log.exception("a session failed")
        finally:
            await session.stop()
            self.live.discard(session)
            if session.out_of_memory:
                # The details are in the session's own log under the reference.
                log.warning(
                    "session process %s of %s reached its memory ceiling (--session-memory) and ended",
                    session.pid,
                    client,
                )
            if not websocket.closed:
                try:
                    async with asyncio.timeout(self.settings.grace_seconds):
                        await websocket.close(message=close_reason(session.ending))
                except (TimeoutError, ConnectionError):
                    pass
        return websocket

    async def _relay_input(self, websocket: web.WebSocketResponse, app_service: SessionProcess, client: str) -> None:
        """What the page sends: keys, sizes, focus, pings. Anything else is ignored,
        as is a message that is not what its kind says (textual-serve asserted).
        A client that sends more than a session takes ends its session."""
        loop = asyncio.get_running_loop()
        budget = InputBudget(loop.time())
        async for message in websocket:
            size = len(message.data) if isinstance(message.data, (str, bytes)) else 0
            if not budget.take(size, loop.time()):
                why = f"more than {INPUT_BYTES_PER_SECOND // 1024} KiB a second"
            elif app_service.backlog() > INPUT_BACKLOG_BYTES:
                why = f"more than its process takes ({INPUT_BACKLOG_BYTES // 1024} KiB waiting)"
            else:
                why = ""
            if why:
                log.warning(
                    "ending session process %s of %s: it sent more input than a session takes, %s",
                    app_service.pid,
                    client,
                    why,
                )
                app_service.ending = translation(app_service.language).gettext(FLOODED)
                # Now, not after a quit queued behind the flood it has yet to read.
                app_service.kill()
                return
            if message.type != WSMsgType.TEXT:
                continue
            try:
                envelope = json.loads(message.data)
            except ValueError:
                continue
            if not isinstance(envelope, list) or not envelope:
                continue
            kind, data = envelope[0], envelope[1] if len(envelope) > 1 else None
            if kind == "stdin" and isinstance(data, str):
                await app_service.send_bytes(data.encode("utf-8", "replace"))
            elif kind == "resize" and isinstance(data, dict):
                await app_service.set_terminal_size(*bounded_size(data.get("width"), data.get("height")))
            elif kind == "ping" and isinstance(data, (str, int, float)):
                await websocket.send_json(["pong", data])
            elif kind == "blur":
                await app_service.blur()
            elif kind == "focus":
                await app_service.focus()


def serve(argv: list[str], host: str, port: int, settings: WebOptions | None = None, title: str = TITLE) -> None:
    """Serve ``argv`` (the portal, as a web session) until ctrl+c or SIGTERM."""
    PortalServer(argv, host, port, title, settings).serve()
