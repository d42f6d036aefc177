"""The inbox's HTTP server: pages, API and events on one listener, in a thread of its own.

Every response says what the page may do: a Content-Security-Policy with
no inline script and nothing from other hosts, no framing (but for a
message's HTML, framed by the inbox itself), no referrer, no caching, no
sniffing. Requests must name this inbox in their Host (DNS rebinding);
with ``--http-auth`` every one needs a user; a page of another site can
neither change nor read anything (no CORS, and Origin checked on changes
and on the websocket).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from contacts_tui.core.errors import DirectoryError

from .access import REALM, BasicAuth, host_allowed, host_names
from .api import Api, version
from .events import Events, run_in

logger = logging.getLogger(__name__)

PAGE = Path(__file__).resolve().parent / "web"
FILES = {"inbox.js": "application/javascript", "inbox.css": "text/css", "favicon.svg": "image/svg+xml"}

CONTENT_SECURITY_POLICY = "; ".join(
    [  # noqa: FLY002 - one directive a line
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        # The events websocket and the API, on this host only.
        "connect-src 'self'",
        # A message's HTML is shown from this host only, and a link in it cannot load another site in the frame.
        "frame-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


@dataclass(frozen=True)
class InboxOptions:
    host: str
    port: int
    auth_file: Path | None = None
    names: tuple[str, ...] = ()
    database: str = ""
    """Which database the inbox reads, as ``/api/v1/info`` names it (never with a password)."""


def make_app(options: InboxOptions, executor: ThreadPoolExecutor) -> web.Application:
    run = run_in(executor)
    events = Events(run, version())
    api = Api(run, events, options.database)
    auth = BasicAuth(options.auth_file) if options.auth_file else None
    names = host_names(options.host, options.names)

    @web.middleware
    async def guard(request: web.Request, handler):
        if not host_allowed(request.headers.get("Host"), names):
            # A name this inbox was not started with: another site pointing its name here.
            return web.Response(
                status=421, text="this inbox does not answer to that name; start it with --http-name NAME\n"
            )
        if auth is not None and not await auth.allows(request.headers.get("Authorization")):
            return web.Response(
                status=401, text="Unauthorized.\n", headers={"WWW-Authenticate": f'Basic realm="{REALM}"'}
            )
        origin = request.headers.get("Origin")
        changing = request.method not in ("GET", "HEAD") or request.headers.get("Upgrade", "").lower() == "websocket"
        if changing and origin is not None and urlsplit(origin).netloc.lower() != request.host.lower():
            return web.Response(status=403, text="not from a page of another site\n")
        try:
            return await handler(request)
        except DirectoryError as exc:
            return web.Response(status=503, text=f"the captured messages cannot be read now: {exc}\n")

    async def headers(request: web.Request, response: web.StreamResponse) -> None:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)

    async def index(request: web.Request) -> web.FileResponse:
        return web.FileResponse(PAGE / "index.html", headers={"Content-Type": "text/html; charset=utf-8"})

    async def page_file(request: web.Request) -> web.FileResponse:
        name = request.match_info["name"]
        if name not in FILES:
            raise web.HTTPNotFound()
        return web.FileResponse(PAGE / name, headers={"Content-Type": FILES[name]})

    app = web.Application(middlewares=[guard], client_max_size=5 * 1024 * 1024)
    app.on_response_prepare.append(headers)
    app.add_routes([web.get("/", index), web.get("/search", index), *api.routes()])
    app.add_routes([web.get("/{name}", page_file)])

    async def close_events(app: web.Application) -> None:
        for client in list(events.clients):
            await client.close(code=1001, message=b"the relay is stopping")

    async def close_auth(app: web.Application) -> None:
        if auth is not None:
            auth.close()

    app.on_shutdown.append(close_events)
    app.on_cleanup.append(close_auth)
    return app


class InboxListenError(OSError):
    """The inbox cannot listen where it was told to; the text says where and why."""


class InboxServer:
    """The inbox on ``options.host:port`` (or on ``sock``, shared by the relay's workers),
    served by a thread with its own event loop."""

    def __init__(self, options: InboxOptions, sock: socket.socket | None = None) -> None:
        self.options = options
        self._sock = sock
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="inbox-db")
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="relay-inbox", daemon=True)
        self.port = options.port

    def start(self, timeout: float = 10.0) -> InboxServer:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the web inbox did not start in time")
        if isinstance(self._error, OSError) and not isinstance(self._error, InboxListenError):
            where = f"{self.options.host}:{self.options.port}"
            raise InboxListenError(f"cannot serve --http on {where}: {self._error.strerror or self._error}")
        if self._error is not None:
            raise self._error
        return self

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._start())
        except BaseException as exc:  # told to start()'s caller
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup() if self._runner else asyncio.sleep(0))
        self._loop.close()

    async def _start(self) -> None:
        app = make_app(self.options, self._executor)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await self._runner.setup()
        if self._sock is not None:
            site: web.BaseSite = web.SockSite(self._runner, self._sock)
        else:
            site = web.TCPSite(self._runner, self.options.host, self.options.port, reuse_address=True)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]

    def stop(self, timeout: float = 10.0) -> None:
        if not self._thread.is_alive():
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        self._executor.shutdown(wait=False, cancel_futures=True)
