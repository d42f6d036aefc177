"""``/api/events``: Mailpit's websocket of changes, for the inbox page and test suites.

Each event is ``{"Type": ..., "Data": ...}`` as Mailpit sends it: ``new``
with the message's summary, ``stats`` with ``{Total, Unread, Version}``,
``update`` with ``{ID, Read}``, ``delete`` with ``{ID}``, ``truncate`` when
all went, and ``prune`` when messages went some other way (retention, the
command line, another relay) and a list should be read again.

New messages are found in the database, not told by the relay that
captured them: every relay process on one database, and every change made
elsewhere, reaches every open inbox. The database is asked only while a
client listens, four times a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from aiohttp import web

from contacts_tui.core.errors import DirectoryError
from contacts_tui.core.mail import inbox

from .shapes import summary_json

logger = logging.getLogger(__name__)

POLL = 0.25  # seconds between looks at the database while someone listens
BURST = 100  # new messages told one by one; more at once are a "prune" (read the list again)


class Events:
    def __init__(self, run: Callable[..., Any], version: str) -> None:
        self._run = run  # runs a database call in the inbox's threads
        self.version = version
        self.clients: set[web.WebSocketResponse] = set()
        self._watch: asyncio.Task | None = None
        self._newest = 0
        self._count = 0
        self._stats: tuple[int, int] | None = None

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(heartbeat=30.0)
        await socket.prepare(request)
        if not self.clients:
            self._newest, self._count = await self._run(inbox.state)
        self.clients.add(socket)
        if self._watch is None or self._watch.done():
            self._watch = asyncio.get_running_loop().create_task(self._follow(), name="inbox-events")
        try:
            await socket.send_str(json.dumps({"Type": "stats", "Data": await self._stats_now()}))
            async for _ in socket:
                pass  # clients only listen; what they send is read and dropped
        finally:
            self.clients.discard(socket)
        return socket

    async def _stats_now(self) -> dict:
        totals = await self._run(inbox.totals)
        self._stats = (totals.total, totals.unread)
        return {"Total": totals.total, "Unread": totals.unread, "Version": self.version}

    async def send(self, kind: str, data: Any) -> None:
        if not self.clients:
            return
        text = json.dumps({"Type": kind, "Data": data}, ensure_ascii=False)
        for socket in list(self.clients):
            with contextlib.suppress(ConnectionError, RuntimeError):
                await socket.send_str(text)

    async def changed(self, deleted: int = 0) -> None:
        """After a change made through the API: expect it, and send the new counts."""
        self._count -= deleted
        await self._send_stats()

    async def _send_stats(self) -> None:
        before = self._stats
        stats = await self._stats_now()
        if (stats["Total"], stats["Unread"]) != before:
            await self.send("stats", stats)

    async def _follow(self) -> None:
        while self.clients:
            await asyncio.sleep(POLL)
            try:
                await self._look()
            except DirectoryError as exc:
                logger.warning("web inbox: cannot read the captured messages (%s); trying again", exc)
                await asyncio.sleep(2.0)

    async def _look(self) -> None:
        newest, count = await self._run(inbox.state)
        arrived = []
        if newest > self._newest:
            arrived = await self._run(inbox.captured_after, self._newest, BURST)
            for message in arrived:
                await self.send("new", summary_json(message))
            if len(arrived) >= BURST:
                await self.send("prune", None)  # more came at once than are worth telling one by one
            self._newest = newest
        if count < self._count + len(arrived):
            await self.send("prune", None)  # gone by retention, the command line or another relay
        self._count = count
        if arrived or count != self._stats_total():
            await self._send_stats()

    def _stats_total(self) -> int:
        return self._stats[0] if self._stats else -1


def run_in(executor: Executor) -> Callable[..., Any]:
    async def run(function: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(executor, function, *args)

    return run
