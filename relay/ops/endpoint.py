"""The operator's HTTP endpoint (``serve --metrics HOST:PORT``): /metrics and /healthz.

/metrics is Prometheus' text format; /healthz answers 200 "ok" while the
relay takes mail, else 503 with one line per reason, for load balancers and
orchestrators. While it takes mail but delivery lags (the queue's oldest
message too old, the last attempts all failed) it answers 200 with lines
that begin "degraded:": taking such a relay out of a load balancer would
refuse the mail it keeps safe. A thread of its own serves both, so a slow scrape or check
never holds up mail.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

logger = logging.getLogger(__name__)

DEGRADED = "degraded:"


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        # socketserver prints the traceback to stderr itself; the log keeps JSON lines whole.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a scraper that hung up before the answer: its business
        logger.exception("the metrics endpoint failed answering %s", client_address[0])


class Endpoint:
    def __init__(self, host: str, port: int, registry, health: Callable[[], list[str]]) -> None:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._answer(200, generate_latest(registry), CONTENT_TYPE_LATEST)
                elif path == "/healthz":
                    problems = health()
                    text = "\n".join(problems) if problems else "ok"
                    # Degraded is still 200: the relay takes mail and keeps it safe (README, "Health").
                    down = any(not line.startswith(DEGRADED) for line in problems)
                    self._answer(503 if down else 200, (text + "\n").encode(), "text/plain; charset=utf-8")
                else:
                    self._answer(404, b"/metrics or /healthz\n", "text/plain; charset=utf-8")

            def _answer(self, code: int, body: bytes, kind: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args) -> None:  # noqa: A002 (http.server's name)
                pass  # scrapes every few seconds are not news

        self.host = host
        server_class = type("Server6", (_Server,), {"address_family": socket.AF_INET6}) if ":" in host else _Server
        self._server = server_class((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="relay-endpoint", daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> Endpoint:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
